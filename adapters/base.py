"""The adapter contract: the Python interface every backend implements to be checked.

Rule: adapters use the model's vocabulary (`Capabilities`, tasks as JSON objects) but never the
model itself (``mqspec.reference.model`` / ``machine``): a backend that delegated to the model
would make conformance a tautology.

An adapter is one open connection to one queue namespace that belongs to the harness. Its
operations mirror fn's ``MessageQueue``:

* ``push(task, now) -> task``: queue ``task`` (a JSON object, see spec/contract.md) and return
  the task as queued. Raise any exception to answer with an error (e.g. an invalid task).
* ``reserve(now) -> task | None``: take the first ready job and hold it for the reservation
  timeout; None when no job is ready. Never blocks.
* ``delete(task, now) -> None``: acknowledge the reservation of ``task`` (the object Reserve
  returned, so a reservation token travels inside it). Raise to answer with an error.

Time: when ``capabilities.virtual_time`` is True the harness passes ``now`` (seconds, never
decreasing) to every call, and the adapter MUST take every time decision from it; ``tick(now)``
tells a ticker-style design that time advanced. When False, ``now`` is None and the adapter
uses its own clock (the real-time profile).

Errors: an exception raised by push, reserve or delete is the backend's *answer* (like fn's Go
``error``) and is judged by the contract. An exception raised by ``open``, ``reset`` or
``close`` (or ``drop``) means the run cannot go on; raise
`mqspec.reference.DriverError` with the cause.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from mqspec.reference.types import Capabilities

__all__ = ["FaultInjected", "FaultPoints", "OperationCut", "QueueAdapter", "Task"]

Task = dict[str, Any]
"""A task: a JSON object with ``id``, ``priority``, optional ``delay`` and opaque fields."""


@runtime_checkable
class QueueAdapter(Protocol):
    """One backend, opened on a namespace of its own. See the module docstring."""

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares about itself (fixed once opened)."""
        ...

    def reset(self, now: float | None) -> None:
        """Empty the queue: the start of a test case. Removes only what this adapter created."""
        ...

    def push(self, task: Task, now: float | None) -> Task:
        """Queue ``task``; return it as queued. Raise to refuse it."""
        ...

    def reserve(self, now: float | None) -> Task | None:
        """Take and hold the first ready job, or return None when none is ready."""
        ...

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``. Raise when there is none."""
        ...

    def tick(self, now: float | None) -> None:
        """Virtual time advanced to ``now``; do any background work due by then."""
        ...

    def close(self) -> None:
        """Release connections. A durable queue keeps its data (see ``drop`` below)."""
        ...


# Optional: an adapter may also define ``drop() -> None``, which removes the namespace it
# created (a table, a key prefix). The harness calls it, after ``close``, for namespaces the
# harness itself chose, so a run leaves nothing behind and touches nothing it did not create.
#
# Optional, for crash runs of a queue that declares ``durable``: ``restart() -> None`` kills the
# process that holds the queue (SIGKILL, no clean shutdown) and starts it again on the same
# data (MQ-DURABLE-1). An adapter that can crash *inside* an operation raises `OperationCut`
# from push, reserve or delete once it has restarted.


class OperationCut(Exception):
    """Push, reserve or delete was cut by a crash of the process holding the queue.

    Raised by an adapter *after* it has started that process again. The harness records the
    operation's outcome as unknown (it took full effect or none, MQ-LOSS-2) and then treats
    the queue as restarted (MQ-DURABLE-1). The message says where the crash landed.
    """


class FaultInjected(ConnectionError):
    """A fault the harness injected: raised in place of a real connection error.

    A `ConnectionError`, so an adapter handles it as it would a dropped connection. Never
    raised by a real backend; the faults profile judges an operation it cut as unknown.
    """


class FaultPoints:
    """Mixin: named points inside an adapter's operations where the harness can inject a fault.

    An adapter lists its points in ``FAULT_POINTS`` and calls ``self._fault_point(name)`` at
    each, for example between taking a job and recording its reservation. Unarmed, a point
    costs one attribute comparison; armed (by the faults profile, `arm_fault_point`), the first
    operation that reaches it raises `FaultInjected` there, once. An adapter whose operations
    are atomic (one statement, one lock) needs no points: the boundary faults cover it.
    """

    FAULT_POINTS: ClassVar[tuple[str, ...]] = ()
    _armed_fault_point: str | None = None  # a class default: unarmed instances pay nothing
    fault_points_fired: int = 0

    def arm_fault_point(self, name: str | None) -> None:
        """Raise `FaultInjected` the next time an operation reaches ``name`` (None: disarm).

        Raises:
            ValueError: ``name`` is not one of ``FAULT_POINTS``.
        """
        if name is not None and name not in self.FAULT_POINTS:
            raise ValueError(f"{type(self).__name__} has no fault point {name!r}")
        self._armed_fault_point = name

    def _fault_point(self, name: str) -> None:
        if self._armed_fault_point == name:
            self._armed_fault_point = None
            self.fault_points_fired += 1
            raise FaultInjected(f"injected fault at {name}")
