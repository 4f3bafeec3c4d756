"""Which clause a divergence breaks, when the observation alone does not say.

The same wrong answer can have different root causes: a Reserve that skips a ready job breaks
the order (MQ-ORDER-1, MQ-ORDER-2) if that job was ready from the start, but the lateness that
kept it hidden (MQ-READY-3, MQ-RESTORE-1) if only time made it ready; and any divergence about
a job that was live before a restart is a broken promise of durability (MQ-DURABLE-1). The
functions here look at the history a `Job` carries (delayed, restored, survived, held over)
and build the `Finding` that names the root cause. Pure: they read jobs and never change them.
"""

from __future__ import annotations

from mqspec.reference.clauses import Clause, clause
from mqspec.reference.job import INF, RESERVED, Job
from mqspec.reference.types import Finding

__all__ = [
    "deleted_unreserved",
    "failed_delete_of_pending",
    "late_cause",
    "null_reserve",
    "out_of_line",
    "out_of_priority",
    "reserved_while_held",
    "returned_deleted",
    "returned_not_live",
]

READY_AT_ONCE = clause("MQ-READY-1")
READY_NOT_LATE = clause("MQ-READY-3")
ORDER_PRIORITY = clause("MQ-ORDER-1")
ORDER_FIFO = clause("MQ-ORDER-2")
RESERVE_UNEXPECTED = clause("MQ-RESERVE-2")
RESERVE_HELD = clause("MQ-RESERVE-3")
RESTORE_LATE = clause("MQ-RESTORE-1")
RESTORE_PRIORITY = clause("MQ-RESTORE-2")
DELETE_PENDING = clause("MQ-DELETE-1")
DELETE_NOT_PENDING = clause("MQ-DELETE-2")
DELETE_STALE = clause("MQ-DELETE-5")
LOSS_DRAIN = clause("MQ-LOSS-1")
DURABLE = clause("MQ-DURABLE-1")


def late_cause(other: Job, consequence: str, slack: float) -> tuple[Clause, str] | None:
    """The root cause when ``other`` is ready only because time made it so, or None.

    A delayed job is certainly ready once its ready time plus slack has passed, and an
    expired reservation certainly restored once its deadline plus slack has; a queue that
    is late with either serves the jobs behind ``other`` first. That lateness is the
    clause to name (MQ-READY-3, MQ-RESTORE-1); the order broken is its consequence.
    """
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


def out_of_priority(job: Job, other: Job, slack: float, allowed: str) -> Finding:
    """Reserve returned ``job`` while ``other``, of a higher priority, was certainly ready."""
    text = f"reserve returned {job.label()} while {other.label()} was ready"
    late = late_cause(other, "a lower priority came first (MQ-ORDER-1)", slack)
    # A queue blind to priority serves by enqueue instant alone, which explains a job
    # enqueued before the delayed one was due: then the order is the clause.
    blind = other.delayed and not other.restored and job.hi < other.ready_at
    if late is not None and not blind and not (job.restored or job.state == RESERVED):
        return Finding(late[0], f"{text}: {late[1]}", allowed, repr(job.id))
    # A restored job on either side means the restore lost the priority.
    restored = job.restored or job.state == RESERVED or other.restored
    if late is not None:
        # The program cannot tell the two apart: say the other explanation too.
        text = f"{text}; or else {late[0].id}: {late[1]}"
    # ``other`` was ready from its push on: it may come out later, or never (a loss).
    return Finding(
        RESTORE_PRIORITY if restored else ORDER_PRIORITY,
        text,
        allowed=allowed,
        observed=repr(job.id),
        passed_over=other.id if late is None else "",
        passed_over_task=other.task if late is None else None,
    )


def out_of_line(job: Job, other: Job, slack: float, allowed: str) -> Finding:
    """Reserve returned ``job`` while ``other``, enqueued before it in its priority, was ready."""
    text = (
        f"reserve returned {job.id!r} while {other.id!r}, enqueued before it in "
        f"priority {job.priority}, was ready"
    )
    late = late_cause(other, "a job enqueued after it came first (MQ-ORDER-2)", slack)
    if late is not None:
        return Finding(late[0], f"{text}: {late[1]}", allowed, repr(job.id))
    return Finding(
        ORDER_FIFO,
        text,
        allowed=allowed,
        observed=repr(job.id),
        passed_over=other.id,
        passed_over_task=other.task,
    )


