"""One possible state of a conforming queue, and its transitions.

Rule 1: no I/O, no clock, no threads, no randomness; every transition takes ``now``.
Rule 2: a transition first decides, then mutates. An observation the state cannot explain
returns a `Finding` and leaves the state untouched, so a caller can keep checking afterwards.

The contract leaves some outcomes open (slack windows, overlapping enqueue instants, which of two
same-id jobs a Delete acknowledges, what a failed call did). A `QueueState` represents the
timing freedoms symbolically (intervals, "maybe" windows); the others are branched into several
states by returning more than one successor, which `mqspec.reference.model.Model` keeps as a set.
The jobs are `mqspec.reference.job.Job` values; which clause a divergence breaks, where its
history decides, is `mqspec.reference.root_causes`.

Cost: every transition is O(log n) in the number of live jobs, except branching on an `Unknown`
outcome and building the text of a finding, which are O(n) and rare.
"""

from __future__ import annotations

from typing import Any

from mqspec.reference import root_causes
from mqspec.reference.clauses import clause
from mqspec.reference.job import DELAYED, READY, RESERVED, STATE_NAMES, UID, Job, precedes
from mqspec.reference.job_store import JobStore
from mqspec.reference.jsonvalue import (
    TOKEN_KEY,
    describe_difference,
    json_text,
    same_json,
)
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Failed, Finding, Ok, Outcome, Unknown

__all__ = ["QueueState", "Transition"]

TASK_INVALID = clause("MQ-TASK-1")
TASK_ROUND_TRIP = clause("MQ-TASK-2")
PUSH_SUCCEEDS = clause("MQ-PUSH-1")
PUSH_DUPLICATE = clause("MQ-PUSH-2")
READY_NOT_EARLY = clause("MQ-READY-2")
RESERVE_EMPTY = clause("MQ-RESERVE-1")
RESERVE_UNEXPECTED = clause("MQ-RESERVE-2")
RESTORE_PLACE = clause("MQ-RESTORE-3")
DELETE_ABSENT = clause("MQ-DELETE-3")
TOKEN_MISSING = clause("MQ-TOKEN-1")
LOSS_FAILED_PUSH = clause("MQ-LOSS-3")


def _nothing() -> str:
    return ""


Transition = tuple[list["QueueState"], Finding | None]
"""A transition's result: the successor states, and a SHOULD warning every one of them needs.
An empty successor list never occurs; a rejected observation is returned as a bare `Finding`."""


