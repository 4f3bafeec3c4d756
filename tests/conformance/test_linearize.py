"""Tests of `mqspec.conformance.concurrency.linearize`: the exact checker, against a brute-force
enumerator.

The brute force below shares nothing with the checker but the model and the rule for the
instants an operation may take effect at (reimplemented here): it walks every order consistent
with real time, without memoisation, heuristics or windows. On thousands of small random
histories (valid by construction, and perturbed) the two must agree; a history valid by
construction must never be called NotLinearizable; every witness is replayed independently;
and the fast checker must flag nothing the brute force accepts.
"""

from __future__ import annotations

import copy
import math
import random

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.conformance.concurrency import fastcheck, linearize
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.linearize import Linearizable, NotLinearizable, Undecided
from mqspec.reference.model import Model
from mqspec.reference.types import Capabilities, Failed, Ok
from mqspec.reference.types import Unknown as Cut

INF = math.inf


# ---------------------------------------------------------------- random small histories


def random_history(
    rng: random.Random,
    size: int,
    drain: float | None = None,
    cuts: float = 0.08,
    timeouts: tuple[float, ...] = (100.0, 100.0, 2.5, 1.5),
    ids: str = "ABCD",
) -> tuple[History, bool]:
    """A small history and whether it is valid by construction.

    A correct queue (`MemoryQueue`) runs the operations one by one at increasing instants; each
    operation's window is drawn around its instant, for one of 2-3 clients idle by then. Then,
    half the time, one result is perturbed (the history may or may not stay valid).
    """
    timeout = rng.choice(timeouts)
    slack = rng.choice([0, 0, 0.5])
    caps_queue = MemoryQueue(timeout=timeout)
    caps = Capabilities(reservation_timeout=timeout, slack=slack, timeout_settable=True)
    clients = rng.choice([2, 3])
    free = [-INF] * clients
    held: list[dict] = []
    pushed: list[dict] = []
    ops: list[Operation] = []
    at = 0.0
    for n in range(size):
        at += rng.uniform(0.1, 1.0)
        width = rng.choice([0.2, 0.8, 1.5])
        invoke, complete = at - rng.uniform(0, width), at + rng.uniform(0, width)
        idle = [c for c in range(clients) if free[c] < invoke]
        if not idle:
            continue
        client = rng.choice(idle)
        free[client] = complete
        kind = rng.choice(["push", "push", "reserve", "reserve", "delete"])
        if kind == "delete" and not (held or pushed):
            kind = "push"
        task = None
        if kind == "push":
            task = {"id": rng.choice(ids), "priority": rng.randrange(3)}
            if rng.random() < 0.15:
                task["delay"] = rng.choice([1, 2])
            pushed.append(task)
        elif kind == "delete":
            task = rng.choice(held) if held and rng.random() < 0.8 else rng.choice(pushed)
        try:
            if kind == "push":
                result = Ok(caps_queue.push(dict(task), at))
            elif kind == "reserve":
                result = Ok(caps_queue.reserve(at))
                if result.value is not None:
                    held.append(result.value)
            else:
                caps_queue.delete(dict(task), at)
                result = Ok(None)
        except Exception as err:
            result = Failed(f"{type(err).__name__}: {err}")
        if rng.random() < cuts:
            result, complete = Cut("cut"), None
        ops.append(
            Operation(
                client=client, op=kind, task=task, invoke=invoke, complete=complete, result=result
            )
        )
        del n
    if drain is None:  # short enough for the brute force, with the drain
        drain = 0.4 if len(ops) <= 5 else 0.0
    if rng.random() < drain:  # a drain, after every deadline and delay
        at += timeout + slack + 5
        for _ in range(len(pushed) + 1):
            value = caps_queue.reserve(at)
            ops.append(
                Operation(
                    client=clients,
                    op="reserve",
                    invoke=at,
                    complete=at + 0.01,
                    result=Ok(value),
                    drain=True,
                )
            )
            at += 0.02
            if value is None:
                break
    valid = True
    answered = [k for k, op in enumerate(ops) if op.complete is not None]
    if answered and rng.random() < 0.5:
        valid = False
        k = rng.choice(answered)
        ops[k] = perturb(rng, ops[k], pushed)
    return History(capabilities=caps, operations=ops), valid


