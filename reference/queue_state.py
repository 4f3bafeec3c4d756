"""One possible state of a conforming queue, and its transitions.

Rule 1: no I/O, no clock, no threads, no randomness; every transition takes ``now``.
Rule 2: a transition first decides, then mutates. An observation the state cannot explain
returns a `Finding` and leaves the state untouched, so a caller can keep checking afterwards.

The contract leaves some outcomes open (slack windows, overlapping enqueue instants, which of two
same-id jobs a Delete acknowledges, what a failed call did). A `QueueState` represents the
timing freedoms symbolically (intervals, "maybe" windows); the others are branched into several
states by returning more than one successor, which `mqspec.reference.model.Model` keeps as a set.

Cost: every transition is O(log n) in the number of live jobs, except branching on an `Unknown`
outcome and building the text of a finding, which are O(n) and rare.
"""

from __future__ import annotations

import heapq
from typing import Any

from mqspec.reference.clauses import clause
from mqspec.reference.jsonvalue import (
    TOKEN_KEY,
    describe_difference,
    json_equal,
    json_text,
    without_token,
)
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities, Failed, Finding, Ok, Outcome, Unknown

__all__ = ["QueueState", "Step"]

TASK_INVALID = clause("MQ-TASK-1")
TASK_ROUND_TRIP = clause("MQ-TASK-2")
PUSH_SUCCEEDS = clause("MQ-PUSH-1")
PUSH_DUPLICATE = clause("MQ-PUSH-2")
READY_AT_ONCE = clause("MQ-READY-1")
READY_NOT_EARLY = clause("MQ-READY-2")
READY_NOT_LATE = clause("MQ-READY-3")
ORDER_PRIORITY = clause("MQ-ORDER-1")
ORDER_FIFO = clause("MQ-ORDER-2")
RESERVE_EMPTY = clause("MQ-RESERVE-1")
RESERVE_UNEXPECTED = clause("MQ-RESERVE-2")
RESERVE_HELD = clause("MQ-RESERVE-3")
RESTORE_LATE = clause("MQ-RESTORE-1")
RESTORE_PRIORITY = clause("MQ-RESTORE-2")
RESTORE_PLACE = clause("MQ-RESTORE-3")
DELETE_PENDING = clause("MQ-DELETE-1")
DELETE_NOT_PENDING = clause("MQ-DELETE-2")
DELETE_ABSENT = clause("MQ-DELETE-3")
DELETE_STALE = clause("MQ-DELETE-5")
TOKEN_MISSING = clause("MQ-TOKEN-1")
LOSS_DRAIN = clause("MQ-LOSS-1")
LOSS_FAILED_PUSH = clause("MQ-LOSS-3")
DURABLE = clause("MQ-DURABLE-1")

INF = float("inf")

# Job states. A DELAYED job is "maybe ready" from ready_at to ready_at + slack; a RESERVED job is
# "maybe restored" from deadline to deadline + slack. Past those windows `settle` makes them READY.
DELAYED, READY, RESERVED = 0, 1, 2
_STATE_NAMES = {DELAYED: "delayed", READY: "ready", RESERVED: "reserved"}


