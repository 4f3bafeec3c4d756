"""Example tests of MemoryQueue and its correct variants, on virtual time only (no sleeps).

Each test names the clause it exercises (spec/clauses.toml).
"""

from __future__ import annotations

import threading

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.memory import MemoryQueue, from_url
from mqspec.adapters.selftest.catalogue import CORRECT_VARIANTS
from mqspec.adapters.selftest.variants import ReversedTiesQueue, TickerQueue
from mqspec.reference.errors import UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY, json_equal, without_token
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities


def job(ident, priority=1, delay=None, **extra):
    task = {"id": ident, "priority": priority, **extra}
    if delay is not None:
        task["delay"] = delay
    return task


def ids(q, now, n=None):
    """Reserve until empty (or n times) at ``now``; the ids in order."""
    out = []
    while n is None or len(out) < n:
        got = q.reserve(now)
        if got is None:
            break
        out.append(got["id"])
    return out


# -- ordering and readiness --------------------------------------------------------------------


def test_restore_keeps_original_place_MQ_RESTORE_3():
    q = MemoryQueue(timeout=10)
    for name in "ABC":
        q.push(job(name), 0)
    assert q.reserve(0)["id"] == "A"
    b = q.reserve(0)
    assert b["id"] == "B"
    q.delete(b, 1)
    assert ids(q, 10) == ["A", "C"]


def test_restored_job_keeps_priority_MQ_RESTORE_2():
    q = MemoryQueue(timeout=10)
    q.push(job("hi", 2), 0)
    q.push(job("lo", 0), 0)
    assert q.reserve(0)["id"] == "hi"
    assert q.reserve(9.9)["id"] == "lo"
    assert q.reserve(9.9) is None
    assert q.reserve(10)["id"] == "hi"  # restored by deadline + slack (0): MQ-RESTORE-1


def test_highest_priority_first_MQ_ORDER_1():
    q = MemoryQueue()
    q.push(job("p0", 0), 0)
    q.push(job("p2", 2), 0)
    q.push(job("p1", 1), 0)
    q.push(job("p2b", 2), 0)
    assert ids(q, 0) == ["p2", "p2b", "p1", "p0"]


def test_push_order_within_priority_MQ_ORDER_2():
    q = MemoryQueue()
    names = [f"j{i}" for i in range(20)]
    for i, name in enumerate(names):
        q.push(job(name), i * 0.5)
    assert ids(q, 10) == names


def test_immediate_job_reservable_at_once_MQ_READY_1():
    q = MemoryQueue()
    q.push(job("a", delay=0), 3.25)
    assert q.reserve(3.25)["id"] == "a"


def test_delay_boundaries_MQ_READY_2():
    q = MemoryQueue()
    q.push(job("d", delay=5), 10)
    assert q.reserve(10) is None
    assert q.reserve(14.999) is None
    assert q.reserve(15)["id"] == "d"


def test_delayed_job_ordered_by_ready_time_MQ_ORDER_2():
    q = MemoryQueue()
    q.push(job("late", delay=5), 0)
    q.push(job("soon", delay=2), 0)
    q.push(job("now"), 3)
    assert ids(q, 5) == ["soon", "now", "late"]


def test_empty_reserve_returns_none_MQ_RESERVE_1():
    assert MemoryQueue().reserve(0) is None


def test_reserved_job_not_returned_while_pending_MQ_RESERVE_3():
    q = MemoryQueue(timeout=60)
    q.push(job("a"), 0)
    assert q.reserve(0)["id"] == "a"
    assert q.reserve(59.999) is None
    assert q.reserve(60)["id"] == "a"


# -- delete ------------------------------------------------------------------------------------


def test_delete_pending_succeeds_and_removes_for_good_MQ_DELETE_1():
    q = MemoryQueue(timeout=10)
    q.push(job("a"), 0)
    q.delete(q.reserve(0), 9.999)
    assert q.reserve(1000) is None


def test_delete_ready_job_fails_and_keeps_it_MQ_DELETE_2():
    q = MemoryQueue()
    q.push(job("a"), 0)
    with pytest.raises(LookupError, match="not reserved"):
        q.delete(job("a"), 1)
    assert q.reserve(1)["id"] == "a"