def perturb(rng: random.Random, op: Operation, pushed: list[dict]) -> Operation:
    """The same call with another plausible result."""
    if op.op == "reserve":
        choices = [None, *pushed, {"id": "Z", "priority": 1}]
        value = rng.choice(choices)
        result = Ok(dict(value) if value else None)
    elif op.op == "delete" or rng.random() < 0.5:
        result = Failed("perturbed") if isinstance(op.result, Ok) else Ok(None)
    else:
        result = Failed("perturbed")
    return Operation(
        client=op.client,
        op=op.op,
        task=op.task,
        invoke=op.invoke,
        complete=op.complete,
        result=result,
        drain=op.drain,
    )


# ---------------------------------------------------------------- the brute force


def flags(history: History) -> tuple[bool, list[bool], list[bool]]:
    """`linearize.timing`, the naive O(n^2) way."""
    ops = history.operations
    caps = history.capabilities
    ranges = {}  # op -> (start, end, the kinds of operation that compare with it)
    for j, op in enumerate(ops):
        if op.op == "reserve" and (op.complete is None or op.returned is not None):
            t = caps.reservation_timeout
            ranges[j] = (op.invoke + t, op.end + t + caps.slack, ("reserve", "delete"))
        elif op.op == "push" and isinstance(op.task, dict) and op.task.get("delay", 0) > 0:
            d = op.task["delay"]
            ranges[j] = (op.invoke + d, op.end + d + caps.slack, ("reserve", "push"))
    late = [False] * len(ops)
    watch = [False] * len(ops)
    for j, (a, b, kinds) in ranges.items():
        for k, other in enumerate(ops):
            if k != j and other.op in kinds and other.invoke <= b and a <= other.end:
                late[j] = watch[k] = True
            if k != j and k in ranges and ops[k].op == ops[j].op == "push":
                c, d, _ = ranges[k]
                if c <= b and a <= d:
                    late[j] = late[k] = True
    return not any(late), watch, late


def brute(history: History) -> list[tuple[int, float]] | None:
    """A linearization (operation, now) found by walking every real-time-consistent order."""
    ops = history.operations
    _, watch, late = flags(history)
    required = {i for i, op in enumerate(ops) if op.complete is not None}

    def walk(model: Model, placed: frozenset[int]) -> list[tuple[int, float]] | None:
        if required <= placed:
            return []
        pending = [i for i in range(len(ops)) if i not in placed]
        soonest = min(ops[i].end for i in pending if i in required)
        for i in pending:
            if ops[i].invoke > soonest:
                continue
            floor = max(ops[i].invoke, model.now)
            times = [floor]
            if watch[i]:
                times += [t for t in model.next_events() if floor < t <= soonest]
            if late[i] and floor < soonest < INF and soonest not in times:
                times.append(soonest)
            for t in times:
                child = linearize.fork(model)  # a copy (see test_fork_is_a_deep_copy)
                verdict = linearize.apply(child, ops[i], t)
                if verdict.violation is None and not child.inconclusive:
                    rest = walk(child, placed | {i})
                    if rest is not None:
                        return [(i, t), *rest]
        return None

    start = min((op.invoke for op in ops), default=0.0)
    return walk(Model(history.capabilities, min(0.0, start)), frozenset())


def replay(history: History, order: tuple[int, ...], times: tuple[float, ...]) -> None:
    """Check a witness on its own: real time, windows, monotone clock, every result accepted."""
    ops = history.operations
    assert len(set(order)) == len(order)
    assert {i for i, op in enumerate(ops) if op.complete is not None} <= set(order)
    model = Model(history.capabilities, min(0.0, min(op.invoke for op in ops)))
    for n, (i, t) in enumerate(zip(order, times, strict=True)):
        assert ops[i].invoke <= t <= ops[i].end
        for later in order[n + 1 :]:
            assert not ops[later].end < ops[i].invoke, "real-time order broken"
        verdict = linearize.apply(model, ops[i], t)
        assert verdict.violation is None, verdict.violation
    unplaced = set(range(len(ops))) - set(order)
    for i in unplaced:  # only calls that never returned may stay out
        assert ops[i].complete is None


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize("seed", range(10))
def test_agrees_with_brute_force_on_random_histories(seed):
    rng = random.Random(seed)
    counts = {"lin": 0, "not": 0, "unknown": 0}
    for n in range(400):
        history, valid = random_history(rng, rng.randint(2, 7))
        expected = brute(history)
        separated, _, _ = flags(history)
        assert flags(history) == linearize.timing(history)
        for kwargs in (
            {},
            {"quick_nodes": 0, "window_nodes": 2, "max_carry": 2},
            {"windows": False},
        ):
            result = linearize.check(history, **kwargs)
            where = f"seed {seed} history {n} {kwargs}"
            if expected is not None:
                assert isinstance(result, Linearizable), where
                replay(history, result.order, result.times)
            elif separated:
                assert isinstance(result, NotLinearizable), where
            else:
                assert isinstance(result, Undecided) and result.failure is not None, where
            if valid:
                assert not isinstance(result, NotLinearizable), where
        if valid and separated:
            assert expected is not None, f"seed {seed} history {n}: valid by construction"
        if fastcheck.find_anomalies(history):
            assert expected is None and not valid, f"seed {seed} history {n}: false alarm"
        counts["lin" if expected is not None else "not" if separated else "unknown"] += 1
    # The generator must exercise every answer.
    assert min(counts.values()) > 10, counts


