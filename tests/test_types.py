"""The whole tree type-checks: mypy, strict as ``pyproject.toml`` configures it, over the
packages and the scripts. A script calling what the code no longer has fails here, not in
a reader's hands (``scripts/demo_spread.py`` called a ``Replay`` method gone for weeks)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.paths import REPO_ROOT


def test_mypy_finds_no_error_in_the_packages_or_the_scripts() -> None:
    checked = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert "scripts" in checked
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"no issues found in (\d+) source files", done.stdout)
    assert found, done.stdout
    every = sum(1 for folder in checked for _ in (REPO_ROOT / folder).rglob("*.py"))
    assert int(found[1]) == every, "mypy checked fewer files than the configured folders hold"