def test_delete_delayed_job_fails_and_keeps_it_MQ_DELETE_2():
    q = MemoryQueue()
    q.push(job("a", delay=5), 0)
    with pytest.raises(LookupError, match="not reserved"):
        q.delete(job("a", delay=5), 1)
    assert q.reserve(4.9) is None
    assert q.reserve(5)["id"] == "a"


def test_delete_after_deadline_fails_and_job_is_restored_MQ_DELETE_2():
    q = MemoryQueue(timeout=10)
    q.push(job("a"), 0)
    reserved = q.reserve(0)
    with pytest.raises(LookupError, match="not reserved"):
        q.delete(reserved, 10)
    assert q.reserve(10)["id"] == "a"


def test_delete_absent_id_succeeds_MQ_DELETE_3():
    MemoryQueue().delete(job("nobody"), 0)


def test_delete_twice_succeeds_MQ_DELETE_3():
    q = MemoryQueue()
    q.push(job("a"), 0)
    reserved = q.reserve(0)
    q.delete(reserved, 1)
    q.delete(reserved, 2)
    assert q.reserve(100) is None


def test_stale_token_delete_fails_and_new_holder_keeps_it_MQ_DELETE_5():
    q = MemoryQueue(timeout=10, tokens=True)
    q.push(job("a"), 0)
    first = q.reserve(0)
    second = q.reserve(10)
    assert first[TOKEN_KEY] != second[TOKEN_KEY]
    with pytest.raises(LookupError, match="stale"):
        q.delete(first, 11)
    assert q.reserve(11) is None  # still reserved by the new holder
    q.delete(second, 12)
    assert q.reserve(100) is None


def test_stale_delete_without_tokens_acknowledges_current_MQ_DELETE_5():
    q = MemoryQueue(timeout=10)
    q.push(job("a"), 0)
    first = q.reserve(0)
    q.reserve(10)
    q.delete(first, 11)
    assert q.reserve(100) is None


def test_tokens_are_strings_and_only_on_reserve_MQ_TOKEN_1():
    q = MemoryQueue(tokens=True)
    pushed = q.push(job("a"), 0)
    assert TOKEN_KEY not in pushed
    reserved = q.reserve(0)
    assert isinstance(reserved[TOKEN_KEY], str) and reserved[TOKEN_KEY]
    with pytest.raises(LookupError):
        q.delete(job("a"), 1)  # no token: not the holder
    q.delete(reserved, 1)


def test_no_token_without_tokens_MQ_TOKEN_1():
    q = MemoryQueue()
    q.push(job("a"), 0)
    assert TOKEN_KEY not in q.reserve(0)


# -- duplicates, capacity, invalid tasks ---------------------------------------------------------


def test_distinct_duplicates_are_two_jobs_MQ_PUSH_2():
    q = MemoryQueue(timeout=10)
    q.push(job("a", n=1), 0)
    q.push(job("a", n=2), 0)
    first, second = q.reserve(0), q.reserve(0)
    assert (first["n"], second["n"]) == (1, 2)
    q.delete(first, 1)
    q.delete(second, 1)
    assert q.reserve(100) is None


def test_distinct_duplicates_with_tokens_ack_the_matching_one_MQ_PUSH_2():
    q = MemoryQueue(timeout=10, tokens=True)
    q.push(job("a", n=1), 0)
    q.push(job("a", n=2), 0)
    q.reserve(0)
    second = q.reserve(0)
    q.delete(second, 1)
    restored = q.reserve(10)
    assert restored["n"] == 1
    assert q.reserve(10) is None


def test_reject_duplicates_MQ_PUSH_2():
    q = MemoryQueue(duplicates="reject")
    q.push(job("a", n=1), 0)
    with pytest.raises(ValueError, match="duplicate id"):
        q.push(job("a", n=2), 0)
    reserved = q.reserve(0)
    assert reserved["n"] == 1
    with pytest.raises(ValueError, match="duplicate id"):
        q.push(job("a", n=3), 1)  # a reserved job is still live
    q.delete(reserved, 1)
    q.push(job("a", n=4), 2)
    assert q.reserve(2)["n"] == 4


def test_capacity_refuses_and_queues_nothing_MQ_PUSH_3():
    q = MemoryQueue(max_jobs=2)
    q.push(job("a"), 0)
    q.push(job("b"), 0)
    with pytest.raises(ValueError, match="queue full"):
        q.push(job("c"), 0)
    reserved = q.reserve(0)
    with pytest.raises(ValueError, match="queue full"):
        q.push(job("c"), 0)  # reserved jobs count as live
    q.delete(reserved, 1)
    q.push(job("d"), 1)
    assert ids(q, 1) == ["b", "d"]


