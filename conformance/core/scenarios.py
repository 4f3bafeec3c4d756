"""One deterministic scenario per clause, runnable against any adapter.

A failure here reads as a named clause even without Hypothesis. Each scenario registers with
the clause it exercises and, where it needs one, the capability it depends on; a scenario whose
capability the adapter does not declare is skipped with that reason, never reported as passing.
Scenarios only drive a `Session`; the model judges every answer, so a scenario states *what to
do*, and the contract decides what is allowed (including every freedom the spec grants).

A scenario may have several cases (``cases=``): each runs in a fresh `Session` (the queue is
reset in between), so a bug one case meets does not hide the bug another case would meet, and
the engine reports every distinct clause the scenario breaks, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from mqspec.conformance.core.session import Session
from mqspec.conformance.core.strategies import invalid_tasks_for
from mqspec.reference.clauses import Clause, clause
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities, Ok

__all__ = ["SCENARIOS", "Scenario", "scenario"]

Body = Callable[..., None]
"""``body(session)``, or ``body(session, case)`` for a scenario with cases."""
Need = Callable[[Capabilities], str | None]
Cases = Callable[[Capabilities], Sequence[tuple[str, Any]]]
"""The (label, value) cases of a scenario for a queue declaring these capabilities."""


@attrs.frozen
class Scenario:
    """A named, deterministic case (or set of cases) that exercises one clause."""

    clause: Clause
    name: str
    body: Body
    need: Need | None = None
    cases: Cases | None = None

    def skip_reason(self, caps: Capabilities) -> str | None:
        """Why this scenario cannot run against a queue declaring ``caps``, or None."""
        return self.need(caps) if self.need else None

    def runs(self, caps: Capabilities) -> list[tuple[str, Callable[[Session], None]]]:
        """The (label, run) of each case against a queue declaring ``caps``; one unlabelled
        case for a scenario without cases. Each run gets a fresh session."""
        if self.cases is None:
            return [("", self.body)]
        return [(label, _bound(self.body, value)) for label, value in self.cases(caps)]


def _bound(body: Callable[[Session, Any], None], value: Any) -> Callable[[Session], None]:
    """``body`` with its case value fixed: a run that takes only the session."""
    return lambda session: body(session, value)


SCENARIOS: list[Scenario] = []
"""Every registered scenario, in catalogue order of their clauses."""


def scenario(
    clause_id: str, need: Need | None = None, cases: Cases | None = None
) -> Callable[[Body], Body]:
    """Register the decorated function as the scenario of ``clause_id``.

    With ``cases``, the function takes ``(session, value)`` and runs once per case, each in a
    fresh session.

    Raises:
        UsageError: another scenario already has the same name.
    """

    def register(body: Body) -> Body:
        if any(s.name == body.__name__ for s in SCENARIOS):
            raise UsageError(f"scenario {body.__name__!r} is registered twice")
        SCENARIOS.append(Scenario(clause(clause_id), body.__name__, body, need, cases))
        return body

    return register


def _task(ident: str, priority: int = 1, delay: int = 0, **fields: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"id": ident, "priority": priority, **fields}
    if delay:
        task["delay"] = delay
    return task


def _reserved(s: Session) -> dict[str, Any] | None:
    outcome = s.reserve()
    return outcome.value if isinstance(outcome, Ok) else None


def _needs_slack(caps: Capabilities) -> str | None:
    return None if caps.slack > 0 else "the queue declares slack 0, so there is no slack window"


def _needs_tokens(caps: Capabilities) -> str | None:
    return None if caps.reservation_tokens else "the queue does not declare reservation_tokens"


def _needs_capacity(caps: Capabilities) -> str | None:
    return None if caps.max_jobs is not None else "the queue declares no capacity (max_jobs)"


def _fixed(*cases: tuple[str, Any]) -> Cases:
    return lambda _caps: cases


# ---------------------------------------------------------------- TASK


@scenario("MQ-TASK-1", cases=invalid_tasks_for)
def invalid_tasks_are_refused(s: Session, bad: Any) -> None:
    # One invalid kind per case: a queue that accepts one kind must not hide another.
    s.push(bad)
    s.push(_task("valid-after"))  # the refusal left the queue usable, and queued nothing
    s.drain()


_FN_TASK = _task(
    "fn-task",
    2,
    app_name="myapp",
    path="/hello",
    image="fnproject/hello:0.0.1",
    payload='{"name": "Zoë"} ✓ 🚀',
    timeout=30,
    memory=256,
    env_vars={"FN_FORMAT": "default", "EMPTY": ""},
    extra=[None, True, 0, -(2**53), 2**53, 1.5, -0.25, {"nested": {"deep": ["x"]}}],
)

# Payloads just past the size limits stores commonly have: 32 Ki and 64 Ki, counted in
# characters and in UTF-8 bytes ("é" is two bytes), and 1 MiB.
_KI = 1024
PAYLOAD_SIZES: tuple[tuple[str, str], ...] = (
    ("32 Ki characters + 1", "x" * (32 * _KI + 1)),
    ("32 Ki UTF-8 bytes + 2", "é" * (16 * _KI + 1)),
    ("64 Ki characters + 1", "x" * (64 * _KI + 1)),
    ("64 Ki UTF-8 bytes + 2", "é" * (32 * _KI + 1)),
    ("1 MiB characters", "x" * (1024 * _KI)),
)


@scenario(
    "MQ-TASK-2",
    cases=_fixed(
        ("fn's task fields", _FN_TASK), *((n, _task("big", 1, payload=p)) for n, p in PAYLOAD_SIZES)
    ),
)
def fields_round_trip(s: Session, task: dict[str, Any]) -> None:
    s.push(task)
    s.reserve()
    s.drain()


# ---------------------------------------------------------------- PUSH


@scenario("MQ-PUSH-1")
def valid_push_succeeds(s: Session) -> None:
    s.push(_task("a", 0))
    s.push(_task("b", 2, delay=3))
    s.drain()


@scenario("MQ-PUSH-2")
def duplicate_id_follows_policy(s: Session) -> None:
    s.push(_task("dup", 1, payload="first"))
    s.push(_task("dup", 1, payload="second"))
    first = _reserved(s)
    if first is not None:
        s.delete(first)
    s.push(_task("dup", 2, payload="third"))
    s.drain()


@scenario("MQ-PUSH-3", need=_needs_capacity)
def capacity_may_refuse(s: Session) -> None:
    limit = s.capabilities.max_jobs
    assert limit is not None
    for i in range(limit + 2):
        s.push(_task(f"cap-{i}", i % 3))
    s.drain()


# ---------------------------------------------------------------- READY


@scenario("MQ-READY-1")
def ready_at_once(s: Session) -> None:
    s.push(_task("now"))
    s.reserve()


@scenario("MQ-READY-2")
def delayed_not_early(s: Session) -> None:
    s.push(_task("later", 1, delay=2))
    s.advance(1.5)
    s.reserve()
    s.drain()


@scenario("MQ-READY-3")
def delayed_ready_by_slack(s: Session) -> None:
    s.push(_task("later", 1, delay=2))
    s.advance(2 + s.capabilities.slack)
    s.reserve()


# ---------------------------------------------------------------- ORDER


@scenario("MQ-ORDER-1")
def higher_priority_first(s: Session) -> None:
    s.push(_task("low", 0))
    s.push(_task("mid", 1))
    s.push(_task("high", 2))
    for _ in range(3):
        s.reserve()


@scenario("MQ-ORDER-2")
def fifo_within_priority(s: Session) -> None:
    for name in ("first", "second", "third"):
        s.push(_task(name, 1))
    s.push(_task("delayed", 1, delay=2))
    s.advance(3 + s.capabilities.slack)
    s.push(_task("fourth", 1))
    for _ in range(5):
        s.reserve()


@scenario("MQ-ORDER-3")
def similar_delays_any_order(s: Session) -> None:
    s.push(_task("A", 1, delay=2))
    s.push(_task("C", 1, delay=2))
    s.advance(2 + s.capabilities.slack)
    s.reserve()
    s.reserve()


# ---------------------------------------------------------------- RESERVE


@scenario("MQ-RESERVE-1")
def empty_is_null(s: Session) -> None:
    s.reserve()
    s.push(_task("only"))
    s.reserve()
    s.reserve()


@scenario("MQ-RESERVE-2")
def deleted_never_returns(s: Session) -> None:
    s.push(_task("gone"))
    task = _reserved(s)
    if task is not None:
        s.delete(task)
    s.drain()


@scenario("MQ-RESERVE-3")
def no_double_delivery(s: Session) -> None:
    s.push(_task("held"))
    s.reserve()
    s.advance(s.capabilities.reservation_timeout / 2)
    s.reserve()
    # Just before the deadline: a hair short of T/2 more (a tenth of it, for a tiny T).
    half = s.capabilities.reservation_timeout / 2
    s.advance_to(s.now + half - min(0.001, half / 10))
    s.reserve()


# ---------------------------------------------------------------- RESTORE


@scenario("MQ-RESTORE-1")
def timed_out_job_comes_back(s: Session) -> None:
    s.push(_task("slow"))
    s.reserve()
    s.advance(s.capabilities.reservation_timeout + s.capabilities.slack)
    s.reserve()


@scenario("MQ-RESTORE-2")
def restored_keeps_priority_and_place(s: Session) -> None:
    s.push(_task("A", 2))
    s.push(_task("B", 2))
    s.reserve()
    s.reserve()
    s.push(_task("low", 1))
    s.advance(s.capabilities.reservation_timeout + s.capabilities.slack)
    for _ in range(3):
        s.reserve()


@scenario("MQ-RESTORE-3")
def seed_example_a_b_c(s: Session) -> None:
    for name in ("A", "B", "C"):
        s.push(_task(name, 1))
    s.reserve()
    b = _reserved(s)
    if b is not None:
        s.delete(b)
    s.advance(s.capabilities.reservation_timeout + s.capabilities.slack)
    s.reserve()
    s.reserve()


# ---------------------------------------------------------------- DELETE


@scenario("MQ-DELETE-1")
def delete_pending_removes(s: Session) -> None:
    s.push(_task("done"))
    task = _reserved(s)
    if task is not None:
        s.delete(task)
    s.drain()


@scenario(
    "MQ-DELETE-2",
    cases=_fixed(("a ready job", "ready"), ("a delayed job", "delayed"), ("expired", "expired")),
)
def delete_without_reservation_fails(s: Session, which: str) -> None:
    if which == "ready":
        task = _task("ready")
        s.push(task)
        s.delete(task)  # the task as pushed: it was never reserved
    elif which == "delayed":
        task = _task("delayed", 1, delay=2)
        s.push(task)
        s.delete(task)
    else:
        s.push(_task("expired"))
        reserved = _reserved(s)
        s.advance(s.capabilities.reservation_timeout + s.capabilities.slack)
        if reserved is not None:
            s.delete(reserved)
    s.drain()


@scenario("MQ-DELETE-3", cases=_fixed(("never pushed", "never"), ("deleted twice", "twice")))
def delete_absent_succeeds(s: Session, which: str) -> None:
    if which == "never":
        s.delete(_task("never-pushed"))
        return
    s.push(_task("once"))
    task = _reserved(s)
    if task is not None:
        s.delete(task)
        s.delete(task)


@scenario("MQ-DELETE-4", need=_needs_slack)
def delete_in_slack_window(s: Session) -> None:
    s.push(_task("late"))
    task = _reserved(s)
    s.advance(s.capabilities.reservation_timeout + s.capabilities.slack / 2)
    if task is not None:
        s.delete(task)
    s.drain()


@scenario("MQ-DELETE-5")
def stale_delete(s: Session) -> None:
    s.push(_task("shared"))
    first = _reserved(s)
    s.advance(s.capabilities.reservation_timeout + s.capabilities.slack)
    second = _reserved(s)
    if first is not None:
        s.delete(first)
    if second is not None:
        s.delete(second)
    s.drain()


# ---------------------------------------------------------------- TOKEN


@scenario("MQ-TOKEN-1", need=_needs_tokens)
def reserve_carries_token(s: Session) -> None:
    s.push(_task("tok"))
    task = _reserved(s)
    if task is not None:
        s.delete(task)


# ---------------------------------------------------------------- LOSS


@scenario("MQ-LOSS-1")
def nothing_is_lost(s: Session) -> None:
    timeout = s.capabilities.reservation_timeout
    for i in range(60):
        s.push(_task(f"job-{i}", i % 3, delay=i % 3))
    taken = []
    for _ in range(20):
        task = _reserved(s)
        if task is not None:
            taken.append(task)
    for task in taken[::2]:
        s.delete(task)
    s.advance(timeout * 3)
    s.drain()


DEEP = 150
"""Jobs the deep-queue scenario holds at once: past the 100 and 128 where stores and mutants
that cap a page, a batch or a buffer start to drop work."""


@scenario("MQ-LOSS-1")
def a_deep_queue_loses_nothing(s: Session) -> None:
    # The state machine reaches this depth in virtual time, but on the real clock its few,
    # short examples rarely do; a loss that only starts at depth must not hang on luck.
    for i in range(DEEP):
        s.push(_task(f"deep-{i}", i % 3))
    s.drain()
