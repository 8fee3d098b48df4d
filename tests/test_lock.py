"""The lock files: every dependency pinned with hashes, and both installs use them, so an
image or a venv built twice holds the same bytes (scripts/lock.sh writes them)."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.paths import REPO_ROOT


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes), from a pip-compile file."""
    text = (REPO_ROOT / lock).read_text()
    found: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        head = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if head:
            found[canonicalize_name(head[1])] = (head[2], block.count("--hash=sha256:"))
    return found


def declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(line) for line in listed]


@pytest.mark.parametrize(("lock", "extra"), [("requirements.lock", None),
                                             ("requirements-dev.lock", "dev")])  # fmt: skip
def test_every_dependency_is_pinned_with_hashes_within_its_range(
    lock: str, extra: str | None
) -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, naming it."""
    pinned = pins(lock)
    assert pinned, f"{lock} pins nothing"
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {lock}: run make lock"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
    assert all(hashes > 0 for _, hashes in pinned.values()), "a pin without a hash"
    # A machine's own index or wheel folder must not leak into the lock (an image has neither).
    lines = (REPO_ROOT / lock).read_text().splitlines()
    assert not [line for line in lines if line.startswith(("--find-links", "--index-url"))]


def test_the_image_and_make_install_install_from_the_lock() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    assert "requirements.lock" not in (REPO_ROOT / ".dockerignore").read_text().split()
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r requirements-dev.lock" in makefile
    assert "pip install -q --no-deps -e '.[dev]'" in makefile
    assert re.search(r"^lock:\n\tscripts/lock\.sh", makefile, re.MULTILINE)
