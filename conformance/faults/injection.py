"""`FaultyQueue`: fault injection at the adapter boundary, and the record of which faults fired.

Responsibility: cut the next push, reserve or delete of any adapter on demand (MQ-LOSS-2):

* ``error-before``: raise `FaultInjected` without calling the adapter: the call had no effect.
* ``error-after``: call the adapter, let it take effect, then raise instead of answering: the
  answer is lost.
* ``point:<name>``: arm a fault point inside the adapter (`mqspec.adapters.base.FaultPoints`),
  raised the next time an operation reaches it.
* a `FaultProxy` kind (``reset``, ``stall-reset``, ``drop-response``, ``slow``), forwarded to
  the proxy between a server adapter and its server, when one is given.

`FaultyQueue.fault_outcome` tells the `Session` whether a fault fired during the operation
that just raised, so an error then is judged as an unknown outcome, and one with no fault as an
error (MQ-PUSH-1). Which fault decides what the error means. A fault that stopped the request
before it reached the queue (``error-before``, ``reset``, ``stall-reset``: a reset before the
commit rolls the transaction back) leaves the queue answering with an error for a call that
did nothing: for a Push, a reported failure, which SHOULD have queued nothing (MQ-LOSS-3). A
fault that lost the answer after the queue acted (``error-after``, ``drop-response``, a fault
point inside the operation) is a plain unknown: the push may have queued the job, at most once
(MQ-LOSS-2), with no warning, since no queue can avoid that. Every fault is counted when armed
(``injected``) and when it happened (``fired``), by kind.

Forbidden imports: the model, hypothesis, front ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from mqspec.adapters.base import FaultInjected, QueueAdapter, Task
from mqspec.conformance.faults.proxy import KINDS as PROXY_KINDS
from mqspec.conformance.faults.proxy import FaultProxy
from mqspec.reference.types import Capabilities, Unknown

__all__ = ["BOUNDARY_KINDS", "NEVER_ARRIVED", "FaultyQueue"]

NEVER_ARRIVED = frozenset({"error-before", "reset", "stall-reset"})
"""Fault kinds that stop a request before the queue acts on it (module docstring)."""

BOUNDARY_KINDS = ("error-before", "error-after")
"""Faults `FaultyQueue` injects itself, around the adapter's call."""


