"""Harness overhead: steps/s of the full conformance machine against a bare Hypothesis machine.

Run: ``.venv/bin/python bench/harness_steps.py [--examples N] [--steps N] [--seed S]``

Two `RuleBasedStateMachine` classes run in one process with the same settings and seed:

* harness: `QueueMachine` from ``machine_for(MemoryQueue())``, the real harness (every rule goes
  through a `Session`: the reference model judges each answer, a transcript is kept, each case
  ends with a checked drain);
* bare: the same rule names, argument strategies, bundles and targets (taken from the harness's
  own rules, so the two cannot drift apart), driving a `MemoryQueue` directly: no Session, no
  model, no checks. Its teardown drains the queue unchecked, like the harness's drain.

A step is one rule call; each rule increments a counter (the harness's rules are wrapped, the
bare ones count themselves). steps/s = steps / wall time of the whole Hypothesis run (data
generation and Hypothesis's own bookkeeping included, as a user sees it). With one seed both
machines draw the same programs as long as their preconditions agree (they do for a correct
queue), so they also run the same number of steps.

Target (printed with PASS/MISS; the process never fails on a miss): the harness keeps at least
50% of the bare machine's steps/s. Figures are from one run on a possibly noisy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import inspect
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import hypothesis
from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RULE_MARKER,
    Bundle,
    RuleBasedStateMachine,
    get_state_machine_test,
    multiple,
)

from mqspec.adapters.memory import MemoryQueue
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.reference.jsonvalue import TOKEN_KEY

TARGET_SHARE = 0.5
_EPSILONS = (-0.001, 0.0, 0.001)  # as in mqspec.conformance.core.statemachine

STEPS = [0]  # rule calls so far, shared by both machines (reset between runs)


# ---------------------------------------------------------------- the bare machine's rules


class _BareBase(RuleBasedStateMachine):
    """A MemoryQueue driven directly: the harness's rules without Session, model or checks."""

    queue: MemoryQueue
    pushed = Bundle("pushed")
    reserved = Bundle("reserved")

    def __init__(self) -> None:
        super().__init__()
        self.caps = self.queue.capabilities
        self.now = 0.0
        self.queue.reset(0.0)
        self.counter = 0

    def _new_id(self) -> str:
        self.counter += 1
        return f"job-{self.counter}"

    def _push(self, task: Any) -> None:
        # A refusal (invalid task, duplicate id, full) is the backend's answer; nothing to do.
        with contextlib.suppress(ValueError):
            self.queue.push(task, self.now)

    def _delete(self, task: Any) -> None:
        with contextlib.suppress(LookupError, ValueError):
            self.queue.delete(task, self.now)

    def _events(self) -> list[float]:
        """Upcoming ready times and deadlines of live jobs (what the model's next_events gives
        for this slack-0 queue), read from the queue's own hidden heap."""
        now = self.now
        return sorted(
            {
                when
                for when, _, gen, job in self.queue._hidden
                if gen == job.gen and job.live and when > now
            }
        )

    def _advance_to(self, when: float) -> None:
        if when != self.now:
            self.now = when
            self.queue.tick(when)

    def teardown(self) -> None:
        events = self._events()
        self._advance_to(max(events[-1] if events else self.now, self.now) + 1)
        while self.queue.reserve(self.now) is not None:
            pass


def _bare_push(self: Any, priority: int, delay: int, fields: dict[str, Any]) -> Any:
    STEPS[0] += 1
    task = {**fields, "id": self._new_id(), "priority": priority}
    if delay:
        task["delay"] = delay
    self._push(task)
    return task


def _bare_push_many(self: Any, count: int, priority_seed: int, delayed: bool) -> Any:
    STEPS[0] += 1
    tasks = []
    for i in range(count):
        task: dict[str, Any] = {"id": self._new_id(), "priority": (priority_seed >> (i % 16)) % 3}
        if delayed and i % 4 == 0:
            task["delay"] = 1 + i % 7
        self._push(task)
        tasks.append(task)
    return multiple(*tasks[:5])