def reserved_while_held(job: Job, now: float, allowed: str) -> Finding:
    """Reserve returned ``job`` again while its reservation was pending."""
    return Finding(
        DURABLE if job.held_over else RESERVE_HELD,
        f"reserve returned {job.id!r} again while its reservation was pending "
        f"(deadline {job.deadline:g})",
        allowed=allowed,
        observed=f"{job.id!r} at {now:g}",
    )


def returned_not_live(ident: str, acked_before_restart: bool, allowed: str) -> Finding:
    """Reserve returned id ``ident`` with no live job: durability if it was acknowledged."""
    return Finding(
        DURABLE if acked_before_restart else RESERVE_UNEXPECTED,
        f"reserve returned {ident!r}, which is not a live job",
        allowed=allowed,
        observed=repr(ident),
    )


def returned_deleted(ident: str, acked_before_restart: bool, allowed: str) -> Finding:
    """Reserve returned a task a successful Delete acknowledged, while a later job with its id
    is live with other fields: the deleted job came back (durability if it was acknowledged
    before a restart), not a task mangled in transit (MQ-TASK-2)."""
    return Finding(
        DURABLE if acked_before_restart else RESERVE_UNEXPECTED,
        f"reserve returned {ident!r} with the fields of a job already deleted "
        "(the live job with that id was pushed later, with other fields)",
        allowed=allowed,
        observed=repr(ident),
    )


def null_reserve(job: Job, final: bool, slack: float, timeout: float, allowed: str) -> Finding:
    """Reserve returned null while ``job`` was certainly ready.

    ``final``: the Reserve was part of the closing drain, so the job is lost (MQ-LOSS-1).
    ``timeout`` is the reservation timeout, to say when the job was last handed out.
    """
    if job.survived:
        rule, why = DURABLE, "it was live before the queue restarted"
    elif final:
        rule, why = (
            LOSS_DRAIN,
            (
                "after every ready time and deadline plus slack had passed; last seen "
                + _last_seen(job, timeout)
            ),
        )
    elif job.restored:
        rule, why = RESTORE_LATE, f"its reservation ended at {job.deadline:g}"
    elif job.delayed:
        rule, why = READY_NOT_LATE, f"it was due by {job.ready_at + slack:g}"
    else:
        # Ready from its push on: the job may come out later (MQ-READY-1) or never (a loss).
        return Finding(
            READY_AT_ONCE,
            f"reserve returned null while {job.label()} was ready (it was pushed without delay)",
            allowed=allowed,
            observed="null",
            passed_over=job.id,
            passed_over_task=job.task,
        )
    return Finding(
        rule,
        f"reserve returned null while {job.label()} was ready ({why})",
        allowed=allowed,
        observed="null",
    )


def _last_seen(job: Job, timeout: float) -> str:
    """When the harness last saw ``job``: the Reserve that returned it, or its Push."""
    if job.deadline != INF:
        return (
            f"when a Reserve returned it at {job.deadline - timeout:g} "
            f"(its reservation ended at {job.deadline:g})"
        )
    return f"when it was pushed at {job.pushed_at:g}, never reserved since"


def failed_delete_of_pending(ident: str, pending: Job, message: str) -> Finding:
    """Delete of ``ident`` failed (error ``message``) while ``pending`` was reserved."""
    return Finding(
        DURABLE if pending.held_over else DELETE_PENDING,
        f"delete of {ident!r} failed while its reservation was pending "
        f"(deadline {pending.deadline:g})",
        allowed="ok; the job removed",
        observed=f"error {message!r}",
    )


def deleted_unreserved(ident: str, live: list[Job], stale: bool, states: list[str]) -> Finding:
    """Delete of ``ident`` succeeded although none of the ``live`` jobs with it could be deleted.

    ``stale``: the caller's token is stale, another reservation of the job pending (MQ-DELETE-5).
    ``states``: the names of the live jobs' states, sorted, for the message.
    """
    if stale:
        return Finding(
            DELETE_STALE,
            f"delete of {ident!r} with a stale token succeeded; the job is reserved "
            "again under another token",
            allowed="an error; the new reservation kept",
            observed="ok",
        )
    # A queue that forgot the job in a restart answers as if it were absent.
    forgot = all(job.survived for job in live)
    return Finding(
        DURABLE if forgot else DELETE_NOT_PENDING,
        f"delete of {ident!r} succeeded, but it had no pending reservation "
        f"({', '.join(states)}" + ("; it was live before the queue restarted)" if forgot else ")"),
        allowed="an error; the job unchanged",
        observed="ok",
    )
