"""An in-process, thread-safe queue that meets the MessageQueue contract with a lease design.

Responsibility: be the simplest *correct* backend, so the harness has something real to pass
(and the variants in `mqspec.adapters.selftest.variants` something to differ from). It does not use
the
reference model: it is an independent implementation of the contract.

Design. Every job gets a fixed position key ``(-priority, ready_at, seq)`` when it is pushed
(``ready_at = now + delay``, ``seq`` a per-queue push counter). The key never changes: a
reservation that times out puts the job back in its old place (MQ-RESTORE-2, MQ-RESTORE-3). A
job is reservable when ``visible_at <= now``; reserving sets ``visible_at`` to the reservation
deadline. Two heaps with lazy deletion keep every operation O(log n):

* ``hidden``: jobs not yet visible (delayed or reserved), keyed by ``visible_at``;
* ``visible``: reservable jobs, keyed by the position key.

Each operation first moves the jobs whose ``visible_at`` has come from ``hidden`` to
``visible``. A per-job generation counter marks heap entries made stale by a later state change.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mqspec.adapters.base import Task
from mqspec.reference.errors import UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY, copy_json
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = ["MemoryQueue", "from_url"]

_DUPLICATE_POLICIES = ("distinct", "reject")
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class _Job:
    """One live (or just deleted) job and its lease state."""

    __slots__ = ("deadline", "gen", "ident", "key", "live", "seq", "task", "token")

    def __init__(self, task: Task, key: tuple[Any, ...], seq: int) -> None:
        self.task = task
        self.ident: str = task["id"]
        self.key = key
        self.seq = seq
        # A heap entry is current only while its generation equals the job's.
        self.gen = 0
        self.live = True
        # Set while the job is reserved and not yet restored; None when ready or delayed.
        self.token: str | None = None
        self.deadline: float | None = None


class MemoryQueue:
    """A correct in-process queue with leases (see the module docstring).

    Keyword arguments:
        timeout: the reservation timeout T in seconds (> 0).
        tokens: whether Reserve adds a lease token in ``_mq_token`` that Delete checks.
        duplicates: ``"distinct"`` (a push of a live id queues a second job) or ``"reject"``.
        max_jobs: the capacity in live jobs, or None for no limit.
    """

    def __init__(
        self,
        *,
        timeout: float = 60,
        tokens: bool = False,
        duplicates: str = "distinct",
        max_jobs: int | None = None,
    ) -> None:
        """Validate the options and open an empty queue; raise `UsageError` on a bad value."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise UsageError(f"timeout must be a number of seconds, got {timeout!r}")
        if not math.isfinite(timeout) or timeout <= 0:
            raise UsageError(f"timeout must be finite and > 0, got {timeout!r}")
        if not isinstance(tokens, bool):
            raise UsageError(f"tokens must be True or False, got {tokens!r}")
        if duplicates not in _DUPLICATE_POLICIES:
            raise UsageError(f"duplicates must be 'distinct' or 'reject', got {duplicates!r}")
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise UsageError(f"max_jobs must be None or an integer >= 1, got {max_jobs!r}")
        self._timeout = float(timeout)
        self._tokens = tokens
        self._duplicates = duplicates
        self._max_jobs = max_jobs
        self._lock = threading.Lock()
        self._clear()

    # -- the adapter contract ---------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares: a lease design on virtual time, slack 0."""
        return Capabilities(
            reservation_timeout=self._timeout,
            timeout_settable=True,
            slack=self._slack(),
            virtual_time=True,
            durable=False,
            reservation_tokens=self._tokens,
            duplicate_ids=self._duplicates,  # type: ignore[arg-type]
            max_jobs=self._max_jobs,
        )

    def reset(self, now: float | None) -> None:
        """Empty the queue (the start of a test case)."""
        with self._lock:
            self._clear()

    def push(self, task: Task, now: float | None) -> Task:
        """Queue a deep copy of ``task``; return a deep copy of it as queued.

        Raises ValueError for an invalid task (MQ-TASK-1), a live duplicate id under the
        ``reject`` policy (MQ-PUSH-2), or a full queue (MQ-PUSH-3); nothing is queued then.
        """
        problem = task_problem(task, tokens=self._tokens)
        if problem is not None:
            raise ValueError(problem)
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            ident = task["id"]
            if self._duplicates == "reject" and self._index.get(ident):
                raise ValueError(f"duplicate id {ident!r}: a live job already has it")
            if self._max_jobs is not None and self._live >= self._max_jobs:
                raise ValueError(f"queue full: {self._live} live jobs, capacity {self._max_jobs}")
            # Copy before storing so the caller can't change the queued job behind our back.
            stored = copy_json(task)
            delay = stored.get("delay", 0)
            ready_at = t + delay
            seq = self._seq
            self._seq += 1
            job = _Job(stored, self._position(stored["priority"], ready_at, delay > 0, seq), seq)
            self._index.setdefault(ident, {})[seq] = job
            self._live += 1
            if ready_at <= t:
                heapq.heappush(self._visible, (job.key, job.gen, job))
            else:
                heapq.heappush(self._hidden, (ready_at, seq, job.gen, job))
            return copy_json(stored)

    def reserve(self, now: float | None) -> Task | None:
        """Take the first reservable job and hold it for T seconds; None when there is none."""
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            while self._visible:
                _, gen, job = heapq.heappop(self._visible)
                if gen != job.gen or not job.live:
                    continue  # stale entry: the job was deleted or changed state since
                job.gen += 1
                job.token = uuid.uuid4().hex
                job.deadline = t + self._timeout
                # The job hides until its deadline; its position key is kept for the restore.
                heapq.heappush(self._hidden, (job.deadline, job.seq, job.gen, job))
                out = copy_json(job.task)
                if self._tokens:
                    out[TOKEN_KEY] = job.token
                return out
            return None

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``'s id; remove that job for good.

        Succeeds when no live job has the id (MQ-DELETE-3). Raises LookupError when live jobs
        have the id but none has a pending reservation (with tokens: none whose token matches),
        leaving them unchanged (MQ-DELETE-2, MQ-DELETE-5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise ValueError("delete needs a task object with a string id")
        ident = task["id"]
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            jobs = self._index.get(ident)
            if not jobs:
                return
            # After _advance, a job still holding a token has a pending reservation: its
            # deadline has not been reached (or, for a ticker design, not yet processed).
            wanted = task.get(TOKEN_KEY)
            for seq, job in jobs.items():
                if job.token is not None and (not self._tokens or job.token == wanted):
                    del jobs[seq]
                    if not jobs:
                        del self._index[ident]
                    job.live = False
                    job.gen += 1
                    self._live -= 1
                    return
            if self._tokens and any(job.token is not None for job in jobs.values()):
                why = "not reserved by this caller (stale reservation token)"
            else:
                why = "not reserved (it is ready, delayed, or its reservation expired)"
            raise LookupError(f"cannot delete job {ident!r}: {why}")

    def tick(self, now: float | None) -> None:
        """Do nothing: a lease design checks time on every operation and needs no ticker."""

    def close(self) -> None:
        """Empty the queue; there is nothing else to release."""
        with self._lock:
            self._clear()

    # -- hooks for variants -----------------------------------------------------------------

    def _slack(self) -> float:
        """Seconds of lateness this design allows for readiness and restore."""
        return 0

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        """The fixed position key of a job: smaller is reserved first."""
        return (-priority, ready_at, seq)

    def _cutoff(self, now: float) -> float | None:
        """The time up to which hidden jobs become visible now, or None to move nothing."""
        return now

    # -- internals --------------------------------------------------------------------------

    def _clear(self) -> None:
        self._latest = -math.inf  # a reset starts a new case, whose clock may start anew
        self._hidden: list[tuple[float, int, int, _Job]] = []
        self._visible: list[tuple[tuple[Any, ...], int, _Job]] = []
        # id -> {seq: job}: live jobs by id, in push order (a dict keeps insertion order).
        self._index: dict[str, dict[int, _Job]] = {}
        self._live = 0
        self._seq = 0

    def _clock(self, now: float | None) -> float:
        """The time to decide at: ``now``, or the queue's own clock when it is None (the
        real-time profile), and never earlier than a time already decided at.

        Why the floor: callers on several threads reach the lock in an order they cannot see,
        so a call may bring a ``now`` older than one another call already used; deciding at it
        would run the queue clock backwards. Called with the lock held.
        """
        t = time.monotonic() if now is None else now
        if t < self._latest:
            return self._latest
        self._latest = t
        return t

    def _advance(self, now: float) -> None:
        """Make visible every hidden job whose visible_at is at or before the cutoff."""
        cutoff = self._cutoff(now)
        if cutoff is None:
            return
        hidden = self._hidden
        while hidden and hidden[0][0] <= cutoff:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            # Restored (or promoted from delayed): no reservation is pending any more.
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"memory:// option {name}={value!r}: expected 1/0/true/false/yes/no")