@pytest.mark.parametrize(
    ("options", "budget"),
    [
        # Time-separated but for delayed pushes.
        ({"cuts": 0.0, "timeouts": (100.0,), "ids": "ABCDEFGHIJKLMNOP"}, 5.0),
        # Restores, cut calls, duplicate ids: often not time-separated, or past the model's
        # bound on possible states, and then Undecided is a fair answer.
        ({}, 0.2),
    ],
)
def test_longer_valid_histories_pass_both_checkers(options, budget):
    # Too long for the brute force, but valid by construction: no anomaly may be flagged, and
    # no NotLinearizable answered (a witness is found whenever the history is time-separated).
    rng = random.Random(99)
    checked = separated = 0
    while checked < 60:
        history, valid = random_history(rng, rng.randint(15, 40), drain=0.7, **options)
        if not valid:
            continue
        checked += 1
        assert fastcheck.find_anomalies(history) == (), checked
        result = linearize.check(history, budget=budget)
        assert not isinstance(result, NotLinearizable), checked
        if linearize.timing(history)[0]:
            separated += 1
            assert isinstance(result, Linearizable), checked
            replay(history, result.order, result.times)
    if options:
        assert separated > 10


# ---------------------------------------------------------------- hand-written cases

CAPS = Capabilities(reservation_timeout=100)


def task(ident, priority=1, **extra):
    return {"id": ident, "priority": priority, **extra}


def call(client, kind, invoke, complete, result, arg=None, drain=False, caps=None):
    if kind == "push" and arg is not None and result == "ok":
        result = Ok(arg)
    elif result == "ok":
        result = Ok(None)
    elif isinstance(result, str):
        result = Ok(task(result)) if result != "null" else Ok(None)
    return Operation(
        client=client,
        op=kind,
        task=arg,
        invoke=invoke,
        complete=complete,
        result=result,
        drain=drain,
    )


def history(*ops, caps=CAPS):
    return History(capabilities=caps, operations=list(ops))


def test_a_history_valid_only_in_an_order_unlike_invocation_and_completion():
    # B is invoked and completes last, but must come first: the reserves say so.
    h = history(
        call(0, "push", 0, 10, "ok", task("A")),
        call(1, "push", 1, 11, "ok", task("B")),
        call(2, "reserve", 12, 13, "B"),
        call(2, "reserve", 14, 15, "A"),
    )
    result = linearize.check(h)
    assert isinstance(result, Linearizable)
    assert result.order.index(1) < result.order.index(0)
    assert brute(h) is not None
    assert fastcheck.find_anomalies(h) == ()


def test_a_reserve_that_must_take_effect_before_a_push_it_overlaps():
    # R returned L (priority 0) while H (priority 2) was being pushed: R went first.
    h = history(
        call(0, "push", 0, 1, "ok", task("L", 0)),
        call(1, "push", 2, 6, "ok", task("H", 2)),
        call(2, "reserve", 3, 5, Ok(task("L", 0))),
        call(2, "reserve", 7, 8, Ok(task("H", 2))),
    )
    result = linearize.check(h)
    assert isinstance(result, Linearizable)
    assert result.order.index(2) < result.order.index(1)


def test_not_linearizable_names_the_prefix_the_operation_and_the_clause():
    h = history(
        call(0, "push", 0, 1, "ok", task("A")),
        call(0, "push", 2, 3, "ok", task("B")),
        call(1, "reserve", 4, 5, "B"),
    )
    result = linearize.check(h)
    assert isinstance(result, NotLinearizable)
    assert result.prefix == (0, 1) and result.operation == 2
    assert result.clause.id == "MQ-ORDER-2"
    assert result.times == (0, 2)


