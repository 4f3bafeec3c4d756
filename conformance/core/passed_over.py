"""After an order broken or a ready job not served, look for the job passed over: late, or lost?

A Reserve that returns job B while job A should have come first breaks the order (MQ-ORDER-1,
MQ-ORDER-2) if A comes out later, but if A never comes out the queue lost it (MQ-LOSS-1), and
the order is only how the loss first showed: a queue that silently drops a push is seen
serving the next job "out of line". Likewise a Reserve that returns null while A was ready
from its push on breaks MQ-READY-1 if A comes out later, MQ-LOSS-1 if never. The observation
alone cannot tell the two apart, so when a finding names the job it passed over
(`Finding.passed_over`), the session asks the queue once more, after the fact: it lets every
ready time and deadline the model knows pass, then reserves until null. If A never comes out,
the finding becomes MQ-LOSS-1.

On the real clock the look waits past the quiet time plus the session's margin: a queue on its
own clock stamps each call somewhere inside it, so its deadlines can fall up to the margin
after the model's, and a job it still held at the look would seem lost. The look is taken
outside the program: its calls are neither judged nor recorded (the case has already failed;
replaying the program takes the same look). Anything that makes the look unreliable (a call
that raises, an injected fault, an answer that is not a task, more answers than jobs ever
pushed) keeps the order finding as it was: the look can only move a finding to the loss it
proves, never invent one. It is taken only when the model already found a divergence, so it
never turns a passing case into a failing one.

Rule: imports the session's clock and adapter through the session it is given; no front end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from mqspec.reference.clauses import clause
from mqspec.reference.jsonvalue import json_equal, without_token
from mqspec.reference.types import Finding

if TYPE_CHECKING:
    from mqspec.conformance.core.session import Session

__all__ = ["LOST", "root_cause_of"]

LOST = clause("MQ-LOSS-1")


def root_cause_of(session: Session, finding: Finding) -> Finding:
    """``finding``, or the loss it was a consequence of (module docstring)."""
    ident = finding.passed_over
    if not ident:
        return finding
    seen = _reserved_until_null(session, ident, finding.passed_over_task)
    if seen is None:
        return finding
    return attrs.evolve(
        finding,
        clause=LOST,
        message=(
            f"{finding.message}, and {ident!r} never came out: after every ready time and "
            f"deadline the harness knew of had passed, Reserve returned "
            f"{_count(len(seen), 'other job')} and then null. The queue lost {ident!r}; "
            f"the {finding.clause.id} divergence is how the loss first showed"
        ),
        allowed=f"{ident!r} comes out: a job acknowledged by Push stays until it is deleted",
        observed=f"{finding.observed}, then {_listed(seen)} and null, never {ident!r}",
        passed_over="",
    )


def _reserved_until_null(session: Session, ident: str, task: Any) -> list[str] | None:
    """The ids Reserve returned until null when the job ``ident`` never came out; None when it
    did, or when the look cannot be trusted.

    A task with id ``ident`` is that job, unless the id was pushed more than once: duplicate
    ids may be distinct jobs (MQ-PUSH-2), and then only a task equal to ``task`` (the
    reservation token aside) is that job."""
    adapter = session.adapter
    pushes = [step for step in session.transcript.steps if step.op == "push"]
    bound = len(pushes) + 1
    shared = sum(_id_of(step.task) == ident for step in pushes) > 1 and isinstance(task, dict)
    try:
        past = session.margin + 0.01 if session.realtime else 1.0
        when = max(session.model.quiet_time(), session.now) + past
        session.clock.advance_to(when)
        now = None if session.realtime else session.now
        adapter.tick(now)
        seen: list[str] = []
        for _ in range(bound):
            out = adapter.reserve(now)
            if out is None:
                return seen
            if not isinstance(out, dict) or not isinstance(out.get("id"), str):
                return None
            if out["id"] == ident and (not shared or _same_task(out, task)):
                return None
            seen.append(out["id"])
    except Exception:  # a failed call, an injected fault: the look tells nothing
        return None
    return None  # more answers than jobs ever pushed: not a queue to draw conclusions from


def _same_task(out: dict[str, Any], task: dict[str, Any]) -> bool:
    return json_equal(without_token(out), without_token(task))


def _id_of(task: Any) -> Any:
    return task.get("id") if isinstance(task, dict) else None


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _listed(ids: list[str]) -> str:
    if not ids:
        return "no other job"
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
