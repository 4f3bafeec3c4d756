"""How far the running search has got: counters a heartbeat can read while a phase runs.

Responsibility: one process-wide `PROGRESS` that the code on the hot path bumps (every call to
a queue through `mqspec.conformance.core.calls.outcome_of`, every state-machine case, every
divergence a session raises) and that a front end reads from another thread, as a
`ProgressSnapshot`, to say that a long phase is alive (`mqspec check`'s heartbeat). The
counters only grow; a reader takes the difference of two snapshots. They count work done, not
verdicts: a case Hypothesis runs again while shrinking counts again.

Rule: the standard library and attrs only, so every module may import it.
"""

from __future__ import annotations

import threading
import time

import attrs

__all__ = ["PROGRESS", "Progress", "ProgressSnapshot"]


@attrs.frozen
class ProgressSnapshot:
    """The counters at one instant (``at``, monotonic seconds)."""

    at: float
    operations: int
    cases: int
    divergences: int


class Progress:
    """Counters of operations sent, cases started and divergences raised, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations = 0
        self._cases = 0
        self._divergences = 0

    def operation(self) -> None:
        with self._lock:
            self._operations += 1

    def case(self) -> None:
        with self._lock:
            self._cases += 1

    def divergence(self) -> None:
        with self._lock:
            self._divergences += 1

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            return ProgressSnapshot(
                time.monotonic(), self._operations, self._cases, self._divergences
            )


PROGRESS = Progress()
"""The process's counters."""
