"""Harness overhead: steps/s of the full conformance machine against a bare Hypothesis machine.

Run: ``.venv/bin/python bench/harness_steps.py [--examples N] [--steps N] [--seed S]``

Two `RuleBasedStateMachine` classes run in one process with the same settings and seed:

* harness: `QueueMachine` from ``machine_for(MemoryQueue())``, the real harness (every rule goes
  through a `Session`: the reference model judges each answer, a transcript is kept, each case
  ends with a checked drain);
* bare: a subclass of that same machine whose ``session`` is a `BareSession`: the harness's own
  rules, preconditions, strategies, bundles and targets (inherited, so the two cannot drift
  apart), but every call goes straight to the `MemoryQueue`: no model, no transcript, no
  checks. Its preconditions' questions (the next ready time or deadline) are answered from the
  queue's own heap, and its drain reserves until the queue is empty, unchecked.

A step is one rule call; every rule of both machines is wrapped in a counter. steps/s = steps /
wall time of the whole Hypothesis run (data generation and Hypothesis's own bookkeeping
included, as a user sees it). With one seed both machines draw the same programs as long as
their preconditions agree (they do for a correct queue), so they also run the same number of
steps.

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
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import RULE_MARKER, RuleBasedStateMachine, get_state_machine_test

from mqspec.adapters.memory import MemoryQueue
from mqspec.conformance.core import statemachine
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.reference.types import Failed, Ok, Outcome

TARGET_SHARE = 0.5

STEPS = [0]  # rule calls so far, shared by both machines (reset between runs)


# ---------------------------------------------------------------- the bare session


class _QueueEvents:
    """Stands in for the session's model where the rules ask it: the upcoming ready times and
    deadlines of live jobs (what `Model.next_events` gives for this slack-0 queue), read from
    the queue's own hidden heap."""

    def __init__(self, session: BareSession) -> None:
        self._session = session

    def next_events(self) -> list[float]:
        now = self._session.now
        return sorted(
            {
                when
                for when, _, gen, job in self._session.adapter._hidden
                if gen == job.gen and job.live and when > now
            }
        )


@dataclasses.dataclass
class _NoTranscript:
    steps: list[Any] = dataclasses.field(default_factory=list)


class BareSession:
    """What `QueueMachine`'s rules call on their `Session`, forwarded straight to the queue.

    It keeps only the virtual time; nothing is copied, judged or recorded, and ``violation``
    stays None. A refused operation is returned as `Failed`, an answer as `Ok`, as the real
    session does, so the rules take the same branches.
    """

    def __init__(self, adapter: MemoryQueue, **_ignored: Any) -> None:
        self.adapter = adapter
        self.capabilities = adapter.capabilities
        self.now = 0.0
        self.model = _QueueEvents(self)
        self.transcript = _NoTranscript()
        self.warnings: list[Any] = []
        self.violation: Any = None
        self.dropped = ""  # never: nothing is timed
        adapter.reset(self.now)

    def advance_to(self, when: float) -> None:
        if when != self.now:
            self.now = when
            self.adapter.tick(when)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now + seconds)

    def push(self, task: Any) -> Outcome:
        try:
            return Ok(self.adapter.push(task, self.now))
        except ValueError as err:  # invalid, duplicate or full: the backend's refusal
            return Failed(str(err))

    def reserve(self) -> Outcome:
        return Ok(self.adapter.reserve(self.now))

    def delete(self, task: Any) -> Outcome:
        try:
            self.adapter.delete(task, self.now)
        except (LookupError, ValueError) as err:
            return Failed(str(err))
        return Ok(None)

    def drain(self) -> None:
        events = self.model.next_events()
        self.advance_to(max(events[-1] if events else self.now, self.now) + 1)
        while self.adapter.reserve(self.now) is not None:
            pass


@contextlib.contextmanager
def _sessions_are_bare() -> Iterator[None]:
    """While active, `QueueMachine.__init__` builds a `BareSession` instead of a `Session`."""
    real = statemachine.Session
    statemachine.Session = BareSession  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        statemachine.Session = real  # type: ignore[misc]


# ---------------------------------------------------------------- building both machines


def rules_of(machine: type[RuleBasedStateMachine]) -> dict[str, Any]:
    """The Hypothesis `Rule` objects of ``machine``, by rule name."""
    return {
        name: getattr(member, RULE_MARKER)
        for name, member in inspect.getmembers(machine)
        if getattr(member, RULE_MARKER, None) is not None
    }


def _counted(name: str, rule: Any) -> Callable[..., Any]:
    """``rule``'s function as a rule with the same arguments, targets, bundles and
    preconditions, counting its calls in `STEPS`."""
    original = rule.function

    def counted(self: Any, **kwargs: Any) -> Any:
        STEPS[0] += 1
        return original(self, **kwargs)

    counted.__name__ = counted.__qualname__ = name
    setattr(counted, RULE_MARKER, dataclasses.replace(rule, function=counted))
    return counted


def build_machines(
    queue: MemoryQueue,
) -> tuple[type[RuleBasedStateMachine], type[RuleBasedStateMachine]]:
    """(harness, bare): the counted harness machine and its bare twin, on one queue.

    Both are subclasses of ``machine_for(queue)`` with every rule read from it and counted;
    the bare one only swaps the session its ``__init__`` builds.
    """
    harness_base = machine_for(queue)
    rules = rules_of(harness_base)
    counted = {name: _counted(name, rule) for name, rule in rules.items()}
    harness = type("QueueMachine", (harness_base,), dict(counted))

    def bare_init(self: Any) -> None:
        with _sessions_are_bare():
            harness_base.__init__(self)
        assert isinstance(self.session, BareSession)

    bare = type("BareMachine", (harness_base,), {**counted, "__init__": bare_init})
    assert set(rules_of(harness)) == set(rules_of(bare)) == set(rules)
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