@pytest.mark.parametrize(
    "task",
    [
        [],
        {"priority": 1},
        {"id": 7, "priority": 1},
        {"id": "", "priority": 1},
        {"id": "a"},
        {"id": "a", "priority": 3},
        {"id": "a", "priority": True},
        {"id": "a", "priority": 1, "delay": -1},
        {"id": "a", "priority": 1, "delay": 1.5},
    ],
)
def test_invalid_task_refused_MQ_TASK_1(task):
    q = MemoryQueue()
    with pytest.raises(ValueError) as info:
        q.push(task, 0)
    assert str(info.value) == task_problem(task)
    assert q.reserve(100) is None


def test_reserved_key_refused_only_by_a_token_queue_MQ_TASK_1():
    task = {"id": "a", "priority": 1, TOKEN_KEY: "x"}
    with pytest.raises(ValueError) as info:
        MemoryQueue(tokens=True).push(task, 0)
    assert str(info.value) == task_problem(task, tokens=True)
    plain = MemoryQueue()
    assert plain.push(task, 0) == task  # opaque where the queue issues no tokens
    assert plain.reserve(1) == task


# -- round trip and isolation ------------------------------------------------------------------


def test_round_trip_is_json_equal_MQ_TASK_2():
    task = job("a", 2, 0, body={"list": [1, 2.5, None, True, "x"], "nested": {"k": []}}, u="é")
    q = MemoryQueue(tokens=True)
    assert json_equal(q.push(task, 0), task)  # MQ-PUSH-1
    assert json_equal(without_token(q.reserve(0)), task)


def test_caller_mutations_do_not_reach_the_queue_MQ_TASK_2():
    q = MemoryQueue(timeout=10)
    task = job("a", body={"x": [1]})
    pushed = q.push(task, 0)
    task["body"]["x"].append(2)
    pushed["body"]["x"].append(3)
    pushed["priority"] = 0
    reserved = q.reserve(0)
    assert reserved == job("a", body={"x": [1]})
    reserved["body"]["x"].append(4)
    assert q.reserve(10) == job("a", body={"x": [1]})


# -- threads, real time, lifecycle -------------------------------------------------------------


def test_threads_reserve_each_job_exactly_once_MQ_RESERVE_3():
    q = MemoryQueue()
    seen: list[str] = []
    seen_lock = threading.Lock()

    def producer(t: int) -> None:
        for i in range(250):
            q.push(job(f"{t}-{i}"), 0)

    def consumer() -> None:
        mine = []
        while (got := q.reserve(0)) is not None:
            mine.append(got["id"])
            q.delete(got, 0)
        with seen_lock:
            seen.extend(mine)

    def run_all(threads: list[threading.Thread]) -> None:
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    run_all([threading.Thread(target=producer, args=(t,)) for t in range(4)])
    run_all([threading.Thread(target=consumer) for _ in range(4)])
    assert len(seen) == 1000
    assert sorted(seen) == sorted(f"{t}-{i}" for t in range(4) for i in range(250))
    assert q.reserve(1000) is None  # every job was deleted exactly once


def test_real_time_profile_uses_own_clock_MQ_READY_1():
    q = MemoryQueue()
    q.push(job("a"), None)
    reserved = q.reserve(None)
    assert reserved["id"] == "a"
    q.delete(reserved, None)
    assert q.reserve(None) is None


def test_reset_and_close_empty_the_queue():
    q = MemoryQueue()
    q.push(job("a"), 0)
    q.reset(1)
    assert q.reserve(1) is None
    q.push(job("b"), 2)
    q.close()
    assert q.reserve(2) is None


def test_capabilities_declared():
    caps = MemoryQueue(timeout=5, tokens=True, duplicates="reject", max_jobs=9).capabilities
    assert caps == Capabilities(
        reservation_timeout=5,
        timeout_settable=True,
        slack=0,
        virtual_time=True,
        durable=False,
        reservation_tokens=True,
        duplicate_ids="reject",
        max_jobs=9,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"timeout": True},
        {"timeout": "5"},
        {"tokens": 1},
        {"duplicates": "overwrite"},
        {"max_jobs": 0},
        {"max_jobs": 1.5},
        {"max_jobs": True},
    ],
)
def test_constructor_rejects_bad_options(kwargs):
    with pytest.raises(UsageError):
        MemoryQueue(**kwargs)


