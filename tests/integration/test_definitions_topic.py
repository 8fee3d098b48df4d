"""Scorecard versions on the real Kafka: publish, read back, refuse, history, show, and
publishers racing each other; `scorecard diff --live` against the version in force."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import ScorecardDefinition, load_definition, parse_definition
from schemas.settings import Settings
from streams.admin.definitions_topic import publish, read_versions
from streams.runtime.exceptions import VersionRefused
from tests.integration.worker_harness import SCORESTREAM, System
from tests.scorers.test_whatif import NEW, OLD, small_log

pytestmark = pytest.mark.kafka

DEFAULT = load_definition()


def variant(**changes: Any) -> ScorecardDefinition:
    return parse_definition({**DEFAULT.model_dump(mode="json"), **changes})


def run(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCORESTREAM, *args], env=system.env(), capture_output=True, text=True, timeout=120
    )


def write(path: Path, definition: ScorecardDefinition) -> Path:
    path.write_text(yaml.safe_dump(definition.model_dump(mode="json")))
    return path


def test_publish_reads_back_refuses_and_lists_every_version(
    settings: Settings, tmp_path: Path
) -> None:
    """Version 1 and 2 are kept with their note, author and digest; the same content again
    writes nothing; a window longer than the kept history is refused with the reason naming
    the longest exact window, by the function and by the command, and nothing is written."""
    system = System.fresh(settings, tmp_path)
    assert read_versions(settings).versions.published == []
    first = publish(settings, DEFAULT, note="the shipped one", published_by="ops").version
    customers = variant(perspectives={**DEFAULT.model_dump(mode="json")["perspectives"],
                                      "customer": {"weight": 0.5}})  # fmt: skip
    second = publish(settings, customers, note="customers first", published_by="maria").version
    assert first is not None and second is not None
    assert (first.version, second.version) == (1, 2)
    again = publish(settings, customers, note="again", published_by="maria")
    assert again.version is None
    read = read_versions(settings)
    assert read.versions.published == [first, second] and read.versions.in_force == second
    assert read.end >= 2  # where a follower goes on (transaction markers take offsets too)

    longer = variant(windows=["7d", "30d", "180d"])
    with pytest.raises(VersionRefused, match=r"the longest window they can score exactly is 92d"):
        publish(settings, longer, note="", published_by="ops")
    done = run(system, "scorecard", "publish", str(write(tmp_path / "long.yaml", longer)))
    assert done.returncode == 1
    assert "long.yaml refused: needs 187 days of history (windows.180d reaches back 180" in (
        done.stderr
    )
    assert len(read_versions(settings).versions.published) == 2

    history = orjson.loads(run(system, "scorecard", "history", "--json").stdout)
    rows = [(v["version"], v["status"], v["published_by"], v["note"]) for v in history["versions"]]
    assert rows == [(1, "superseded", "ops", "the shipped one"),
                    (2, "in force", "maria", "customers first")]  # fmt: skip
    assert [c["path"] for c in history["versions"][1]["changes"]] == [
        "perspectives.customer.weight"
    ]
    shown = orjson.loads(run(system, "scorecard", "show", "--version", "1", "--json").stdout)
    assert (shown["version"], shown["digest"]) == (1, first.digest)
    assert parse_definition(shown["definition"]) == DEFAULT
    published = orjson.loads(
        run(system, "scorecard", "publish", str(write(tmp_path / "d.yaml", DEFAULT)),
            "--note", "back", "--by", "lee", "--json").stdout
    )  # fmt: skip
    assert (published["status"], published["version"], published["replaces"]) == (
        "published", 3, 2
    )  # fmt: skip


def test_publishers_at_the_same_time_never_write_the_same_version(
    settings: Settings, tmp_path: Path
) -> None:
    """Four publishes at once, each a different quota: four versions, numbered 1 to 4,
    every one kept (a second version 2 would replace the first under compaction)."""
    System.fresh(settings, tmp_path)
    results: list[DefinitionVersion | None] = []
    errors: list[BaseException] = []

    def one(quota: float) -> None:
        try:
            definition = variant(default_monthly_quota=quota)
            results.append(publish(settings, definition, note="", published_by="ops").version)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(50_000.0 + i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(v.version for v in results if v is not None) == [1, 2, 3, 4]
    read = read_versions(settings).versions
    assert sorted(v.definition.default_monthly_quota for v in read.published) == [
        50_000.0, 50_001.0, 50_002.0, 50_003.0
    ]  # fmt: skip
    assert [v.version for v in read.published] == [1, 2, 3, 4]


def test_diff_live_compares_with_the_version_in_force(settings: Settings, tmp_path: Path) -> None:
    """OLD in force on the topic, NEW from a file: the same ranks and movers as by hand
    (tests/scorers/test_whatif.py)."""
    system = System.fresh(settings, tmp_path)
    publish(settings, OLD, note="", published_by="ops")
    log = tmp_path / "small.jsonl"
    log.write_bytes(b"\n".join(small_log()) + b"\n")
    new = write(tmp_path / "new.yaml", NEW)
    done = run(system, "scorecard", "diff", "--live", str(new), "--log", str(log),
               "--window", "7d", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = orjson.loads(done.stdout)
    assert body["old"] == "version 1 (in force)"
    assert (body["movers_up"], body["movers_down"]) == (["ana"], ["bob"])
    assert [(r["rep_id"], r["old"]["rank"], r["new"]["rank"]) for r in body["reps"]] == [
        ("ana", 2, 1), ("bob", 1, 2), ("dan", 3, 3), ("cyd", 4, 4)
    ]  # fmt: skip
    table = run(system, "scorecard", "diff", "--live", str(new), "--log", str(log), "-w", "7d")
    assert "Biggest movers up: ana (+1 place, +30.0)" in table.stdout
    assert "Biggest movers down: bob (-1 place, -15.0)" in table.stdout
