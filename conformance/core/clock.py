"""The harness's virtual clock: time moves only when the harness says so.

Modelled on trio's ``MockClock``: it starts where it is told and moves only through `jump` and
`advance_to`; a move backwards raises, so a nonsense schedule fails loudly instead of silently
testing nothing.
"""

from __future__ import annotations

import math

from mqspec.reference.errors import UsageError

__all__ = ["RealClock", "VirtualClock"]


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


class RealClock:
    """The real-time profile's clock: seconds since the session began, moved by sleeping.

    Only the bounded real-time profile uses it; every other test runs on `VirtualClock`.
    ``sleep`` and ``monotonic`` are attributes so the clock's own tests need not wait.
    """

    def __init__(self, start: float = 0.0) -> None:
        import time

        self.sleep = time.sleep
        self.monotonic = time.monotonic
        self._origin = self.monotonic() - start

    def now(self) -> float:
        """Seconds since the session began (plus ``start``)."""
        return self.monotonic() - self._origin

    def jump(self, seconds: float) -> float:
        """Sleep ``seconds`` (>= 0) and return the new time.

        Raises:
            UsageError: ``seconds`` is negative or not finite.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise UsageError(f"time can only jump forward by a finite amount, got {seconds!r}")
        return self.advance_to(self.now() + seconds)

    def advance_to(self, when: float) -> float:
        """Sleep until ``when`` (no-op when it has passed) and return the time then."""
        if not math.isfinite(when):
            raise UsageError(f"cannot wait until {when!r}")
        remaining = when - self.now()
        if remaining > 0:
            self.sleep(remaining)
        return self.now()
