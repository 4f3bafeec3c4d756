"""The Hypothesis state machine that drives any backend side by side with the model.

Rules use the contract's verbs (push, reserve, delete, advance). Each rule goes through a
`Session`, which judges every answer; a broken clause raises `ContractViolation` and Hypothesis
shrinks the run to a minimal program. Every case ends with a drain (`teardown`) that proves
nothing was lost or delivered twice.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    multiple,
    precondition,
    rule,
)

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.progress import PROGRESS
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.strategies import delays, invalid_tasks, opaque_fields, priorities
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.types import Ok

__all__ = ["QueueMachine", "machine_for"]

_EPSILONS = (-0.001, 0.0, 0.001)


class QueueMachine(RuleBasedStateMachine):
    """Drives ``adapter`` (a class attribute, set by `machine_for`) against the model."""

    adapter: QueueAdapter
    strict: bool = False
    url: str = "memory://"
    findings: list[Any]  # SHOULD warnings of every case, shared across cases by machine_for
    # When each failing case ended (time.monotonic()); the engine gives each run its own list.
    failed_at: ClassVar[list[float]] = []
    # Every case's violation, in the order found: the engine falls back on these when
    # Hypothesis cannot replay a failure (it depended on the backend's own history).
    violations: ClassVar[list[Any]] = []
    steps_run: ClassVar[int] = 0  # operations sent in every case so far (for progress)
    cases_run: ClassVar[int] = 0  # cases ended so far
    cases_dropped: ClassVar[int] = 0  # of those, cases dropped unjudged (`Session.dropped`)
    dropped_why: ClassVar[str] = ""  # the first such case's reason
    dropped_spans: ClassVar[list[tuple[float, float]]] = []  # their slow calls' times

    pushed = Bundle("pushed")
    reserved = Bundle("reserved")

    def __init__(self) -> None:
        super().__init__()
        PROGRESS.case()
        self.session = Session(self.adapter, strict=self.strict, url=self.url)
        self.counter = 0
        self.deadlines: list[float] = []  # of the reservations this case made, for time rules

    def _new_id(self) -> str:
        self.counter += 1
        return f"job-{self.counter}"

    # ---------------------------------------------------------------- push

    @rule(target=pushed, priority=priorities, delay=delays, fields=opaque_fields)
    def push(self, priority: int, delay: int, fields: dict[str, Any]) -> Any:
        return self._push_one(priority, delay, fields)

    @rule(
        target=pushed,
        count=st.one_of(st.integers(1, 10), st.integers(11, 150)),
        priority_seed=st.integers(0, 2**16),
        delayed=st.booleans(),
    )
    def push_many(self, count: int, priority_seed: int, delayed: bool) -> Any:
        """Up to 150 jobs at once, so deep queues and capacity limits are reached quickly.

        Half the draws are small (1-10) and the count shrinks towards 1: a failing case whose
        depth does not matter shrinks to a few pushes, and each shrink attempt replays fewer.
        """
        return self._push_batch(count, priority_seed, delayed, longest_delay=7)

    def _push_one(self, priority: int, delay: int, fields: dict[str, Any]) -> Any:
        task = {**fields, "id": self._new_id(), "priority": priority}
        if delay:
            task["delay"] = delay
        self.session.push(task)
        return task

    def _push_batch(self, count: int, priority_seed: int, delayed: bool, longest_delay: int) -> Any:
        """``count`` jobs, priorities from the seed's bits, every fourth delayed when asked."""
        tasks = []
        for i in range(count):
            task: dict[str, Any] = {
                "id": self._new_id(),
                "priority": (priority_seed >> (i % 16)) % 3,
            }
            if delayed and i % 4 == 0:
                task["delay"] = 1 + i % longest_delay
            self.session.push(task)
            tasks.append(task)
        return multiple(*tasks[:5])

    @rule(target=pushed, original=pushed, priority=priorities)
    def push_duplicate_id(self, original: dict[str, Any], priority: int) -> Any:
        """A push whose id may be live: the declared duplicate policy decides (MQ-PUSH-2)."""
        task = {"id": original["id"], "priority": priority, "payload": f"dup-{self.counter}"}
        self.counter += 1
        self.session.push(task)
        return task

    @rule(data=st.data())
    def push_invalid(self, data: st.DataObject) -> None:
        """Every kind of invalid task must be refused and leave the queue unchanged (MQ-TASK-1)."""
        _, bad = data.draw(invalid_tasks(self.session.capabilities), label="invalid task")
        self.session.push(bad)

    # ---------------------------------------------------------------- reserve and delete

    @rule(target=reserved)
    def reserve(self) -> Any:
        outcome = self.session.reserve()
        if isinstance(outcome, Ok) and outcome.value is not None:
            self.deadlines.append(self.session.now + self.session.capabilities.reservation_timeout)
            return outcome.value
        return multiple()

    def _pending_deadlines(self) -> list[float]:
        now = self.session.now
        return [d for d in self.deadlines if d > now]

    @precondition(lambda self: bool(self._pending_deadlines()))
    @rule(data=st.data(), before=st.sampled_from([0.01, 0.5, 0.99]))
    def advance_into_a_lease_last_second(self, data: st.DataObject, before: float) -> None:
        """Stop inside the last second of a pending reservation: a Delete refused there (a
        deadline compared in whole seconds, a skew margin taken off the lease) shows next."""
        when = data.draw(st.sampled_from(self._pending_deadlines()[-4:]), label="deadline")
        self.session.advance_to(max(when - before, self.session.now))

    @rule(task=consumes(reserved))
    def delete_reserved(self, task: dict[str, Any]) -> None:
        self.session.delete(task)

    @rule(task=reserved)
    def delete_again(self, task: dict[str, Any]) -> None:
        """Delete a reserved task again: twice, or stale after expiry and re-reservation."""
        self.session.delete(task)

    @rule(task=pushed)
    def delete_pushed(self, task: dict[str, Any]) -> None:
        """Delete the task as pushed (no token): a ready, delayed or reserved job, or a gone
        one. The whole task, as a caller holds it: a queue may find the job by any field."""
        self.session.delete(task)

    @rule(name=st.text(min_size=1, max_size=10))
    def delete_unknown(self, name: str) -> None:
        self.session.delete({"id": f"never-{name}", "priority": 1})

    @precondition(lambda self: self.session.capabilities.reservation_tokens)
    @rule(task=reserved)
    def delete_forged_token(self, task: dict[str, Any]) -> None:
        """A Delete whose token the queue never issued must not acknowledge anything."""
        self.session.delete({**task, TOKEN_KEY: "forged-token"})

    # ---------------------------------------------------------------- time

    @rule(seconds=st.sampled_from([0.001, 0.5, 1, 2.5, 7]))
    def advance(self, seconds: float) -> None:
        self.session.advance(seconds)

    @precondition(lambda self: bool(self.session.model.next_events()))
    @rule(data=st.data())
    def advance_to_event(self, data: st.DataObject) -> None:
        """Land exactly on, or just around, a ready time or deadline (or its slack end)."""
        events = self.session.model.next_events()[:6]
        when = data.draw(st.sampled_from(events), label="event")
        when += data.draw(st.sampled_from(_EPSILONS), label="offset")
        self.session.advance_to(max(when, self.session.now))

    @precondition(lambda self: bool(self.session.model.next_events()))
    @rule(data=st.data(), before=st.sampled_from([0.01, 0.5, 0.99]))
    def advance_into_last_second(self, data: st.DataObject, before: float) -> None:
        """Stop inside the last second before a deadline or ready time, or just after one:
        bugs live there (a Delete refused in the last second of its lease, a delay computed
        from a push time cut to whole seconds)."""
        events = self.session.model.next_events()[:6]
        when = data.draw(st.sampled_from(events), label="event")
        after = data.draw(st.booleans(), label="after")
        when = when + before / 10 if after else when - before
        self.session.advance_to(max(when, self.session.now))

    @precondition(lambda self: bool(self.session.model.next_events()))
    @rule(fraction=st.sampled_from([0.5, 0.9]))
    def advance_partway(self, fraction: float) -> None:
        """Stop part of the way to the next ready time or deadline: a job that shows up there
        came early (a delay or a reservation shorter than declared)."""
        now = self.session.now
        self.session.advance_to(now + (self.session.model.next_events()[0] - now) * fraction)

    @rule(factor=st.sampled_from([1, 2, 10, 0.5, 0.75]))
    def advance_far(self, factor: float) -> None:
        """Jump past whole reservation timeouts at once (several expire together), or into the
        middle of one (a reservation shorter than declared shows there)."""
        self.session.advance(self.session.capabilities.reservation_timeout * factor)

    # ---------------------------------------------------------------- end of case

    def teardown(self) -> None:
        # Hypothesis calls teardown even after a rule raised. Draining then would judge a
        # backend the model no longer tracks, and the drain's finding would replace the rule's.
        try:
            # A case dropped unjudged (a call slower than the real-clock margin) left the
            # queue where the model cannot follow: it is not drained either.
            if self.session.violation is None and not self.session.dropped:
                self.session.drain()
        finally:
            type(self).cases_run += 1
            if self.session.dropped:
                type(self).cases_dropped += 1
                type(self).dropped_why = type(self).dropped_why or self.session.dropped
                if self.session.dropped_span is not None:
                    # Assigned, not appended: a machine class not made by `machine_for` would
                    # otherwise add to the list every machine inherits from this one.
                    spans = [*type(self).dropped_spans, self.session.dropped_span]
                    type(self).dropped_spans = spans
            type(self).steps_run += sum(
                step.op not in ("advance", "restart") for step in self.session.transcript.steps
            )
            self.findings.extend(self.session.warnings)
            if self.session.violation is not None:
                self.failed_at.append(time.monotonic())
                self.violations.append(self.session.violation)


def machine_for(
    adapter: QueueAdapter,
    *,
    strict: bool = False,
    url: str = "memory://",
    base: type[QueueMachine] = QueueMachine,
) -> type[QueueMachine]:
    """A subclass of ``base`` (`QueueMachine`, or its real-clock form) bound to one adapter."""
    return type(
        base.__name__,
        (base,),
        {
            "adapter": adapter,
            "strict": strict,
            "url": url,
            "findings": [],
            "steps_run": 0,
            "cases_run": 0,
            "cases_dropped": 0,
            "dropped_why": "",
            "dropped_spans": [],
        },
    )