# -- from_url ------------------------------------------------------------------------------------


def test_from_url_defaults():
    caps = from_url("memory://").capabilities
    assert (caps.reservation_timeout, caps.reservation_tokens) == (60, False)
    assert (caps.duplicate_ids, caps.max_jobs) == ("distinct", None)


@pytest.mark.parametrize(
    "word,expected",
    [("1", True), ("yes", True), ("False", False), ("on", True), ("OFF", False), ("0", False)],
)
def test_from_url_options(word, expected):
    q = from_url(f"memory://?timeout=5&tokens={word}&duplicates=reject&max_jobs=100")
    caps = q.capabilities
    assert caps.reservation_timeout == 5
    assert caps.reservation_tokens is expected
    assert (caps.duplicate_ids, caps.max_jobs) == ("reject", 100)


@pytest.mark.parametrize(
    "url,words",
    [
        ("redis://localhost", ["memory://"]),
        ("memory://?colour=red", ["colour", "red"]),
        ("memory://?timeout=soon", ["timeout", "soon"]),
        ("memory://?timeout=0", ["timeout", "0"]),
        ("memory://?timeout=nan", ["timeout", "nan"]),
        ("memory://?tokens=maybe", ["tokens", "maybe"]),
        ("memory://?duplicates=overwrite", ["duplicates", "overwrite"]),
        ("memory://?max_jobs=0", ["max_jobs", "0"]),
        ("memory://?max_jobs=2.5", ["max_jobs", "2.5"]),
        ("memory://?timeout=1&timeout=2", ["timeout", "twice"]),
        ("memory://somewhere/else", ["no host"]),
        ("memory://?timeout", ["timeout"]),
    ],
)
def test_from_url_errors_name_option_and_value(url, words):
    with pytest.raises(UsageError) as info:
        from_url(url)
    for word in words:
        assert word in str(info.value)


def test_from_url_unknown_option_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        from_url("memory://?queue=jobs")  # an in-process queue has no namespace
    assert str(info.value) == (
        "unknown memory URL option queue='jobs' (known: timeout, tokens, duplicates, max_jobs)"
    )


# -- TickerQueue ---------------------------------------------------------------------------------


def test_ticker_delayed_job_waits_for_a_tick_MQ_READY_3():
    q = TickerQueue(tick_interval=1)
    q.push(job("d", delay=2), 0.5)  # ready at 2.5; the next tick is at 3
    assert q.reserve(2.5) is None  # not reservable before its tick (allowed by the slack)
    assert q.reserve(2.99) is None
    assert q.reserve(3.0)["id"] == "d"  # by ready time + slack (3.5)


def test_ticker_never_early_MQ_READY_2():
    q = TickerQueue(tick_interval=1)
    q.push(job("d", delay=3), 0)
    q.tick(2)
    assert q.reserve(2.999) is None
    assert q.reserve(3)["id"] == "d"


def test_ticker_immediate_push_reservable_at_once_MQ_READY_1():
    q = TickerQueue(tick_interval=1)
    q.push(job("a"), 0.3)
    assert q.reserve(0.3)["id"] == "a"


def test_ticker_restores_at_first_tick_after_deadline_MQ_RESTORE_1():
    q = TickerQueue(tick_interval=1, timeout=1.5)
    q.push(job("a"), 0)
    assert q.reserve(0)["id"] == "a"  # deadline 1.5
    assert q.reserve(1.5) is None
    q.tick(1.99)
    assert q.reserve(1.99) is None
    q.tick(2.0)
    assert q.reserve(2.0)["id"] == "a"


def test_ticker_restore_keeps_original_place_MQ_RESTORE_3():
    q = TickerQueue(tick_interval=1, timeout=1.5)
    for name in "ABC":
        q.push(job(name), 0)
    assert ids(q, 0, 2) == ["A", "B"]
    q.delete(job("B"), 0.5)
    assert ids(q, 2) == ["A", "C"]