def _parse_number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"memory:// option {name}={value!r}: expected seconds") from None
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"memory:// option {name}={value!r}: expected a finite number > 0")
    return number


def _parse_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"memory:// option {name}={value!r}: expected an integer") from None
    if number < 1:
        raise UsageError(f"memory:// option {name}={value!r}: expected an integer >= 1")
    return number


def _parse_policy(name: str, value: str) -> str:
    if value not in _DUPLICATE_POLICIES:
        raise UsageError(f"memory:// option {name}={value!r}: expected 'distinct' or 'reject'")
    return value


_OPTIONS = {
    "timeout": _parse_number,
    "tokens": _parse_bool,
    "duplicates": _parse_policy,
    "max_jobs": _parse_int,
}


def from_url(url: str) -> MemoryQueue:
    """Open a `MemoryQueue` from ``memory://[?timeout=S&tokens=B&duplicates=P&max_jobs=N]``.

    Raises `UsageError` for another scheme, a host or path (an in-process queue has no
    address), an unknown or repeated option, or a bad value; the message names the option.
    """
    parts = urlsplit(url)
    if parts.scheme != "memory":
        raise UsageError(f"not a memory:// URL: {url!r}")
    if parts.netloc or parts.path not in ("", "/") or parts.fragment:
        raise UsageError(f"memory:// takes no host, path or fragment, only ?options: {url!r}")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise UsageError(f"memory:// options are malformed: {parts.query!r}") from None
    options: dict[str, Any] = {}
    for name, value in pairs:
        parse = _OPTIONS.get(name)
        if parse is None:
            known = ", ".join(_OPTIONS)
            raise UsageError(f"unknown memory:// option {name}={value!r} (known: {known})")
        if name in options:
            raise UsageError(f"memory:// option {name} given twice (second value {value!r})")
        options[name] = parse(name, value)
    return MemoryQueue(**options)