def test_a_call_that_never_returned_may_take_effect_late_or_not_at_all():
    cut_push = call(0, "push", 0, None, Cut("cut"), task("A"))
    took = history(cut_push, call(1, "reserve", 5, 6, "null"), call(1, "reserve", 7, 8, "A"))
    assert isinstance(linearize.check(took), Linearizable)
    never = history(cut_push, call(1, "reserve", 5, 6, "null"))
    assert linearize.check(never) == Linearizable((1,), (5,), linearize.check(never).nodes)


def test_a_restore_inside_a_window_is_tried_at_its_instant():
    # Reserved at [0, 1], T = 10: the second reserve's window [9.5, 10.5] holds the deadline.
    caps = Capabilities(reservation_timeout=10)
    h = history(
        call(0, "push", -1, -0.5, "ok", task("A")),
        call(0, "reserve", 0, 1, "A"),
        call(1, "reserve", 9.5, 10.5, "A"),
        caps=caps,
    )
    assert linearize.timing(h)[0] is False
    result = linearize.check(h)
    assert isinstance(result, Linearizable)
    assert result.times[-1] == 10  # the deadline of a reservation made at 0


def test_budget_exhaustion_answers_unknown_never_not_linearizable():
    # Many concurrent pushes and one impossible answer at the end: a large search space.
    ops = [call(c, "push", 0.001 * c, 10 + 0.001 * c, "ok", task(f"j{c}", 1)) for c in range(12)]
    ops.append(call(20, "reserve", 11, 12, "nope"))
    result = linearize.check(history(*ops), budget=0.0, windows=False)
    assert isinstance(result, Undecided)
    assert "budget" in result.reason


def test_the_models_bound_on_possible_states_gives_unknown():
    # Each push cut by a fault doubles the possible states: two of them make four.
    cuts = [call(c, "push", 0, None, Cut("cut"), task(f"u{c}")) for c in range(2)]
    h = history(*cuts, call(3, "reserve", 1, 2, "nope"))
    result = linearize.check(h, max_worlds=2)
    assert isinstance(result, Undecided)
    assert "inconclusive" in result.reason
    assert isinstance(linearize.check(h), NotLinearizable)


def test_quiescent_windows_cut_where_nothing_is_pending():
    h = history(
        call(0, "push", 0, 2, "ok", task("A")),
        call(1, "push", 1, 3, "ok", task("B")),
        call(0, "reserve", 4, 5, "A"),
        call(0, "reserve", 5.25, 6, "B"),
        call(1, "reserve", 5.5, 7, "null"),
        call(1, "reserve", 7, 8, "null"),  # invoked as the last one completed: not after it
    )
    assert linearize.quiescent_windows(h) == [[0, 1], [2], [3, 4, 5]]


def test_a_failure_after_a_window_with_several_final_states_is_exact():
    # Two concurrent pushes leave two possible orders; later windows settle which.
    h = history(
        call(0, "push", 0, 2, "ok", task("A")),
        call(1, "push", 1, 3, "ok", task("B")),
        call(0, "reserve", 4, 5, "B"),
        call(0, "reserve", 6, 7, "B"),
    )
    result = linearize.check(h, quick_nodes=0)
    assert isinstance(result, NotLinearizable)
    assert result.clause.id == "MQ-RESERVE-3"
    ok = history(*h.operations[:3], call(0, "reserve", 6, 7, "A"))
    assert isinstance(linearize.check(ok, quick_nodes=0), Linearizable)


def test_fork_is_a_deep_copy():
    rng = random.Random(5)
    for _ in range(50):
        h, _ = random_history(rng, 7)
        witness = brute(h)
        if not witness:
            continue
        model = Model(h.capabilities, min(0.0, min(op.invoke for op in h.operations)))
        for i, t in witness:
            twin, deep = linearize.fork(model), copy.deepcopy(model)
            assert content(twin) == content(deep)
            assert twin._worlds is not model._worlds
            for a, b in zip(twin._worlds, model._worlds, strict=True):
                assert a is not b and a.jobs is not b.jobs
            for copy_ in (twin, deep):
                linearize.apply(copy_, h.operations[i], t)
            assert content(twin) == content(deep)
            linearize.apply(model, h.operations[i], t)
            assert content(model) == content(deep)


def content(model):
    return model.now, sorted(
        sorted((job.fingerprint(), repr(job.task)) for job in world.jobs.values())
        for world in model._worlds
    )


def test_an_empty_history_is_linearizable():
    assert linearize.check(history()) == Linearizable((), ())