def _bare_push_duplicate_id(self: Any, original: dict[str, Any], priority: int) -> Any:
    STEPS[0] += 1
    task = {"id": original["id"], "priority": priority, "payload": f"dup-{self.counter}"}
    self.counter += 1
    self._push(task)
    return task


def _bare_push_invalid(self: Any, bad: tuple[str, Any]) -> None:
    STEPS[0] += 1
    self._push(bad[1])


def _bare_reserve(self: Any) -> Any:
    STEPS[0] += 1
    out = self.queue.reserve(self.now)
    return out if out is not None else multiple()


def _bare_delete_reserved(self: Any, task: dict[str, Any]) -> None:
    STEPS[0] += 1
    self._delete(task)


def _bare_delete_again(self: Any, task: dict[str, Any]) -> None:
    STEPS[0] += 1
    self._delete(task)


def _bare_delete_pushed(self: Any, task: dict[str, Any]) -> None:
    STEPS[0] += 1
    self._delete({"id": task["id"], "priority": task["priority"]})


def _bare_delete_unknown(self: Any, name: str) -> None:
    STEPS[0] += 1
    self._delete({"id": f"never-{name}", "priority": 1})


def _bare_delete_forged_token(self: Any, task: dict[str, Any]) -> None:
    STEPS[0] += 1
    self._delete({**task, TOKEN_KEY: "forged-token"})


def _bare_advance(self: Any, seconds: float) -> None:
    STEPS[0] += 1
    self._advance_to(self.now + seconds)


def _bare_advance_to_event(self: Any, data: st.DataObject) -> None:
    STEPS[0] += 1
    events = self._events()[:6]
    when = data.draw(st.sampled_from(events), label="event")
    when += data.draw(st.sampled_from(_EPSILONS), label="offset")
    self._advance_to(max(when, self.now))


def _bare_advance_far(self: Any, factor: int) -> None:
    STEPS[0] += 1
    self._advance_to(self.now + self.caps.reservation_timeout * factor)


BARE_RULES: dict[str, Callable[..., Any]] = {
    "push": _bare_push,
    "push_many": _bare_push_many,
    "push_duplicate_id": _bare_push_duplicate_id,
    "push_invalid": _bare_push_invalid,
    "reserve": _bare_reserve,
    "delete_reserved": _bare_delete_reserved,
    "delete_again": _bare_delete_again,
    "delete_pushed": _bare_delete_pushed,
    "delete_unknown": _bare_delete_unknown,
    "delete_forged_token": _bare_delete_forged_token,
    "advance": _bare_advance,
    "advance_to_event": _bare_advance_to_event,
    "advance_far": _bare_advance_far,
}

# The harness's preconditions read its Session; the bare machine asks the queue instead.
BARE_PRECONDITIONS: dict[str, Callable[[Any], bool]] = {
    "advance_to_event": lambda self: bool(self._events()),
    "delete_forged_token": lambda self: self.caps.reservation_tokens,
}


# ---------------------------------------------------------------- building both machines


def _rules_of(machine: type[RuleBasedStateMachine]) -> dict[str, Any]:
    """The Hypothesis `Rule` objects of ``machine``, by rule name."""
    return {
        name: getattr(member, RULE_MARKER)
        for name, member in inspect.getmembers(machine)
        if getattr(member, RULE_MARKER, None) is not None
    }


def _as_rule(rule: Any, function: Callable[..., Any], **changes: Any) -> Callable[..., Any]:
    """``function`` as a rule with ``rule``'s arguments, targets and bundles."""
    function.hypothesis_stateful_rule = dataclasses.replace(  # type: ignore[attr-defined]
        rule, function=function, **changes
    )
    assert RULE_MARKER == "hypothesis_stateful_rule"
    return function


def _counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(self: Any, **kwargs: Any) -> Any:
        STEPS[0] += 1
        return original(self, **kwargs)

    counted.__name__ = counted.__qualname__ = name
    return counted