def test_ticker_delete_in_slack_window_succeeds_MQ_DELETE_4():
    q = TickerQueue(tick_interval=1, timeout=1.5, tokens=True)
    q.push(job("a"), 0)
    reserved = q.reserve(0)  # deadline 1.5, restored at the tick at 2
    q.delete(reserved, 1.7)
    assert q.reserve(10) is None


def test_ticker_delete_after_restore_fails_MQ_DELETE_2():
    q = TickerQueue(tick_interval=1, timeout=1.5)
    q.push(job("a"), 0)
    reserved = q.reserve(0)
    with pytest.raises(LookupError, match="not reserved"):
        q.delete(reserved, 2.0)
    assert q.reserve(2.0)["id"] == "a"


def test_ticker_float_grid_is_not_late_MQ_RESTORE_1():
    q = TickerQueue(tick_interval=0.1, timeout=0.3)
    q.push(job("a"), 0)
    q.reserve(0)
    assert q.reserve(0.3)["id"] == "a"  # 0.3 / 0.1 == 2.9999999999999996 in floats


def test_ticker_declares_slack_and_rejects_bad_interval():
    assert TickerQueue(tick_interval=2).capabilities.slack == 2
    for bad in (0, -1, float("nan"), True):
        with pytest.raises(UsageError):
            TickerQueue(tick_interval=bad)


def test_ticker_reset_forgets_last_tick():
    q = TickerQueue(tick_interval=1)
    q.tick(5)
    q.reset(0)
    q.push(job("d", delay=1), 0)
    assert q.reserve(1)["id"] == "d"


# -- ReversedTiesQueue ---------------------------------------------------------------------------


def test_reversed_ties_take_later_push_first_MQ_ORDER_3():
    q = ReversedTiesQueue()
    q.push(job("A", delay=5), 0)
    q.push(job("C", delay=5), 0)
    assert ids(q, 5) == ["C", "A"]
    m = MemoryQueue()
    m.push(job("A", delay=5), 0)
    m.push(job("C", delay=5), 0)
    assert ids(m, 5) == ["A", "C"]  # the other allowed order


def test_reversed_ties_keep_immediate_push_order_MQ_ORDER_2():
    q = ReversedTiesQueue()
    for name in "ABC":
        q.push(job(name), 0)
    assert ids(q, 0) == ["A", "B", "C"]


def test_reversed_ties_immediate_before_delayed_at_same_instant_MQ_ORDER_3():
    q = ReversedTiesQueue()
    q.push(job("D", delay=5), 0)
    q.push(job("P", 2, delay=5), 0)
    q.push(job("E", delay=2), 3)
    q.push(job("I"), 5)
    assert ids(q, 5) == ["P", "I", "E", "D"]


# -- every correct variant -------------------------------------------------------------------------


def test_a_now_older_than_one_already_used_is_decided_at_the_latest_time():
    """Concurrent callers may bring a ``now`` that another call already passed; the queue
    clock never runs backwards, so the queue decides at the latest time it saw."""
    q = MemoryQueue(timeout=10)
    q.push(job("a"), 5)
    assert q.reserve(4) is not None  # at 5, not 4: a is ready
    q.reset(0)  # a new case starts its clock anew
    q.push(job("b", delay=1), 0)
    assert q.reserve(1) is not None


def test_variant_names():
    assert set(CORRECT_VARIANTS) == {
        "memory",
        "memory-tokens",
        "memory-reject",
        "memory-capacity",
        "ticker",
        "reversed-ties",
    }


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
def test_variant_basic_contract_MQ_DELETE_1(name):
    q = CORRECT_VARIANTS[name]()
    assert isinstance(q, QueueAdapter)
    assert CORRECT_VARIANTS[name]() is not q  # a fresh queue each time
    T = q.capabilities.reservation_timeout
    for name_, prio in (("a", 1), ("b", 2), ("c", 1)):
        q.push(job(name_, prio), 0)
    q.push(job("d", 2, delay=3), 0)
    first = q.reserve(0)
    assert first["id"] == "b"
    assert q.reserve(2)["id"] == "a"
    q.delete(first, 2)
    assert q.reserve(3)["id"] == "d"
    assert q.reserve(3)["id"] == "c"
    assert q.reserve(3) is None
    with pytest.raises(LookupError):
        q.delete(job("a"), T + 2)  # reserved at 2: expired at 2 + T
    assert q.reserve(T + 2)["id"] == "a"
    q.close()
