"""The tally: folds the outcome of every scenario and search phase into one status per clause.

``pass`` (exercised and never broken), ``fail`` (a MUST broken, or a SHOULD in strict mode),
``warn`` (a SHOULD broken), ``skip`` (not exercised, always with the reason). A clause that a
profile can only exercise when something happened (a crash, a fault that hit an operation) is
marked ``pass`` only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mqspec.conformance.core.events import Event, PhaseDone, ScenarioDone
from mqspec.conformance.core.results import (
    ClauseResult,
    ConcurrencySummary,
    Divergence,
    PhaseRecord,
    Status,
)
from mqspec.conformance.core.selection import NOT_SELECTED
from mqspec.reference.clauses import CATALOGUE

if TYPE_CHECKING:
    from mqspec.conformance.faults.runs import FaultStats

__all__ = ["Tally"]


class Tally:
    """Folds scenario and search-phase outcomes into one status per clause (an event handler)."""

    def __init__(
        self,
        strict: bool,
        unexercised: dict[str, str],
        not_applicable: frozenset[str] = frozenset(),
        deselected: frozenset[str] = frozenset(),
    ) -> None:
        self.strict = strict
        # Clauses --only/--skip leave out: their divergences are set aside, never counted.
        self.deselected = deselected
        self.set_aside: list[Divergence] = []
        self.seconds: dict[str, float] = {}  # scenario time by clause
        self.phases: list[PhaseRecord] = []
        self.unexercised = unexercised
        # Clauses the queue's declared capabilities put out of reach (their skip is no gap).
        self.not_applicable = set(not_applicable)
        self.status: dict[str, tuple[Status, str]] = {}
        self.divergences: list[Divergence] = []
        self.warnings: list[Divergence] = []
        self.concurrent: ConcurrencySummary | None = None
        self.fault_stats: FaultStats | None = None
        self.crash_counts: tuple[int, int] | None = None

    def handle_event(self, event: Event) -> None:
        """Fold a scenario's or a phase's outcome in; the run's start and end carry none."""
        if isinstance(event, ScenarioDone):
            self.scenario(event)
        elif isinstance(event, PhaseDone):
            self.phase(event)

    def _mark(self, clause_id: str, status: Status, reason: str) -> None:
        rank = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
        current = self.status.get(clause_id)
        if current is None or rank[status] > rank[current[0]]:
            self.status[clause_id] = (status, reason)

    def scenario(self, done: ScenarioDone) -> None:
        item = done.scenario
        self.seconds[item.clause.id] = self.seconds.get(item.clause.id, 0.0) + done.elapsed
        for finding in done.warnings:
            self._warn(Divergence(finding, f"scenario {item.name}", None))
        for divergence in done.divergences:
            if self._diverge(divergence):
                self._mark(divergence.clause.id, "fail", divergence.finding.message)
        if done.status == "skip":
            # A scenario skips only when the queue lacks a capability its clause needs.
            self.not_applicable.add(item.clause.id)
            self._mark(item.clause.id, "skip", done.reason)
        elif done.clean:
            self._mark(item.clause.id, "pass", f"scenario {item.name} ran")
        elif all(d.clause.id != item.clause.id for d in done.divergences):
            # Every case stopped on another clause before it finished: this clause was not
            # fully judged, so it must not read as a pass.
            others = ", ".join(sorted({d.clause.id for d in done.divergences}))
            self._mark(item.clause.id, "skip", f"scenario {item.name} stopped early on {others}")

    def phase(self, done: PhaseDone) -> None:
        broken = tuple(sorted({f.clause.id for f in done.broken}))
        self.phases.append(PhaseRecord(done.phase, done.clock, done.elapsed, broken))
        for divergence in done.divergences:
            self._diverge(divergence)
        for finding in done.broken:
            if finding.clause.id not in self.deselected:
                self._mark(finding.clause.id, "fail", finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, done.phase, None))
        if done.faults is not None:
            self.fault_stats = done.faults
            # Exercised only if faults really hit operations (and stopped pushes, MQ-LOSS-3).
            if done.faults.unknown:
                self._mark("MQ-LOSS-2", "pass", f"{done.faults.unknown} operations cut by faults")
            if done.faults.refused:
                self._mark("MQ-LOSS-3", "pass", f"{done.faults.refused} pushes stopped by faults")
        if done.phase == "crash":
            self.crash_counts = (done.restarts, done.cuts)
            # Exercised only if a crash happened (inside an operation, for MQ-LOSS-2).
            if done.restarts:
                self._mark("MQ-DURABLE-1", "pass", f"{done.restarts} crashes and restarts")
            if done.cuts:
                self._mark("MQ-LOSS-2", "pass", f"{done.cuts} operations cut by a crash")
        if done.concurrency is not None:
            self.concurrent = done.concurrency

    def _diverge(self, divergence: Divergence) -> bool:
        """Keep ``divergence``; False when its clause is not judged (it is set aside)."""
        kept = self.set_aside if divergence.clause.id in self.deselected else self.divergences
        # One divergence per clause: the first found, which for scenarios is the simplest.
        if all(d.clause != divergence.clause for d in kept):
            kept.append(divergence)
        return kept is self.divergences

    def _warn(self, divergence: Divergence) -> None:
        if divergence.clause.id in self.deselected:
            self._diverge(divergence)
            return
        if all(w.clause != divergence.clause for w in self.warnings):
            self.warnings.append(divergence)
        status: Status = "fail" if self.strict else "warn"
        self._mark(divergence.clause.id, status, divergence.finding.message)

    def results(self) -> tuple[ClauseResult, ...]:
        out = []
        for clause in CATALOGUE.values():
            if clause.withdrawn:
                continue
            if clause.id in self.deselected:
                aside = sum(d.clause == clause for d in self.set_aside)
                why = NOT_SELECTED + ("; a divergence set aside" if aside else "")
                out.append(ClauseResult(clause, "skip", why, selected=False))
                continue
            status, reason = self.status.get(
                clause.id, ("skip", self.unexercised.get(clause.id, "no scenario exercised it"))
            )
            applicable = status != "skip" or clause.id not in self.not_applicable
            seconds = self.seconds.get(clause.id, 0.0)
            out.append(ClauseResult(clause, status, reason, applicable, seconds=seconds))
        return tuple(out)
