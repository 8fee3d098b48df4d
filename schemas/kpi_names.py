"""The names a scorecard is written in: its perspectives, the KPI catalogue and which way
a KPI is better."""

from __future__ import annotations

from enum import StrEnum


class Perspective(StrEnum):
    FINANCIAL = "financial"
    CUSTOMER = "customer"
    INTERNAL_PROCESS = "internal_process"
    LEARNING_GROWTH = "learning_growth"


class KpiName(StrEnum):
    """The KPI catalogue; formulas live in ``scorers.kpis``, one per name."""

    REVENUE_WON = "revenue_won"
    DEALS_WON = "deals_won"
    AVG_DEAL_SIZE = "avg_deal_size"
    QUOTA_ATTAINMENT = "quota_attainment"
    WIN_RATE = "win_rate"
    SALES_CYCLE_DAYS = "sales_cycle_days"
    CALLS_LOGGED = "calls_logged"
    CALL_TO_MEETING = "call_to_meeting"
    LEAD_CONVERSION = "lead_conversion"
    NPS = "nps"
    RETENTION_RATE = "retention_rate"
    COURSES_COMPLETED = "courses_completed"
    TRAINING_HOURS = "training_hours"
    OPEN_PIPELINE = "open_pipeline"
    PIPELINE_COVERAGE = "pipeline_coverage"
    FORECAST_ATTAINMENT = "forecast_attainment"


POINT_IN_TIME_KPIS: frozenset[KpiName] = frozenset(
    {KpiName.OPEN_PIPELINE, KpiName.PIPELINE_COVERAGE, KpiName.FORECAST_ATTAINMENT}
)
"""KPIs of the deals open on a window's last day, not of activity over its days: no day has
"samples" of them (inactivity rules) and no share of them is due by a day (pace rules)."""


class Direction(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"