class Job:
    """One live job. Mutable, slotted, private to the model.

    Order: every job has an enqueue interval [lo, hi]; ``exact`` jobs (pushed without delay) have
    lo == hi and break ties at the same instant by ``seq``, their push order (MQ-ORDER-2).
    A delayed job became ready somewhere in [ready_at, ready_at + slack] (MQ-ORDER-3).
    """

    __slots__ = (
        "deadline",
        "delayed",
        "exact",
        "failed_push",
        "gen",
        "held_over",
        "hi",
        "id",
        "lo",
        "priority",
        "pushed_at",
        "ready_at",
        "restored",
        "seq",
        "state",
        "survived",
        "task",
        "token",
        "uid",
    )

    def __init__(self, uid: int, task: dict[str, Any], now: float, slack: float) -> None:
        self.uid = uid
        self.id: str = task["id"]
        self.priority: int = task["priority"]
        self.task = task
        self.seq = uid
        self.pushed_at = now
        delay = task.get("delay", 0)
        self.delayed = delay > 0
        self.ready_at = now + delay
        self.lo = self.ready_at
        self.hi = self.ready_at + slack if self.delayed else now
        self.exact = not self.delayed
        self.state = DELAYED if self.delayed else READY
        self.deadline = INF
        self.token: Any = None
        self.restored = False
        self.failed_push = False
        self.gen = 0
        # Set by a restart: the job was live before it (MQ-DURABLE-1), and its reservation
        # was pending then (held_over); only used to name the clause a divergence breaks.
        self.survived = False
        self.held_over = False

    def copy(self) -> Job:
        twin = Job.__new__(Job)
        for name in Job.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin

    def fingerprint(self) -> tuple[Any, ...]:
        return (
            self.uid,
            self.state,
            self.lo,
            self.hi,
            self.ready_at,
            self.deadline,
            self.restored,
            self.failed_push,
            repr(self.token),
        )

    def label(self) -> str:
        return f"{self.id!r} (priority {self.priority})"


def _nothing() -> str:
    return ""


# Types whose Python == is exactly JSON equality when both sides have that very type. float is
# left out: inside a container, one NaN object compares equal to itself.
_PLAIN = frozenset((str, int, type(None)))


def _same_json(a: Any, b: Any) -> bool:
    """`json_equal`, with a fast path for the common flat task of strings, integers and nulls."""
    if type(a) is dict and type(b) is dict:
        if a != b:
            return json_equal(a, b)  # an int and a float equal as doubles, e.g.
        for key, value in a.items():
            kind = type(value)
            if kind not in _PLAIN or kind is not type(b[key]):
                return json_equal(a, b)
        return True
    return json_equal(a, b)


Step = tuple[list["QueueState"], Finding | None]
"""A transition's result: the successor states, and a SHOULD warning every one of them needs.
An empty successor list never occurs; a rejected observation is returned as a bare `Finding`."""


