"""The engine's events, and the one interface every consumer of them implements.

`mqspec.conformance.core.engine.run` yields `RunStarted`, one `ScenarioDone` per scenario, one
`PhaseDone` per search phase the profile runs after them (its ``phase`` names which: the
state machine, with faults, with crashes, or the concurrent clients), and last `RunFinished`
with the `RunResult`. Consumers (the tally, the CLI's console, the report writer, the pytest
suite) are `EventHandler`s: each is given every event through ``handle_event`` and acts on the
kinds it needs.

Rule: a value module. At run time it imports only the model and other value modules; the
harness types its fields name are imported for type checking only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import attrs

from mqspec.conformance.core.results import ConcurrencySummary, Divergence, RunResult, Status
from mqspec.reference.types import Capabilities, Finding

if TYPE_CHECKING:
    from mqspec.conformance.core.profiles import Profile
    from mqspec.conformance.core.scenarios import Scenario
    from mqspec.conformance.faults.runs import FaultStats

__all__ = [
    "Event",
    "EventHandler",
    "Phase",
    "PhaseDone",
    "RunFinished",
    "RunStarted",
    "ScenarioDone",
]

Phase = Literal["stateful", "faults", "crash", "concurrency"]
"""A search phase: the state machine, with injected faults, with crashes, or concurrent clients."""


@attrs.frozen
class RunStarted:
    """The run has begun. ``notes``: what the engine decided about how to run the queue and
    why (one line each, e.g. why a real-clock search runs one worker)."""

    url: str
    capabilities: Capabilities
    profile: Profile
    seed: int
    notes: tuple[str, ...] = ()
    # Clauses --only/--skip leave out (mqspec.conformance.core.selection): not judged.
    deselected: frozenset[str] = frozenset()


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
    elapsed: float = 0.0  # wall seconds until the scenario was judged (the engine sets it)

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None


@attrs.frozen
class PhaseDone:
    """A search phase has run: what it found, and the counts it has to report.

    Every phase: ``divergences`` (the state machines: one minimal divergence per clause broken,
    by clause ID; the concurrent clients: their first violation), the SHOULD ``warnings``,
    ``examples`` run, ``elapsed`` seconds and ``found_after`` (seconds to the first failing
    case, where the phase measures it). Then what only one phase has:

    - ``stateful``: ``clock`` ("virtual", or "real": the queue's own clock, slept for),
      ``workers`` (independent searches at once), ``steps`` (operations sent, all examples
      and workers together; 0: not counted), ``dropped`` (real clock: examples dropped
      unjudged because a call was slower than the margin) and ``dropped_why`` (the first's).
    - ``crash``: ``restarts`` (kills and restarts), ``cuts`` (of them, inside an operation).
    - ``faults``: ``faults``, the counts of faults injected and their effects.
    - ``concurrency``: ``concurrency``, the counts for the report, and ``violations``: every
      clause violation the clients' histories showed, the divergence's included.
    """

    phase: Phase
    divergences: tuple[Divergence, ...] = ()
    warnings: tuple[Finding, ...] = ()
    examples: int = 0
    elapsed: float = 0.0
    found_after: float | None = None
    clock: str = "virtual"
    workers: int = 1
    steps: int = 0
    dropped: int = 0
    dropped_why: str = ""
    restarts: int = 0
    cuts: int = 0
    faults: FaultStats | None = None
    concurrency: ConcurrencySummary | None = None
    violations: tuple[Finding, ...] = ()

    @property
    def divergence(self) -> Divergence | None:
        """The first divergence, or None."""
        return self.divergences[0] if self.divergences else None

    @property
    def broken(self) -> tuple[Finding, ...]:
        """Every clause violation the phase found: ``violations`` where the phase lists more
        than it shows as divergences, else the divergences' findings."""
        return self.violations or tuple(d.finding for d in self.divergences)


@attrs.frozen
class RunFinished:
    result: RunResult


Event = RunStarted | ScenarioDone | PhaseDone | RunFinished


class EventHandler(Protocol):
    """A consumer of the engine's events, given each one in order."""

    def handle_event(self, event: Event) -> None:
        """Act on ``event``; kinds a handler has no use for are ignored."""
