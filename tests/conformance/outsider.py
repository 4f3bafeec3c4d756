"""A correct queue written as an outsider would: from the contract's text, not from our code.

It makes choices our own adapters do not, each of them allowed:
- jobs live in one plain list, scanned on every call (no heaps, no indexes);
- a job is found for Delete by its id *and* priority, as fn's Bolt queue builds its key, so a
  Delete of a task whose priority differs from the live job's finds nothing and succeeds;
- ``_mq_token`` is an ordinary field: it declares no tokens, so it neither reserves nor
  checks the key (MQ-TASK-1);
- a reservation is a lease: the job is hidden until ``now + T`` and simply visible again
  afterwards, in its old place, because its sort key never changes;
- among delayed jobs that become ready at the same instant, the one pushed last goes first
  (MQ-ORDER-3 allows either order).

It takes ``now`` as given (virtual time) and keeps no high-water mark of it: the harness
promises a clock that never runs backwards, and this queue relies on that. One lock makes it
safe to share between threads. It imports nothing of mqspec but the capability record.
"""

from __future__ import annotations

import threading
from typing import Any

from mqspec.reference.types import Capabilities

__all__ = ["OutsiderQueue"]


class OutsiderQueue:
    """See the module docstring. ``timeout``: the reservation timeout in seconds."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.lock = threading.Lock()
        self.jobs: list[dict[str, Any]] = []
        self.pushes = 0

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(reservation_timeout=self.timeout, timeout_settable=True)

    def reset(self, now: float | None) -> None:
        with self.lock:
            self.jobs = []
            self.pushes = 0

    def push(self, task: Any, now: float | None) -> Any:
        problem = self._invalid(task)
        if problem:
            raise ValueError(problem)
        assert now is not None
        with self.lock:
            self.pushes += 1
            delay = task.get("delay", 0)
            ready = now + delay
            # Sort key: priority (higher first), then the enqueue instant, then push order
            # (reversed among delayed jobs, which become ready "together" at one instant).
            order = -self.pushes if delay else self.pushes
            self.jobs.append(
                {
                    "task": _copy(task),
                    "key": (-task["priority"], ready, 1 if delay else 0, order),
                    "visible_at": ready,
                    "leased": False,
                }
            )
        return _copy(task)

    def reserve(self, now: float | None) -> Any:
        assert now is not None
        with self.lock:
            ready = [j for j in self.jobs if j["visible_at"] <= now]
            if not ready:
                return None
            job = min(ready, key=lambda j: j["key"])
            job["visible_at"] = now + self.timeout
            job["leased"] = True
            return _copy(job["task"])

    def delete(self, task: Any, now: float | None) -> None:
        assert now is not None
        with self.lock:
            key = (task.get("id"), task.get("priority"))
            same = [j for j in self.jobs if (j["task"]["id"], j["task"]["priority"]) == key]
            if not same:
                return  # not a live job: deleting it is a no-op
            for job in same:
                if job["leased"] and now < job["visible_at"]:
                    self.jobs.remove(job)
                    return
            raise KeyError(f"job {task.get('id')!r} is not reserved")

    def tick(self, now: float | None) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def _invalid(task: Any) -> str | None:
        if not isinstance(task, dict):
            return "a task must be an object"
        if not isinstance(task.get("id"), str) or not task["id"]:
            return "a task needs a non-empty string id"
        priority = task.get("priority")
        if type(priority) is not int or priority not in (0, 1, 2):
            return "priority must be 0, 1 or 2"
        delay = task.get("delay", 0)
        if type(delay) is not int or delay < 0:
            return "delay must be a whole number of seconds, at least 0"
        return None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