class QueueState:
    """One possible state of a conforming queue. See the module docstring for the rules."""

    __slots__ = (
        "acked",
        "acked_before_restart",
        "by_id",
        "caps",
        "delayed_heap",
        "jobs",
        "must",
        "now",
        "reserved_heap",
        "should",
    )

    def __init__(self, caps: Capabilities, now: float = 0.0) -> None:
        self.caps = caps
        self.now = now
        self.jobs: dict[int, Job] = {}
        self.by_id: dict[str, list[int]] = {}
        # Certain-ready jobs per priority, keyed by the upper end of their enqueue interval.
        # `must` holds every one and treats a restored job as able to sit anywhere behind its old
        # place (MUST level); `should` holds only the restored ones, at their old place
        # (MQ-RESTORE-3). Stale entries are skipped lazily.
        self.must: tuple[list[tuple[Any, ...]], ...] = ([], [], [])
        self.should: tuple[list[tuple[Any, ...]], ...] = ([], [], [])
        self.delayed_heap: list[tuple[float, int, int]] = []
        self.reserved_heap: list[tuple[float, int, int]] = []
        # Ids acknowledged by a successful Delete, and those acknowledged before the last
        # restart: only used to name MQ-DURABLE-1 when an acknowledged job comes back.
        self.acked: set[str] = set()
        self.acked_before_restart: frozenset[str] = frozenset()

    # ---------------------------------------------------------------- copying and identity

    def copy(self) -> QueueState:
        """An independent copy (O(n)); used only when the contract leaves the outcome open."""
        twin = QueueState(self.caps, self.now)
        twin.jobs = {uid: job.copy() for uid, job in self.jobs.items()}
        twin.by_id = {k: list(v) for k, v in self.by_id.items()}
        twin.must = tuple(list(h) for h in self.must)  # type: ignore[assignment]
        twin.should = tuple(list(h) for h in self.should)  # type: ignore[assignment]
        twin.delayed_heap = list(self.delayed_heap)
        twin.reserved_heap = list(self.reserved_heap)
        twin.acked = set(self.acked)
        twin.acked_before_restart = self.acked_before_restart
        return twin

    def restart(self) -> None:
        """The process holding a durable queue restarted: its state must be unchanged.

        Nothing changes in the state itself (that is what durable means, MQ-DURABLE-1); the
        marks only let later findings about these jobs name MQ-DURABLE-1.
        """
        for job in self.jobs.values():
            job.survived = True
            job.held_over = job.state == RESERVED
        self.acked_before_restart = frozenset(self.acked)

    def fingerprint(self) -> tuple[Any, ...]:
        """A hashable summary; two states with equal fingerprints behave the same."""
        return tuple(sorted(job.fingerprint() for job in self.jobs.values()))

    # ---------------------------------------------------------------- time

    def settle(self, now: float) -> None:
        """Move the clock to ``now`` and make certain what the contract makes certain by then."""
        self.now = now
        slack = self.caps.slack
        heap = self.delayed_heap
        while heap and heap[0][0] + slack <= now:
            _, gen, uid = heapq.heappop(heap)
            job = self.jobs.get(uid)
            if job is not None and job.gen == gen and job.state == DELAYED:
                self._make_ready(job)
        heap = self.reserved_heap
        while heap and heap[0][0] + slack <= now:
            _, gen, uid = heapq.heappop(heap)
            job = self.jobs.get(uid)
            if job is not None and job.gen == gen and job.state == RESERVED:
                job.restored = True
                self._make_ready(job)

    def next_events(self) -> list[float]:
        """Times at which something changes (ready times, deadlines, their slack ends), sorted."""
        slack = self.caps.slack
        times: set[float] = set()
        for job in self.jobs.values():
            if job.state == DELAYED:
                times.update((job.ready_at, job.ready_at + slack))
            elif job.state == RESERVED:
                times.update((job.deadline, job.deadline + slack))
        return sorted(t for t in times if t >= self.now)

    def _make_ready(self, job: Job) -> None:
        job.state = READY
        job.gen += 1
        key = (job.hi, 0 if job.exact else 1, job.seq, job.gen, job.uid)
        if job.restored:
            heapq.heappush(self.must[job.priority], (INF, 1, job.seq, job.gen, job.uid))
            heapq.heappush(self.should[job.priority], key)
        else:
            heapq.heappush(self.must[job.priority], key)

    def _peek(self, heap: list[tuple[Any, ...]]) -> tuple[Any, ...] | None:
        jobs = self.jobs
        while heap:
            top = heap[0]
            job = jobs.get(top[4])
            if job is not None and job.gen == top[3] and job.state == READY:
                return top
            heapq.heappop(heap)
        return None

    @staticmethod
    def _precedes(entry: tuple[Any, ...], job: Job) -> bool:
        """Whether the job behind heap ``entry`` must come out strictly before ``job``."""
        hi = entry[0]
        if hi < job.lo:
            return True
        return hi == job.lo and entry[1] == 0 and job.exact and entry[2] < job.seq

    # ---------------------------------------------------------------- push

    def _body(self, returned: dict[str, Any]) -> dict[str, Any]:
        """The task part of a returned task: without its token where the queue issues tokens.

        A queue that declares no tokens may carry ``_mq_token`` as an opaque field, which must
        then round-trip like any other (MQ-TASK-1, MQ-TASK-2).
        """
        return without_token(returned) if self.caps.reservation_tokens else returned

    def push(self, uid: int, task: Any, outcome: Outcome) -> Step | Finding:
        """Check a Push of ``task`` that answered ``outcome``; ``uid`` names the job it adds."""
        problem = task_problem(task, tokens=self.caps.reservation_tokens)
        if problem is not None:
            if isinstance(outcome, Ok):
                return Finding(
                    TASK_INVALID,
                    f"push of an invalid task succeeded ({problem})",
                    expected=f"an error: {problem}",
                    observed=f"ok {outcome.value!r}",
                )
            return [self], None
        caps = self.caps
        duplicate = bool(self.by_id.get(task["id"]))
        refusable = (duplicate and caps.duplicate_ids == "reject") or (
            caps.max_jobs is not None and len(self.jobs) >= caps.max_jobs
        )
        if isinstance(outcome, Unknown):
            if duplicate and caps.duplicate_ids == "reject":
                return [self], None
            queued = self.copy()
            queued._add(uid, task, failed_push=outcome.reported_failure)
            return [self, queued], None
        if isinstance(outcome, Failed):
            if refusable:
                return [self], None
            if duplicate:
                return Finding(
                    PUSH_DUPLICATE,
                    f"push of a second job with live id {task['id']!r} failed, but the queue "
                    "declares duplicate_ids='distinct'",
                    expected="ok: a second, distinct job",
                    observed=f"error {outcome.message!r}",
                )
            return Finding(
                PUSH_SUCCEEDS,
                f"push of a valid task {task['id']!r} failed",
                expected="ok",
                observed=f"error {outcome.message!r}",
            )
        if duplicate and caps.duplicate_ids == "reject":
            return Finding(
                PUSH_DUPLICATE,
                f"push of live id {task['id']!r} succeeded, but the queue declares "
                "duplicate_ids='reject'",
                expected="an error; nothing queued",
                observed="ok",
            )
        returned = outcome.value
        if not isinstance(returned, dict) or not _same_json(self._body(returned), task):
            return Finding(
                PUSH_SUCCEEDS,
                f"push of {task['id']!r} returned a task different from the one pushed: "
                + describe_difference(
                    task, self._body(returned) if isinstance(returned, dict) else returned
                ),
                expected=json_text(task),
                observed=json_text(returned),
            )
        self._add(uid, task, failed_push=False)
        return [self], None

    def _add(self, uid: int, task: dict[str, Any], failed_push: bool) -> None:
        job = Job(uid, task, self.now, self.caps.slack)
        job.failed_push = failed_push
        self.jobs[uid] = job
        self.by_id.setdefault(job.id, []).append(uid)
        if job.state == READY:
            self._make_ready(job)
        else:
            heapq.heappush(self.delayed_heap, (job.ready_at, job.gen, uid))
            # settle() only promotes past ready_at + slack; a delay of 0 seconds never reaches here.

    # ---------------------------------------------------------------- reserve

    def reserve(self, outcome: Outcome, final: bool = False) -> Step | Finding:
        """Check a Reserve that answered ``outcome``.

        ``final`` marks the drain at the end of a case, where every deadline and ready time plus
        slack has passed: a job that does not come out then is lost (MQ-LOSS-1).
        """
        if isinstance(outcome, Failed):
            return Finding(
                RESERVE_EMPTY,
                "reserve failed",
                expected=self._describe_allowed(),
                observed=f"error {outcome.message!r}",
            )
        if isinstance(outcome, Unknown):
            return self._reserve_unknown()
        returned = outcome.value
        if returned is None:
            return self._reserve_null(final)
        if not isinstance(returned, dict) or not isinstance(returned.get("id"), str):
            return Finding(
                RESERVE_UNEXPECTED,
                "reserve returned something that is not a task",
                expected=self._describe_allowed(),
                observed=repr(returned),
            )
        tokens = self.caps.reservation_tokens
        token = returned.get(TOKEN_KEY) if tokens else None
        if tokens and not isinstance(token, str):
            return Finding(
                TOKEN_MISSING,
                f"reserve returned {returned['id']!r} without a string {TOKEN_KEY!r}",
                expected=f"a task with a string {TOKEN_KEY!r}",
                observed=repr(returned),
            )
        body = self._body(returned)
        uids = self.by_id.get(returned["id"])
        if not uids:
            came_back = returned["id"] in self.acked_before_restart
            return Finding(
                DURABLE if came_back else RESERVE_UNEXPECTED,
                f"reserve returned {returned['id']!r}, which is not a live job",
                expected=self._describe_allowed(),
                observed=repr(returned["id"]),
            )
        jobs = self.jobs
        if len(uids) == 1:
            # The common case, one live job with the id: the loop below, unrolled.
            job = jobs[uids[0]]
            if _same_json(job.task, body):
                finding = self._check_reservable(job)
                if finding is not None:
                    return finding
                warning = self._warning_for(job)
                self._take(job, token)
                return [self], warning
            matches = []
        else:
            matches = [jobs[u] for u in uids if _same_json(jobs[u].task, body)]
        if not matches:
            pushed = self.jobs[uids[0]].task
            return Finding(
                TASK_ROUND_TRIP,
                f"reserve returned {returned['id']!r} with fields unlike the ones pushed: "
                + describe_difference(pushed, body),
                expected=json_text(pushed),
                observed=json_text(body),
            )
        first_finding: Finding | None = None
        allowed: list[tuple[Job, Finding | None]] = []
        for job in matches:
            finding = self._check_reservable(job)
            if finding is None:
                allowed.append((job, self._warning_for(job)))
            elif first_finding is None:
                first_finding = finding
        if not allowed:
            assert first_finding is not None
            return first_finding
        if len(allowed) == 1:
            job, warning = allowed[0]
            self._take(job, token)
            return [self], warning
        warning = allowed[0][1] if all(w is not None for _, w in allowed) else None
        successors = []
        for job, _ in allowed:
            twin = self.copy()
            twin._take(twin.jobs[job.uid], token)
            successors.append(twin)
        return successors, warning

    def _check_reservable(self, job: Job, describe: bool = True) -> Finding | None:
        """Why ``job`` may not come out of Reserve now, or None when it may (MUST level).

        ``describe=False`` skips building the "allowed" text (O(n)), for internal enumeration.
        """
        allowed = self._describe_allowed if describe else _nothing
        now = self.now
        if job.state == DELAYED and now < job.ready_at:
            return Finding(
                READY_NOT_EARLY,
                f"reserve returned delayed job {job.id!r} before its ready time {job.ready_at:g}",
                expected=allowed(),
                observed=f"{job.id!r} at {now:g}",
            )
        if job.state == RESERVED and now < job.deadline:
            return Finding(
                DURABLE if job.held_over else RESERVE_HELD,
                f"reserve returned {job.id!r} again while its reservation was pending "
                f"(deadline {job.deadline:g})",
                expected=allowed(),
                observed=f"{job.id!r} at {now:g}",
            )
        for p in range(2, job.priority, -1):
            top = self._peek(self.must[p])
            if top is not None:
                other = self.jobs[top[4]]
                text = f"reserve returned {job.label()} while {other.label()} was ready"
                late = self._late(other, "a lower priority came first (MQ-ORDER-1)")
                # A queue blind to priority serves by enqueue instant alone, which explains a
                # job enqueued before the delayed one was due: then the order is the clause.
                blind = other.delayed and not other.restored and job.hi < other.ready_at
                if late is not None and not blind and not (job.restored or job.state == RESERVED):
                    return Finding(late[0], f"{text}: {late[1]}", allowed(), repr(job.id))
                # A restored job on either side means the restore lost the priority.
                restored = job.restored or job.state == RESERVED or other.restored
                return Finding(
                    RESTORE_PRIORITY if restored else ORDER_PRIORITY,
                    text,
                    expected=allowed(),
                    observed=repr(job.id),
                )
        top = self._peek(self.must[job.priority])
        if top is not None and top[4] != job.uid and self._precedes(top, job):
            other = self.jobs[top[4]]
            text = (
                f"reserve returned {job.id!r} while {other.id!r}, enqueued before it in "
                f"priority {job.priority}, was ready"
            )
            late = self._late(other, "a job enqueued after it came first (MQ-ORDER-2)")
            if late is not None:
                return Finding(late[0], f"{text}: {late[1]}", allowed(), repr(job.id))
            return Finding(ORDER_FIFO, text, expected=allowed(), observed=repr(job.id))
        return None

    def _late(self, other: Job, consequence: str) -> tuple[Any, str] | None:
        """The root cause when ``other`` is ready only because time made it so, or None.

        A delayed job is certainly ready once its ready time plus slack has passed, and an
        expired reservation certainly restored once its deadline plus slack has; a queue that
        is late with either serves the jobs behind ``other`` first. That lateness is the
        clause to name (MQ-READY-3, MQ-RESTORE-1); the order broken is its consequence.
        """
        slack = self.caps.slack
        if other.survived:
            return (
                DURABLE,
                f"it was live before the queue restarted; {consequence}",
            )
        if other.restored:
            return (
                RESTORE_LATE,
                f"its reservation ended at {other.deadline:g}, so it was due back by "
                f"{other.deadline + slack:g}; restored late or not at all, {consequence} "
                "(had it been restored, it lost its priority: MQ-RESTORE-2)",
            )
        if other.delayed:
            return (
                READY_NOT_LATE,
                f"delayed until {other.ready_at:g}, it was due by {other.ready_at + slack:g}; "
                f"promoted late, {consequence}",
            )
        return None

    def _warning_for(self, job: Job) -> Finding | None:
        """The SHOULD finding (MQ-LOSS-3, MQ-RESTORE-3) taking ``job`` now would earn, if any."""
        if job.failed_push:
            return Finding(
                LOSS_FAILED_PUSH,
                f"job {job.id!r} came out, but the push that queued it reported failure",
                expected="a push that reports failure queues nothing",
                observed=f"{job.id!r} reserved",
            )
        if not self.should[job.priority]:
            return None  # no restored job in this priority: nothing to come out ahead of
        return self._restore_place_warning(job)

    def _restore_place_warning(self, job: Job) -> Finding | None:
        """MQ-RESTORE-3: did ``job`` come out ahead of a restored job's original place?

        Called only once `_check_reservable` allowed ``job``. No job that was never restored can
        then precede it (the `must` top would, and be refused), so looking at the restored jobs
        alone, which is all `should` holds, gives the answer a heap of every ready job would.
        """
        top = self._peek(self.should[job.priority])
        if top is None or top[4] == job.uid or not self._precedes(top, job):
            return None
        other = self.jobs[top[4]]
        ahead = sum(
            1
            for entry in self.should[job.priority]
            if entry[4] != job.uid and self._live_entry(entry) and self._precedes(entry, job)
        )
        return Finding(
            RESTORE_PLACE,
            f"reserve returned {job.id!r} while restored job {other.id!r} was ready ahead of it; "
            f"{ahead} restored job(s) lost their original place",
            expected=f"{other.id!r} first (its original place)",
            observed=repr(job.id),
        )

    def _live_entry(self, entry: tuple[Any, ...]) -> bool:
        job = self.jobs.get(entry[4])
        return job is not None and job.gen == entry[3] and job.state == READY

    def _take(self, job: Job, token: Any) -> None:
        if job.state == DELAYED:
            # It became ready no later than now: narrow its enqueue interval.
            job.hi = min(job.hi, self.now)
        elif job.state == RESERVED:
            job.restored = True  # restored inside the slack window, then taken again
        job.state = RESERVED
        job.held_over = False
        job.deadline = self.now + self.caps.reservation_timeout
        job.token = token
        job.gen += 1
        heapq.heappush(self.reserved_heap, (job.deadline, job.gen, job.uid))

    def _reserve_null(self, final: bool) -> Step | Finding:
        best = None
        for p in (2, 1, 0):
            best = self._peek(self.must[p])
            if best is not None:
                break
        if best is None:
            return [self], None
        job = self.jobs[best[4]]
        if job.survived:
            rule, why = DURABLE, "it was live before the queue restarted"
        elif final:
            rule, why = (
                LOSS_DRAIN,
                (
                    "after every ready time and deadline plus slack had passed; last seen "
                    + self._last_seen(job)
                ),
            )
        elif job.restored:
            rule, why = RESTORE_LATE, f"its reservation ended at {job.deadline:g}"
        elif job.delayed:
            rule, why = READY_NOT_LATE, f"it was due by {job.ready_at + self.caps.slack:g}"
        else:
            rule, why = READY_AT_ONCE, "it was pushed without delay"
        return Finding(
            rule,
            f"reserve returned null while {job.label()} was ready ({why})",
            expected=self._describe_allowed(),
            observed="null",
        )

    def _last_seen(self, job: Job) -> str:
        """When the harness last saw ``job``: the Reserve that returned it, or its Push."""
        if job.deadline != INF:
            return (
                f"when a Reserve returned it at {job.deadline - self.caps.reservation_timeout:g} "
                f"(its reservation ended at {job.deadline:g})"
            )
        return f"when it was pushed at {job.pushed_at:g}, never reserved since"

    def _reserve_unknown(self) -> Step:
        """A Reserve with no trustworthy answer either did nothing or took an allowed job."""
        successors = [self]
        for job in self._reservable_jobs():
            twin = self.copy()
            twin._take(twin.jobs[job.uid], None)
            successors.append(twin)
        return successors, None

    def _reservable_jobs(self) -> list[Job]:
        """Every job Reserve may return now (O(n))."""
        return [
            job
            for job in self.jobs.values()
            if (
                job.state == READY
                or (job.state == DELAYED and self.now >= job.ready_at)
                or (job.state == RESERVED and self.now >= job.deadline)
            )
            and self._check_reservable(job, describe=False) is None
        ]

    def null_allowed(self) -> bool:
        """Whether Reserve may return null now."""
        return all(self._peek(self.must[p]) is None for p in (2, 1, 0))

    def allowed_ids(self) -> list[str]:
        """The ids Reserve may return now, sorted (O(n)); for reports, not for checking."""
        return sorted({job.id for job in self._reservable_jobs()})

    def _describe_allowed(self) -> str:
        ids = self.allowed_ids()
        parts = [repr(i) for i in ids]
        if self.null_allowed():
            parts.append("null")
        if not parts:
            return "nothing"
        return parts[0] if len(parts) == 1 else "one of " + ", ".join(parts)

    # ---------------------------------------------------------------- delete

    def delete(self, task: dict[str, Any], outcome: Outcome) -> Step | Finding:
        """Check a Delete of ``task``: by ``id``, and by ``_mq_token`` where tokens are declared.

        A queue may locate the job by any field of the task it is given (MQ-DELETE-1), so when
        live jobs share the id but not the rest of the task, two lookups are allowed: by id
        (every live job with the id), or by the whole task (only the jobs pushed as exactly
        this task). The answer stands if either explains it, and each that does is followed.
        """
        uids = self.by_id.get(task["id"])
        if uids:
            body = self._body(task)
            jobs = self.jobs
            exact = [u for u in uids if _same_json(jobs[u].task, body)]
            if len(exact) < len(uids):
                return self._delete_either(task, outcome, exact)
        return self._delete_among(task, outcome, uids)

    def _delete_either(
        self, task: dict[str, Any], outcome: Outcome, exact: list[int]
    ) -> Step | Finding:
        """`delete` where looking up by id and by the whole task find different jobs."""
        by_id = self.copy()
        first = by_id._delete_among(task, outcome, by_id.by_id.get(task["id"]))
        by_task = self.copy()
        second = by_task._delete_among(task, outcome, exact)
        if isinstance(first, Finding) and isinstance(second, Finding):
            return first
        successors: list[QueueState] = []
        warnings: list[Finding | None] = []
        for found in (first, second):
            if not isinstance(found, Finding):
                successors += found[0]
                warnings.append(found[1])
        warning = warnings[0] if all(w is not None for w in warnings) else None
        return successors, warning

    def _delete_among(
        self, task: dict[str, Any], outcome: Outcome, uids: list[int] | None
    ) -> Step | Finding:
        """`delete` with the lookup finding the live jobs ``uids`` (None or empty: none)."""
        ident = task["id"]
        if not uids:
            if isinstance(outcome, Failed):
                return Finding(
                    DELETE_ABSENT,
                    f"delete of {ident!r}, which is not live, failed",
                    expected="ok",
                    observed=f"error {outcome.message!r}",
                )
            return [self], None
        now = self.now
        slack = self.caps.slack
        tokens = self.caps.reservation_tokens
        token = task.get(TOKEN_KEY) if tokens else None
        # Live jobs with the id: reserved (held), by this caller (holders), with a reservation
        # pending or inside its slack window (maybe). One loop rather than four comprehensions.
        held: list[Job] = []
        holders: list[Job] = []
        pending: list[Job] = []
        maybe: list[Job] = []
        jobs = self.jobs
        for u in uids:
            j = jobs[u]
            if j.state == RESERVED:
                held.append(j)
                if not tokens or j.token == token:
                    holders.append(j)
                    if now < j.deadline:
                        pending.append(j)
                    elif j.deadline <= now < j.deadline + slack:
                        maybe.append(j)
        if isinstance(outcome, Failed):
            if pending:
                return Finding(
                    DURABLE if pending[0].held_over else DELETE_PENDING,
                    f"delete of {ident!r} failed while its reservation was pending "
                    f"(deadline {pending[0].deadline:g})",
                    expected="ok; the job removed",
                    observed=f"error {outcome.message!r}",
                )
            # The error tells us every reservation still inside its slack window has ended.
            for job in maybe:
                job.restored = True
                self._make_ready(job)
            return [self], None
        candidates = pending + maybe
        if isinstance(outcome, Unknown):
            successors = [self]
            for job in candidates:
                twin = self.copy()
                twin._remove(job.uid)
                successors.append(twin)
            return successors, None
        if not candidates:
            stale = tokens and any(now < j.deadline for j in held)
            states = sorted({_STATE_NAMES[self.jobs[u].state] for u in uids})
            if stale:
                return Finding(
                    DELETE_STALE,
                    f"delete of {ident!r} with a stale token succeeded; the job is reserved "
                    "again under another token",
                    expected="an error; the new reservation kept",
                    observed="ok",
                )
            # A queue that forgot the job in a restart answers as if it were absent.
            forgot = all(self.jobs[u].survived for u in uids)
            return Finding(
                DURABLE if forgot else DELETE_NOT_PENDING,
                f"delete of {ident!r} succeeded, but it had no pending reservation "
                f"({', '.join(states)}"
                + ("; it was live before the queue restarted)" if forgot else ")"),
                expected="an error; the job unchanged",
                observed="ok",
            )
        if len(candidates) == 1:
            self._remove(candidates[0].uid)
            return [self], None
        successors = []
        for job in candidates:
            twin = self.copy()
            twin._remove(job.uid)
            successors.append(twin)
        return successors, None

    def _remove(self, uid: int) -> None:
        job = self.jobs.pop(uid)
        self.acked.add(job.id)
        same = self.by_id[job.id]
        same.remove(uid)
        if not same:
            del self.by_id[job.id]

    # ---------------------------------------------------------------- reading

    def live_count(self) -> int:
        """How many jobs are live (pushed, not deleted) in this state."""
        return len(self.jobs)