class QueueState(JobStore):
    """One possible state of a conforming queue. See the module docstring for the rules."""

    __slots__ = ()

    # ---------------------------------------------------------------- push

    def push(self, uid: int, task: Any, outcome: Outcome) -> Transition | Finding:
        """Check a Push of ``task`` that answered ``outcome``; ``uid`` names the job it adds."""
        problem = task_problem(task, tokens=self.caps.reservation_tokens)
        if problem is not None:
            if isinstance(outcome, Ok):
                return Finding(
                    TASK_INVALID,
                    f"push of an invalid task succeeded ({problem})",
                    allowed=f"an error: {problem}",
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
                    allowed="ok: a second, distinct job",
                    observed=f"error {outcome.message!r}",
                )
            return Finding(
                PUSH_SUCCEEDS,
                f"push of a valid task {task['id']!r} failed",
                allowed="ok",
                observed=f"error {outcome.message!r}",
            )
        if duplicate and caps.duplicate_ids == "reject":
            return Finding(
                PUSH_DUPLICATE,
                f"push of live id {task['id']!r} succeeded, but the queue declares "
                "duplicate_ids='reject'",
                allowed="an error; nothing queued",
                observed="ok",
            )
        returned = outcome.value
        if not isinstance(returned, dict) or not same_json(self._body(returned), task):
            return Finding(
                PUSH_SUCCEEDS,
                f"push of {task['id']!r} returned a task different from the one pushed: "
                + describe_difference(
                    task, self._body(returned) if isinstance(returned, dict) else returned
                ),
                allowed=json_text(task),
                observed=json_text(returned),
            )
        self._add(uid, task, failed_push=False)
        return [self], None

    # ---------------------------------------------------------------- reserve

    def reserve(self, outcome: Outcome, final: bool = False) -> Transition | Finding:
        """Check a Reserve that answered ``outcome``.

        ``final`` marks the drain at the end of a case, where every deadline and ready time plus
        slack has passed: a job that does not come out then is lost (MQ-LOSS-1).
        """
        if isinstance(outcome, Failed):
            return Finding(
                RESERVE_EMPTY,
                "reserve failed",
                allowed=self._describe_allowed(),
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
                allowed=self._describe_allowed(),
                observed=repr(returned),
            )
        tokens = self.caps.reservation_tokens
        token = returned.get(TOKEN_KEY) if tokens else None
        if tokens and not isinstance(token, str):
            return Finding(
                TOKEN_MISSING,
                f"reserve returned {returned['id']!r} without a string {TOKEN_KEY!r}",
                allowed=f"a task with a string {TOKEN_KEY!r}",
                observed=repr(returned),
            )
        body = self._body(returned)
        uids = self.by_id.get(returned["id"])
        if not uids:
            return root_causes.returned_not_live(
                returned["id"],
                returned["id"] in self.acked_before_restart,
                self._describe_allowed(),
            )
        # Every live job with the id and these fields is a job it may be; each that may come
        # out now is followed, with the warning taking it earns.
        jobs = self.jobs
        first_finding: Finding | None = None
        takeable: list[tuple[Job, Finding | None]] = []
        for u in uids:
            job = jobs[u]
            if same_json(job.task, body):
                finding = self._check_reservable(job)
                if finding is None:
                    takeable.append((job, self._warning_for(job)))
                elif first_finding is None:
                    first_finding = finding
        if len(takeable) == 1:
            job, warning = takeable[0]
            self._take(job, token)
            return [self], warning
        if not takeable:
            if first_finding is not None:
                return first_finding
            if any(same_json(task, body) for task in self.acked.get(returned["id"], ())):
                return root_causes.returned_deleted(
                    returned["id"],
                    returned["id"] in self.acked_before_restart,
                    self._describe_allowed(),
                )
            pushed = jobs[uids[0]].task  # no live job with the id has these fields
            return Finding(
                TASK_ROUND_TRIP,
                f"reserve returned {returned['id']!r} with fields unlike the ones pushed: "
                + describe_difference(pushed, body),
                allowed=json_text(pushed),
                observed=json_text(body),
            )
        warning = takeable[0][1] if all(w is not None for _, w in takeable) else None
        successors = []
        for job, _ in takeable:
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
                allowed=allowed(),
                observed=f"{job.id!r} at {now:g}",
            )
        if job.state == RESERVED and now < job.deadline:
            return root_causes.reserved_while_held(job, now, allowed())
        slack = self.caps.slack
        for p in range(2, job.priority, -1):
            top = self._peek(self.must[p])
            if top is not None:
                return root_causes.out_of_priority(job, self.jobs[top[UID]], slack, allowed())
        top = self._peek(self.must[job.priority])
        if top is not None and top[UID] != job.uid and precedes(top, job):
            return root_causes.out_of_line(job, self.jobs[top[UID]], slack, allowed())
        return None

    def _warning_for(self, job: Job) -> Finding | None:
        """The SHOULD finding (MQ-LOSS-3, MQ-RESTORE-3) taking ``job`` now would earn, if any."""
        if job.failed_push:
            return Finding(
                LOSS_FAILED_PUSH,
                f"job {job.id!r} came out, but the push that queued it reported failure",
                allowed="a push that reports failure queues nothing",
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
        if top is None or top[UID] == job.uid or not precedes(top, job):
            return None
        other = self.jobs[top[UID]]
        ahead = sum(
            1
            for entry in self.should[job.priority]
            if entry[UID] != job.uid and self._live_entry(entry) and precedes(entry, job)
        )
        return Finding(
            RESTORE_PLACE,
            f"reserve returned {job.id!r} while restored job {other.id!r} was ready ahead of it; "
            f"{ahead} restored job(s) lost their original place",
            allowed=f"{other.id!r} first (its original place)",
            observed=repr(job.id),
        )

    def _reserve_null(self, final: bool) -> Transition | Finding:
        best = None
        for p in (2, 1, 0):
            best = self._peek(self.must[p])
            if best is not None:
                break
        if best is None:
            return [self], None
        caps = self.caps
        return root_causes.null_reserve(
            self.jobs[best[UID]],
            final,
            caps.slack,
            caps.reservation_timeout,
            self._describe_allowed(),
        )

    def _reserve_unknown(self) -> Transition:
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

    def delete(self, task: dict[str, Any], outcome: Outcome) -> Transition | Finding:
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
            exact = [u for u in uids if same_json(jobs[u].task, body)]
            if len(exact) < len(uids):
                return self._delete_either(task, outcome, exact)
        return self._delete_among(task, outcome, uids)

    def _delete_either(
        self, task: dict[str, Any], outcome: Outcome, exact: list[int]
    ) -> Transition | Finding:
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
    ) -> Transition | Finding:
        """`delete` with the lookup finding the live jobs ``uids`` (None or empty: none)."""
        ident = task["id"]
        if not uids:
            if isinstance(outcome, Failed):
                return Finding(
                    DELETE_ABSENT,
                    f"delete of {ident!r}, which is not live, failed",
                    allowed="ok",
                    observed=f"error {outcome.message!r}",
                )
            return [self], None
        now = self.now
        slack = self.caps.slack
        tokens = self.caps.reservation_tokens
        token = task.get(TOKEN_KEY) if tokens else None
        # Live jobs with the id: reserved (held); of those, reserved by this caller with the
        # reservation pending, or inside its slack window (maybe). One loop, not three lists.
        held: list[Job] = []
        pending: list[Job] = []
        maybe: list[Job] = []
        jobs = self.jobs
        for u in uids:
            j = jobs[u]
            if j.state == RESERVED:
                held.append(j)
                if not tokens or j.token == token:
                    if now < j.deadline:
                        pending.append(j)
                    elif j.deadline <= now < j.deadline + slack:
                        maybe.append(j)
        if isinstance(outcome, Failed):
            if pending:
                return root_causes.failed_delete_of_pending(ident, pending[0], outcome.message)
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
            return root_causes.deleted_unreserved(
                ident,
                [jobs[u] for u in uids],
                stale=tokens and any(now < j.deadline for j in held),
                states=sorted({STATE_NAMES[jobs[u].state] for u in uids}),
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
