"""What a run produces: divergences, clause verdicts and the run's result.

Small frozen values shared by the engine, the tally and every front end (the CLI, reports, the
pytest plugin, ``mqspec selftest``); the engine's events that carry them are in
`mqspec.conformance.core.events`. No behaviour beyond derived properties.

Rule: a value module. At run time it imports only the model and other value modules; the
harness types its fields name (a transcript, a history's anomalies, fault counts) are imported
for type checking only, so importing a result never loads the machinery that produced it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from mqspec.conformance.concurrency.history import History
from mqspec.reference.clauses import Clause
from mqspec.reference.types import Capabilities, Finding

if TYPE_CHECKING:
    from mqspec.conformance.concurrency.fastcheck import Anomaly
    from mqspec.conformance.core.transcript import Transcript
    from mqspec.conformance.faults.runs import FaultStats

__all__ = [
    "ClauseResult",
    "ConcurrencySummary",
    "Divergence",
    "PhaseRecord",
    "RunResult",
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
    """The verdict on one clause.

    ``applicable`` is False for a clause the queue's declared capabilities put out of reach
    (a queue that declares no tokens has no MQ-TOKEN-1 to keep): its ``skip`` is no gap in the
    run. A ``skip`` on an applicable clause is one: the run did not exercise it, unless the
    run was asked not to judge it (``selected`` False, by ``--only`` or ``--skip``).
    """

    clause: Clause
    status: Status
    reason: str = ""
    applicable: bool = True
    # False for a clause ``--only``/``--skip`` left out: skipped, neither a gap nor a pass.
    selected: bool = True
    # Wall seconds its scenarios took (the searches' time is in `RunResult.phases`).
    seconds: float = 0.0


@attrs.frozen
class PhaseRecord:
    """A search phase that ran: its name (``stateful``, ``faults``, ``crash``, ``concurrency``),
    on which clock, for how long, and the clauses it found broken (none: nothing found)."""

    phase: str
    clock: str
    seconds: float
    broken: tuple[str, ...] = ()


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
    # Divergences on clauses the run was asked not to judge: shown, never counted.
    set_aside: tuple[Divergence, ...] = ()
    phases: tuple[PhaseRecord, ...] = ()  # the search phases, in the order they ran

    @property
    def verdict(self) -> Literal["conforms", "diverges", "error"]:
        if self.error:
            return "error"
        return "diverges" if any(c.status == "fail" for c in self.clauses) else "conforms"

    @property
    def not_exercised(self) -> tuple[ClauseResult, ...]:
        """The MUST and SHOULD clauses that apply to this queue and that this run left
        unexercised: what a ``conforms`` does not rest on."""
        return tuple(
            c
            for c in self.clauses
            if c.status == "skip"
            and c.applicable
            and c.selected
            and c.clause.level in ("MUST", "SHOULD")
        )

    @property
    def not_selected(self) -> tuple[ClauseResult, ...]:
        """The clauses ``--only``/``--skip`` left out of this run."""
        return tuple(c for c in self.clauses if not c.selected)

    @property
    def basis(self) -> str:
        """What the verdict rests on, in words: ``24 pass, 2 not applicable, 3 not exercised:
        MQ-LOSS-2, MQ-LOSS-3, MQ-DURABLE-1`` (MAY clauses counted with what they got)."""
        gaps = self.not_exercised
        counts: dict[str, int] = {}
        for c in self.clauses:
            if c in gaps:
                continue
            if c.status != "skip":
                kind: str = c.status
            elif not c.selected:
                kind = "not selected"
            elif not c.applicable:
                kind = "not applicable"
            else:
                kind = "not exercised (MAY)"
            counts[kind] = counts.get(kind, 0) + 1
        order = ("pass", "warn", "fail", "not applicable", "not exercised (MAY)", "not selected")
        parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
        if gaps:
            parts.append(f"{len(gaps)} not exercised: " + ", ".join(c.clause.id for c in gaps))
        return ", ".join(parts)


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

    @property
    def unknown_count(self) -> int:
        """How many histories the exact checker could not decide."""
        return sum(n for _, n in self.unknown)
