"""What a run produces: divergences, clause verdicts, the run's result, and the engine's events.

Small frozen values shared by the engine, the tally and every front end (the CLI, reports, the
pytest plugin, ``mqspec selftest``). No behaviour beyond derived properties.
"""

from __future__ import annotations

from typing import Literal

import attrs

from mqspec.conformance.concurrency.check import ConcurrencyOutcome
from mqspec.conformance.concurrency.fastcheck import Anomaly
from mqspec.conformance.concurrency.history import History
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.scenarios import Scenario
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.faults.runs import FaultStats
from mqspec.reference.clauses import Clause
from mqspec.reference.types import Capabilities, Finding

__all__ = [
    "ClauseResult",
    "ConcurrencyDone",
    "ConcurrencySummary",
    "CrashDone",
    "Divergence",
    "Event",
    "FaultsDone",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "ScenarioDone",
    "SearchDone",
    "StatefulDone",
    "Status",
]

Status = Literal["pass", "fail", "warn", "skip"]


@attrs.frozen
class Divergence:
    """A broken clause with the program that shows it."""

    finding: Finding
    source: str  # "scenario <name>", "stateful", "crash" or "concurrency: <where>"
    transcript: Transcript | None
    # Concurrency divergences: the history it happened in, and the anomalies to highlight.
    history: History | None = None
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def clause(self) -> Clause:
        return self.finding.clause


@attrs.frozen
class ClauseResult:
    """The verdict on one clause."""

    clause: Clause
    status: Status
    reason: str = ""


@attrs.frozen
class RunResult:
    """Everything a report needs about one run."""

    url: str
    capabilities: Capabilities | None
    profile: str
    seed: int
    strict: bool
    duration: float
    clauses: tuple[ClauseResult, ...]
    divergences: tuple[Divergence, ...]
    warnings: tuple[Divergence, ...]
    error: str = ""
    concurrency: ConcurrencySummary | None = None
    faults: FaultStats | None = None
    crashes: tuple[int, int] | None = None  # (restarts, operations cut), when crashes ran

    @property
    def verdict(self) -> Literal["conforms", "diverges", "error"]:
        if self.error:
            return "error"
        return "diverges" if any(c.status == "fail" for c in self.clauses) else "conforms"


@attrs.frozen
class ConcurrencySummary:
    """What the concurrency profile did, for the report: counts, not verdicts.

    ``unknown`` lists (reason, count) of histories the exact checker could not decide in its
    budget: neither a pass nor a failure, reported so.
    """

    histories: int
    operations: int
    programs: int
    unknown: tuple[tuple[str, int], ...]
    elapsed: float
    clients: int
    minimal_program: str = ""  # the shrunk parallel program that failed, if any
    program_size: int = 0  # its operations


@attrs.frozen
class RunStarted:
    url: str
    capabilities: Capabilities
    profile: Profile
    seed: int


@attrs.frozen
class ScenarioDone:
    """A scenario has run. ``divergences``: one per distinct clause its cases broke, first
    found first; ``cases``/``clean``: cases run, and cases that ran to their end unbroken."""

    scenario: Scenario
    status: Status
    reason: str = ""
    divergences: tuple[Divergence, ...] = ()
    warnings: tuple[Finding, ...] = ()
    cases: int = 0
    clean: int = 0

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None


@attrs.frozen
class StatefulDone:
    """The state machine has run: one minimal divergence per clause it broke, by clause ID;
    ``found_after``: seconds to its first failing case."""

    examples: int
    elapsed: float
    divergences: tuple[Divergence, ...]
    warnings: tuple[Finding, ...] = ()
    found_after: float | None = None
    clock: str = "virtual"  # "virtual", or "real": the queue's own clock, slept for
    workers: int = 1  # independent searches run at once
    steps: int = 0  # operations sent, all examples and workers together (0: not counted)

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None


@attrs.frozen
class CrashDone:
    """The state machine with crashes has run: ``restarts`` kills, ``cuts`` inside operations."""

    examples: int
    elapsed: float
    divergences: tuple[Divergence, ...]
    warnings: tuple[Finding, ...] = ()
    restarts: int = 0
    cuts: int = 0
    found_after: float | None = None

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None


@attrs.frozen
class FaultsDone:
    """The state machine ran with injected faults; ``stats`` counts them and their effects."""

    examples: int
    elapsed: float
    divergences: tuple[Divergence, ...]
    warnings: tuple[Finding, ...]
    stats: FaultStats
    found_after: float | None = None

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None


@attrs.frozen
class ConcurrencyDone:
    """Several clients ran at once; ``outcome`` holds every violation and the counts."""

    outcome: ConcurrencyOutcome
    divergence: Divergence | None


@attrs.frozen
class RunFinished:
    result: RunResult


Event = (
    RunStarted
    | ScenarioDone
    | StatefulDone
    | FaultsDone
    | CrashDone
    | ConcurrencyDone
    | RunFinished
)


SearchDone = StatefulDone | FaultsDone | CrashDone | ConcurrencyDone
