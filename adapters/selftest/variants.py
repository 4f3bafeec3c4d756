"""Correct queues that make *different allowed choices*, to prove the harness accepts them all.

Responsibility: the spec leaves some behaviour open (the MAY clauses and the slack of the
MUST clauses on time). A harness that only ever saw `MemoryQueue` could quietly hard-code its
choices; every queue here is correct yet chooses differently, and the harness must pass each.
The catalogue (`mqspec.adapters.selftest.catalogue.CORRECT_VARIANTS`) names them all, with
`MemoryQueue` under each of its options, for the harness's own tests.
"""

from __future__ import annotations

import math
from typing import Any

from mqspec.adapters.memory import MemoryQueue
from mqspec.reference.errors import UsageError

__all__ = ["ReversedTiesQueue", "TickerQueue"]


class TickerQueue(MemoryQueue):
    """A background-ticker design, like fn's bolt and redis queues (slack = ``tick_interval``).

    Immediate pushes are reservable at once (MQ-READY-1), but delayed jobs enter the ready
    queue, and expired reservations are restored to their original place, only when a tick runs.
    Ticks fall on the grid ``k * tick_interval``; ``tick(now)`` and the start of every
    operation run the latest grid tick not yet run, which does all work due by that grid time.
    So work due at time ``x`` is done at the first grid time ``>= x``: late by less than
    ``tick_interval``, the declared slack (MQ-READY-3, MQ-RESTORE-1).

    Until the ticker restores it, a reservation stays pending even past its deadline, so a
    Delete in ``[deadline, deadline + slack)`` succeeds (the freedom of MQ-DELETE-4).
    """

    def __init__(self, *, tick_interval: float = 1, **options: Any) -> None:
        """Open with ticks every ``tick_interval`` seconds; other options as `MemoryQueue`."""
        if isinstance(tick_interval, bool) or not isinstance(tick_interval, (int, float)):
            raise UsageError(f"tick_interval must be a number of seconds, got {tick_interval!r}")
        if not math.isfinite(tick_interval) or tick_interval <= 0:
            raise UsageError(f"tick_interval must be finite and > 0, got {tick_interval!r}")
        self._interval = float(tick_interval)
        super().__init__(**options)

    def tick(self, now: float | None) -> None:
        """Run the ticker if a grid tick at or before ``now`` has not run yet."""
        with self._lock:
            self._advance(self._clock(now))

    def _slack(self) -> float:
        return self._interval

    def _clear(self) -> None:
        super()._clear()
        # A fresh queue has run no tick yet: the first operation runs the latest grid tick.
        self._last_tick: float | None = None

    def _cutoff(self, now: float) -> float | None:
        # The epsilon absorbs float error in now / interval (0.3 / 0.1 = 2.999...), and
        # min() keeps the cutoff from passing now when k * interval rounds up.
        grid = min(math.floor(now / self._interval + 1e-9) * self._interval, now)
        if self._last_tick is not None and grid <= self._last_tick:
            return None
        self._last_tick = grid
        return grid


class ReversedTiesQueue(MemoryQueue):
    """Breaks ties between delayed jobs the other way: the later-pushed one first.

    Among jobs of equal priority that were pushed with a delay and become ready at the same
    instant, the job pushed last is reserved first; the spec allows either order (MQ-ORDER-3:
    "jobs {A, C} queued at t seconds, both with Delay = 5 ... may be available as [C, A] or
    [A, C]"). Jobs pushed without delay keep push order among themselves (MQ-ORDER-2), but at
    an equal instant an immediate job goes before a delayed one that became ready then, the
    opposite of `MemoryQueue`'s choice; MQ-ORDER-3 allows both.
    """

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        # Immediate jobs (rank 0) sort before delayed ones (rank 1) at an equal ready_at, and
        # among delayed jobs seq is negated, reversing push order.
        if delayed:
            return (-priority, ready_at, 1, -seq)
        return (-priority, ready_at, 0, seq)
