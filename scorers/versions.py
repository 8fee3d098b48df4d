"""Which published scorecard version is in force, and which versions the workers can take.

The workers score every rep again from the state they keep when a version comes in,
so a version is taken only when that state scores it exactly: the state does not depend
on weights, targets, KPIs, windows or rules, but it does depend on

- the time zone: day buckets are days in the zone they were folded in;
- the reporting currency and the FX rates: a deal's revenue is converted when it is
  folded (adding a rate is fine: deals in that currency were dead-lettered as
  ``unknown_currency``, and can be redriven);
- the days kept: what lies further back has been evicted, or dead-lettered as too late.
  The workers keep the most days any version in force so far needed
  (``Versions.kept_days``): a version that needs fewer evicts nothing, so publishing an
  earlier version again (a rollback) is always exact.

So a version is refused when it changes the zone or the currency, changes or removes an
FX rate, or needs more days of history than the workers keep. The same rule
runs where a version is published (``scorestream scorecard publish`` refuses it with the
reason) and in every worker (a version that reaches it anyway, written by other means,
leaves the one before in force). Versions are taken in the order published, so every
worker reading the topic puts the same version in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.definition_version import DefinitionVersion
from schemas.scorecard_definition import ScorecardDefinition
from scorers.definition_changes import changes


def refusal(
    in_force: DefinitionVersion, candidate: ScorecardDefinition, kept_days: int | None = None
) -> str | None:
    """Why the workers cannot take ``candidate`` after ``in_force`` (None: they can), when
    they keep ``kept_days`` of history (``in_force``'s when None)."""
    old = in_force.definition
    where = f"version {in_force.version} in force"
    if candidate.timezone != old.timezone:
        return (
            f"timezone {candidate.timezone!r} is not {old.timezone!r} ({where}): the kept"
            " state is in days of that zone; to change it, reset and replay the inputs"
        )
    if candidate.currency != old.currency:
        return (
            f"currency {candidate.currency} is not {old.currency} ({where}): revenue is"
            " converted as deals are folded; to change it, reset and replay the inputs"
        )
    for code, rate in old.fx_rates.items():
        if candidate.fx_rates.get(code) != rate:
            now = candidate.fx_rates.get(code)
            what = "removes" if now is None else f"changes it to {now:g}"
            return (
                f"fx_rates.{code}: {where} has {rate:g} and this version {what}: deals"
                " already folded were converted at that rate (rates may only be added)"
            )
    kept = in_force.definition.kept_days() if kept_days is None else kept_days
    return _horizon_refusal(in_force, candidate, kept)


def _horizon_refusal(
    in_force: DefinitionVersion, candidate: ScorecardDefinition, kept: int
) -> str | None:
    needed = candidate.kept_days()
    if needed <= kept:
        return None
    if candidate.keep_history_days is not None:
        why = f"keep_history_days {candidate.keep_history_days}"
    else:
        reaches = candidate.reaches()
        furthest = max(reaches, key=lambda path: (reaches[path], path))
        why = (
            f"{furthest} reaches back {reaches[furthest]} days, plus allowed_lateness_days"
            f" {candidate.allowed_lateness_days}"
        )
    longest = kept - candidate.allowed_lateness_days
    exact = (
        f"the longest window they can score exactly is {longest}d"
        f" (with allowed_lateness_days {candidate.allowed_lateness_days})"
        if longest >= 1
        else f"lower allowed_lateness_days below {kept}"
    )
    return (
        f"needs {needed} days of history ({why}), but the workers keep {kept} (version"
        f" {in_force.version} in force) and what lies further back is gone: {exact}."
        " To reach further back, reset and replay the inputs with a definition whose"
        " keep_history_days leaves room"
    )


@dataclass(slots=True)
class Versions:
    """The versions read from the topic, in the order published, and which is in force."""

    in_force: DefinitionVersion | None = None
    published: list[DefinitionVersion] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    """Version -> why the workers did not take it."""
    taken: set[int] = field(default_factory=set)
    """The versions that were in force at some time."""
    unreadable: list[str] = field(default_factory=list)
    """Records that are no version this code can read, with the reason."""

    @property
    def kept_days(self) -> int:
        """The days of history the workers keep: the most any version in force so far needed
        (0 before the first). It never shrinks, so every version taken once can be taken
        again and scores exactly."""
        return max(
            (v.definition.kept_days() for v in self.published if v.version in self.taken),
            default=0,
        )

    @property
    def latest(self) -> int:
        """The highest version number published (0 when none)."""
        return max((v.version for v in self.published), default=0)

    def check(self, version: DefinitionVersion) -> str | None:
        """Why ``version``, published next, would not go in force (None: it would)."""
        current = self.in_force
        if current is None:
            return None
        if version.version <= current.version:
            return f"version {version.version} is not newer than version {current.version}"
        return refusal(current, version.definition, self.kept_days)

    def take(self, version: DefinitionVersion) -> str | None:
        """Read the next published version: put it in force, or say why not (the reason is
        also kept in ``refused``)."""
        reason = self.check(version)
        self.published.append(version)
        if reason is None:
            self.in_force = version
            self.taken.add(version.version)
        else:
            self.refused[version.version] = reason
        return reason

    def status(self, version: int) -> str:
        """``in force``, ``refused`` or ``superseded``."""
        if self.in_force is not None and version == self.in_force.version:
            return "in force"
        return "superseded" if version in self.taken else "refused"

    def summary(self, version: DefinitionVersion) -> dict[str, Any]:
        """What people see of a version (JSON): who published it, when and why, whether it
        is in force, and what it changed from the version in force before it."""
        previous = self.previous(version.version)
        moved = None if previous is None else changes(previous.definition, version.definition)
        return {
            "version": version.version,
            "status": self.status(version.version),
            "reason": None if version.version in self.taken else self.refused.get(version.version),
            "published_at": version.published_at.isoformat(),
            "published_by": version.published_by,
            "note": version.note,
            "digest": version.digest,
            "previous": None if previous is None else previous.version,
            "changes": None if moved is None else [c.to_dict() for c in moved],
        }

    def find(self, version: int) -> DefinitionVersion | None:
        """The version published with this number (the last one, were it published twice)."""
        return next((v for v in reversed(self.published) if v.version == version), None)

    def previous(self, version: int) -> DefinitionVersion | None:
        """The version that was in force before ``version`` (None for the first)."""
        shadow = Versions()
        for published in self.published:
            if published.version == version:
                return shadow.in_force
            shadow.take(published)
        return None


def resolved(versions: Iterable[DefinitionVersion]) -> Versions:
    """Every version taken in order: what a worker reading the topic from the start puts in
    force."""
    out = Versions()
    for version in versions:
        out.take(version)
    return out
