"""The README's "Connecting your CRM", run as a new user would: its curl moves a rep's
card, and its `mapping` commands print what they say."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.events import RepUpserted, event_to_json
from schemas.settings import Settings
from tests.integration.ingest_harness import HUBSPOT_SECRET, ingest, topic_ends
from tests.integration.worker_harness import SCORESTREAM, System, produce_lines
from tests.paths import REPO_ROOT

pytestmark = [pytest.mark.kafka]

README = (REPO_ROOT / "README.md").read_text()


def readme_block(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", README, re.S)
    assert found, f"README has no block marked {marker}"
    return found[1]


def test_the_readme_hubspot_curl_is_accepted(settings: Settings, tmp_path: Path) -> None:
    System.fresh(settings, tmp_path)
    first = RepUpserted(
        event_id="dir-1",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        rep_id="rep-first",
        team_id="team-1",
        name="First",
        crm_owner_ids={"hubspot": "1001"},
    )
    produce_lines(settings.kafka_bootstrap, [event_to_json(first)])
    before = topic_ends(settings.kafka_bootstrap, ("crm.deals",))["crm.deals"]
    with ingest(settings.kafka_bootstrap, tmp_path) as gateway:
        env = {**os.environ, "INGEST": gateway.url, "SECRET": HUBSPOT_SECRET}
        done = subprocess.run(
            ["bash", "-c", readme_block("try-hubspot")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {"accepted": 1, "rejected": []}
    assert topic_ends(settings.kafka_bootstrap, ("crm.deals",))["crm.deals"] == before + 1


def test_the_readme_mapping_commands() -> None:
    check = subprocess.run(
        [SCORESTREAM, "mapping", "check", "hubspot"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert check.returncode == 0 and "valid" in check.stdout
    tried = subprocess.run(
        [
            SCORESTREAM,
            "mapping",
            "try",
            "hubspot",
            "docs/examples/hooks/hubspot-deal-won.json",
            "--owner",
            "4711=rep-ada",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert tried.returncode == 0, tried.stderr
    [event] = orjson.loads(tried.stdout)["events"]
    assert (event["event_type"], event["rep_id"], event["amount"]) == (
        "deal_won",
        "rep-ada",
        12000.0,
    )
    unknown = subprocess.run(
        [
            SCORESTREAM,
            "mapping",
            "try",
            "salesforce",
            "docs/examples/hooks/salesforce-opportunity.xml",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert unknown.returncode == 0
    assert "refused (unknown_owner)" in unknown.stdout and "0 event(s), 2 refused" in unknown.stdout
    bad = subprocess.run(
        [SCORESTREAM, "mapping", "try", "hubspot", "README.md"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert bad.returncode == 2 and "is not JSON" in bad.stderr
