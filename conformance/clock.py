"""The harness's virtual clock: time moves only when the harness says so.

Modelled on trio's ``MockClock``: it starts where it is told and moves only through `jump` and
`advance_to`; a move backwards raises, so a nonsense schedule fails loudly instead of silently
testing nothing.
"""

from __future__ import annotations

import math

from mqspec.reference.errors import UsageError

__all__ = ["VirtualClock"]


class VirtualClock:
    """A clock read in seconds, moved only by the harness."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time, in seconds."""
        return self._now

    def jump(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time.

        Raises:
            UsageError: ``seconds`` is negative or not finite.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise UsageError(f"time can only jump forward by a finite amount, got {seconds!r}")
        self._now += seconds
        return self._now

    def advance_to(self, when: float) -> float:
        """Move to ``when`` (not earlier than now) and return it.

        Raises:
            UsageError: ``when`` is earlier than now or not finite.
        """
        if not math.isfinite(when) or when < self._now:
            raise UsageError(f"time cannot move back from {self._now!r} to {when!r}")
        self._now = float(when)
        return self._now