def build_machines(
    queue: MemoryQueue,
) -> tuple[type[RuleBasedStateMachine], type[RuleBasedStateMachine]]:
    """(harness, bare): the counted harness machine and its bare twin, on one queue."""
    harness_base = machine_for(queue)
    rules = _rules_of(harness_base)
    if set(rules) != set(BARE_RULES):
        raise SystemExit(
            "the harness's rules changed; update BARE_RULES in bench/harness_steps.py: "
            f"harness has {sorted(rules)}, the bare machine {sorted(BARE_RULES)}"
        )
    unknown = {n for n, r in rules.items() if r.preconditions} - set(BARE_PRECONDITIONS)
    if unknown:
        raise SystemExit(f"new preconditions on {sorted(unknown)}; update BARE_PRECONDITIONS")

    harness_members = {
        name: _as_rule(rule, _counted(name, rule.function)) for name, rule in rules.items()
    }
    harness = type("QueueMachine", (harness_base,), harness_members)

    bare_members: dict[str, Any] = {"queue": queue}
    for name, rule in rules.items():
        function = BARE_RULES[name]
        function.__name__ = function.__qualname__ = name
        pre = (BARE_PRECONDITIONS[name],) if rule.preconditions else ()
        bare_members[name] = _as_rule(rule, function, preconditions=pre)
    bare = type("BareMachine", (_BareBase,), bare_members)
    assert set(_rules_of(harness)) == set(_rules_of(bare)) == set(rules)
    return harness, bare


def run_machine(
    machine: type[RuleBasedStateMachine], examples: int, steps: int, seed: int
) -> tuple[int, float, float]:
    """Run ``machine`` with Hypothesis; return (steps, wall seconds, CPU seconds)."""
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    test = get_state_machine_test(machine, settings=config)
    hypothesis_seed(seed)(test)
    STEPS[0] = 0
    gc.collect()  # neither run pays for the other's garbage
    c0 = time.process_time()
    t0 = time.perf_counter()
    test()
    wall = time.perf_counter() - t0
    return STEPS[0], wall, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="max_examples")
    parser.add_argument("--steps", type=int, default=40, help="stateful_step_count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    queue = MemoryQueue()
    harness, bare = build_machines(queue)
    assert issubclass(harness, QueueMachine)
    print(
        f"harness vs bare Hypothesis machine on MemoryQueue (Python {platform.python_version()}, "
        f"Hypothesis {hypothesis.__version__}, max_examples={args.examples}, "
        f"stateful_step_count={args.steps}, seed {args.seed}, deadline=None, database=None)"
    )
    # Warm both up (strategy caches, first imports) so neither pays it inside its timing.
    run_machine(bare, 3, args.steps, args.seed + 1)
    run_machine(harness, 3, args.steps, args.seed + 1)

    results = {}
    for name, machine in (("bare", bare), ("harness", harness)):
        results[name] = run_machine(machine, args.examples, args.steps, args.seed)

    print(f"\n{'machine':>8} {'steps':>7} {'seconds':>8} {'steps/s':>9} {'cpu s':>7} {'cpu/s':>9}")
    for name, (n, wall, cpu) in results.items():
        print(f"{name:>8} {n:>7} {wall:>8.2f} {n / wall:>9,.0f} {cpu:>7.2f} {n / cpu:>9,.0f}")
    (nb, wb, cb), (nh, wh, ch) = results["bare"], results["harness"]
    share = (nh / wh) / (nb / wb)
    cpu_share = (nh / ch) / (nb / cb)
    if nb != nh:
        print(f"note: the two runs took different step counts ({nh} vs {nb})")
    print(
        f"\nharness steps/s as a share of bare: {share:.0%} (bare is {1 / share:.1f}x faster)"
        f"   [cpu {cpu_share:.0%}]"
    )
    print(
        f"target: harness keeps >= {TARGET_SHARE:.0%} of the bare machine's steps/s: "
        f"{'PASS' if share >= TARGET_SHARE else 'MISS'}   "
        f"[cpu {'PASS' if cpu_share >= TARGET_SHARE else 'MISS'}]"
    )
    print("figures are from one run on a noisy machine (wall time; process CPU time in brackets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