class FaultyQueue:
    """``adapter`` with faults that can be armed for its next operation (module docstring).

    Args:
        adapter: the queue to cut; this wrapper forwards every call to it.
        proxy: the `FaultProxy` the adapter talks to its server through, if any.

    Only one fault is armed at a time; `heal` clears it, and `reset` heals first, so every
    test case starts with no fault.
    """

    def __init__(self, adapter: QueueAdapter, *, proxy: FaultProxy | None = None) -> None:
        self.inner = adapter
        self.proxy = proxy
        self.injected: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self._armed: str | None = None  # a boundary kind or "point:<name>"
        self._mark: Counter[str] = Counter()  # fired_by_kind() when the operation began

    # -- faults -----------------------------------------------------------------------------

    @property
    def points(self) -> tuple[str, ...]:
        """The fault points the adapter declares (``FAULT_POINTS``), possibly none."""
        return tuple(getattr(self.inner, "FAULT_POINTS", ()))

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind `arm` takes here: proxy kinds with a proxy, else boundary kinds, plus
        ``point:<name>`` for each fault point."""
        base = PROXY_KINDS if self.proxy is not None else BOUNDARY_KINDS
        return base + tuple(f"point:{name}" for name in self.points)

    @property
    def armed(self) -> str | None:
        """The fault waiting for an operation (not proxy ``slow``, a mode), or None."""
        armed = self._armed
        point = getattr(self.inner, "_armed_fault_point", None)
        if armed and armed.startswith("point:") and point is None:
            self._armed = None  # it fired
        if self._armed is not None:
            return self._armed
        return self.proxy.armed if self.proxy is not None else None

    def arm(self, kind: str, *, after: int = 0) -> None:
        """Arm ``kind`` (one of `kinds`) for the next operation; ``after``: proxy turns to skip.

        Raises:
            ValueError: a kind this queue cannot inject.
        """
        if kind not in self.kinds:
            raise ValueError(f"cannot inject {kind!r} here; known: {', '.join(self.kinds)}")
        self.heal()
        self.injected[_family(kind)] += 1
        if kind in PROXY_KINDS:
            assert self.proxy is not None
            self.proxy.arm(kind, after=after)
            return
        if kind.startswith("point:"):
            self.inner.arm_fault_point(kind[len("point:") :])  # type: ignore[attr-defined]
        self._armed = kind

    def heal(self) -> None:
        """Clear every armed fault (and proxy slow mode)."""
        if self._armed is not None and self._armed.startswith("point:"):
            self.inner.arm_fault_point(None)  # type: ignore[attr-defined]
        self._armed = None
        if self.proxy is not None:
            self.proxy.heal()

    def fired_total(self) -> int:
        """Failing faults that have happened so far (proxy ``slow`` never fails anything)."""
        points = getattr(self.inner, "fault_points_fired", 0)
        proxied = self.proxy.fired_total if self.proxy is not None else 0
        return sum(self.fired.values()) + points + proxied

    def fault_active(self) -> bool:
        """Whether a fault fired since the current (or last) operation began."""
        return self.fault_outcome() is not None

    def fault_outcome(self) -> Unknown | None:
        """The `Session`'s hook: how to judge the error of the operation that just raised.

        None when no fault fired since it began (the error is the queue's own answer);
        otherwise `Unknown`, with ``reported_failure`` when every fault that fired stopped the
        request before the queue acted (see the module docstring).
        """
        kinds = [kind for kind, n in (self.fired_by_kind() - self._mark).items() if n > 0]
        if not kinds:
            return None
        refused = all(kind in NEVER_ARRIVED for kind in kinds)
        reason = "request stopped by" if refused else "answer lost to"
        return Unknown(f"{reason} an injected {'+'.join(sorted(kinds))}", refused)

    def fired_by_kind(self) -> Counter[str]:
        """Faults that happened, by kind (boundary, point and proxy faults together)."""
        out = Counter(self.fired)
        points = getattr(self.inner, "fault_points_fired", 0)
        if points:
            out["point"] += points
        if self.proxy is not None:
            out.update(self.proxy.fired)
        return out

    # -- the adapter contract ---------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """The adapter's own declaration: faults change nothing it promises."""
        return self.inner.capabilities

    def reset(self, now: float | None) -> None:
        """Heal, then empty the queue: a case never starts with a fault armed."""
        self.heal()
        self.inner.reset(now)

    def push(self, task: Task, now: float | None) -> Task:
        """Push, unless an armed fault cuts it."""
        return self._operation(lambda: self.inner.push(task, now))

    def reserve(self, now: float | None) -> Task | None:
        """Reserve, unless an armed fault cuts it."""
        return self._operation(lambda: self.inner.reserve(now))

    def delete(self, task: Task, now: float | None) -> None:
        """Delete, unless an armed fault cuts it."""
        self._operation(lambda: self.inner.delete(task, now))

    def tick(self, now: float | None) -> None:
        """Forward the tick (never cut: only push, reserve and delete are)."""
        self.inner.tick(now)

    def close(self) -> None:
        """Heal and close the adapter."""
        self.heal()
        self.inner.close()

    def __repr__(self) -> str:
        return f"FaultyQueue({self.inner!r}, armed={self.armed!r})"

    # -- internals --------------------------------------------------------------------------

    def _operation(self, action: Callable[[], Any]) -> Any:
        self._mark = self.fired_by_kind()
        kind = self._armed
        if kind not in BOUNDARY_KINDS:
            return action()
        self._armed = None
        self.fired[kind] += 1  # counted before raising, so fault_active() sees it
        if kind == "error-before":
            raise FaultInjected("injected fault before the call: it did not reach the queue")
        action()
        raise FaultInjected("injected fault after the call: the queue's answer was lost")


def _family(kind: str) -> str:
    """The stats key of a kind: ``point:<name>`` counts as ``point``."""
    return "point" if kind.startswith("point:") else kind
