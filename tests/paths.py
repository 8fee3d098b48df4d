"""Where the repository and the shared CRM export are, for tests at any depth."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CRM_EXPORT = REPO_ROOT.parent / "shared" / "data" / "crm-sales-opportunities"
"""The public CRM export beside the checkout (``../shared/data/``)."""
