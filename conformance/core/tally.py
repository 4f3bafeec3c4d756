"""The tally: folds the outcome of every scenario and search phase into one status per clause.

``pass`` (exercised and never broken), ``fail`` (a MUST broken, or a SHOULD in strict mode),
``warn`` (a SHOULD broken), ``skip`` (not exercised, always with the reason). A clause that a
profile can only exercise when something happened (a crash, a fault that hit an operation) is
marked ``pass`` only then.
"""

from __future__ import annotations

from mqspec.conformance.core.results import (
    ClauseResult,
    ConcurrencyDone,
    ConcurrencySummary,
    CrashDone,
    Divergence,
    FaultsDone,
    ScenarioDone,
    SearchDone,
    StatefulDone,
    Status,
)
from mqspec.conformance.core.scenarios import Scenario
from mqspec.conformance.faults.runs import FaultStats
from mqspec.reference.clauses import CATALOGUE

__all__ = ["Tally"]


class Tally:
    """Folds scenario and stateful outcomes into one status per clause."""

    def __init__(self, strict: bool, unexercised: dict[str, str]) -> None:
        self.strict = strict
        self.unexercised = unexercised
        self.status: dict[str, tuple[Status, str]] = {}
        self.divergences: list[Divergence] = []
        self.warnings: list[Divergence] = []
        self.concurrent: ConcurrencySummary | None = None
        self.fault_stats: FaultStats | None = None
        self.crash_counts: tuple[int, int] | None = None

    def _mark(self, clause_id: str, status: Status, reason: str) -> None:
        rank = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
        current = self.status.get(clause_id)
        if current is None or rank[status] > rank[current[0]]:
            self.status[clause_id] = (status, reason)

    def searched(self, done: SearchDone) -> None:
        if isinstance(done, StatefulDone):
            self.stateful(done)
        elif isinstance(done, FaultsDone):
            self.faults(done)
        elif isinstance(done, CrashDone):
            self.crash(done)
        else:
            self.concurrency(done)

    def scenario(self, item: Scenario, done: ScenarioDone) -> None:
        for finding in done.warnings:
            self._warn(Divergence(finding, f"scenario {item.name}", None))
        for divergence in done.divergences:
            self._diverge(divergence)
            self._mark(divergence.clause.id, "fail", divergence.finding.message)
        if done.status == "skip":
            self._mark(item.clause.id, "skip", done.reason)
        elif done.clean:
            self._mark(item.clause.id, "pass", f"scenario {item.name} ran")
        elif all(d.clause.id != item.clause.id for d in done.divergences):
            # Every case stopped on another clause before it finished: this clause was not
            # fully judged, so it must not read as a pass.
            others = ", ".join(sorted({d.clause.id for d in done.divergences}))
            self._mark(item.clause.id, "skip", f"scenario {item.name} stopped early on {others}")

    def stateful(self, done: StatefulDone) -> None:
        for divergence in done.divergences:
            self._diverge(divergence)
            self._mark(divergence.clause.id, "fail", divergence.finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, "stateful", None))

    def faults(self, done: FaultsDone) -> None:
        self.fault_stats = done.stats
        for divergence in done.divergences:
            self._diverge(divergence)
            self._mark(divergence.clause.id, "fail", divergence.finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, "faults", None))
        # Exercised only if faults really hit operations (and stopped pushes, for MQ-LOSS-3).
        if done.stats.unknown:
            self._mark("MQ-LOSS-2", "pass", f"{done.stats.unknown} operations cut by faults")
        if done.stats.refused:
            self._mark("MQ-LOSS-3", "pass", f"{done.stats.refused} pushes stopped by faults")

    def crash(self, done: CrashDone) -> None:
        self.crash_counts = (done.restarts, done.cuts)
        for divergence in done.divergences:
            self._diverge(divergence)
            self._mark(divergence.clause.id, "fail", divergence.finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, "crash", None))
        # Exercised only if a crash happened (inside an operation, for MQ-LOSS-2).
        if done.restarts:
            self._mark("MQ-DURABLE-1", "pass", f"{done.restarts} crashes and restarts")
        if done.cuts:
            self._mark("MQ-LOSS-2", "pass", f"{done.cuts} operations cut by a crash")

    def concurrency(self, done: ConcurrencyDone) -> None:
        outcome = done.outcome
        if done.divergence is not None:
            self._diverge(done.divergence)
        for violation in outcome.violations:
            self._mark(violation.clause.id, "fail", violation.message)
        program = outcome.program
        self.concurrent = ConcurrencySummary(
            histories=outcome.histories,
            operations=outcome.operations,
            programs=outcome.parallel.programs,
            unknown=outcome.unknown,
            elapsed=outcome.elapsed,
            clients=outcome.settings.clients,
            minimal_program="" if program is None else program.render(),
            program_size=0 if program is None else program.size,
        )

    def _diverge(self, divergence: Divergence) -> None:
        # One divergence per clause: the first found, which for scenarios is the simplest.
        if all(d.clause != divergence.clause for d in self.divergences):
            self.divergences.append(divergence)

    def _warn(self, divergence: Divergence) -> None:
        if all(w.clause != divergence.clause for w in self.warnings):
            self.warnings.append(divergence)
        status: Status = "fail" if self.strict else "warn"
        self._mark(divergence.clause.id, status, divergence.finding.message)

    def results(self) -> tuple[ClauseResult, ...]:
        out = []
        for clause in CATALOGUE.values():
            if clause.withdrawn:
                continue
            status, reason = self.status.get(
                clause.id, ("skip", self.unexercised.get(clause.id, "no scenario exercised it"))
            )
            out.append(ClauseResult(clause, status, reason))
        return tuple(out)
