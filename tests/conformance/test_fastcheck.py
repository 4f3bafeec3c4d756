"""Tests of `mqspec.conformance.concurrency.fastcheck`: each anomaly kind, and near misses it must
not flag.

Every flagged history is also shown NotLinearizable by the exact checker, and every history
the fast checker must leave alone is shown Linearizable: "certain" means certain. (The random
agreement test in test_linearize.py checks the same on thousands of generated histories.)
"""

from __future__ import annotations

import pytest

from mqspec.conformance.concurrency import linearize
from mqspec.conformance.concurrency.fastcheck import Anomaly, find_anomalies
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.linearize import Linearizable, NotLinearizable
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

T = 100
CAPS = Capabilities(reservation_timeout=T)


def task(ident, priority=1, **extra):
    return {"id": ident, "priority": priority, **extra}


def push(client, invoke, complete, ident, priority=1, result=None, **extra):
    body = task(ident, priority, **extra)
    if result is None:
        result = Ok(body)
    if isinstance(result, Unknown):
        complete = None
    return Operation(
        client=client, op="push", task=body, invoke=invoke, complete=complete, result=result
    )


def reserve(client, invoke, complete, ident=None, priority=1, drain=False, result=None, **extra):
    if result is None:
        result = Ok(None if ident is None else task(ident, priority, **extra))
    if isinstance(result, Unknown):
        complete = None
    return Operation(
        client=client, op="reserve", invoke=invoke, complete=complete, result=result, drain=drain
    )


def delete(client, invoke, complete, ident, priority=1, result=None):
    result = Ok(None) if result is None else result
    if isinstance(result, Unknown):
        complete = None
    return Operation(
        client=client,
        op="delete",
        task=task(ident, priority),
        invoke=invoke,
        complete=complete,
        result=result,
    )


def history(*ops, caps=CAPS):
    return History(capabilities=caps, operations=list(ops))


def flagged(h: History) -> list[tuple[str, tuple[int, ...]]]:
    found = find_anomalies(h)
    assert isinstance(linearize.check(h), NotLinearizable), "flagged, so it cannot linearize"
    return [(a.clause.id, a.operations) for a in found]


def clean(h: History) -> None:
    assert find_anomalies(h) == ()
    assert isinstance(linearize.check(h), Linearizable), "left alone because it is valid"


# ---------------------------------------------------------------- MQ-RESERVE-1, MQ-RESERVE-2


def test_a_reserve_that_answers_an_error():
    h = history(reserve(0, 0, 1, result=Failed("boom")))
    assert flagged(h) == [("MQ-RESERVE-1", (0,))]
    assert find_anomalies(h)[0].message == "reserve answered an error: 'boom'"


def test_a_job_never_pushed_or_pushed_only_after_it_came_out():
    h = history(
        reserve(0, 0, 1, "Z"),
        push(1, 2, 3, "A"),
        reserve(0, 1.5, 1.75, "A"),
    )
    assert flagged(h) == [("MQ-RESERVE-2", (0,)), ("MQ-RESERVE-2", (2,))]


def test_a_push_overlapping_the_reserve_may_have_come_first():
    clean(history(push(1, 0, 3, "A"), reserve(0, 1, 2, "A")))


def test_a_push_whose_outcome_is_unknown_may_have_queued_the_job():
    clean(history(push(1, 0, None, "A", result=Unknown("cut")), reserve(0, 5, 6, "A")))


def test_a_job_that_comes_out_after_its_delete_succeeded():
    h = history(
        push(0, 0, 1, "A"),
        reserve(0, 2, 3, "A"),
        delete(0, 4, 5, "A"),
        reserve(1, 6, 7, "A"),
    )
    assert flagged(h) == [("MQ-RESERVE-2", (0, 2, 3))]


def test_a_delete_that_may_have_come_before_the_push_proves_nothing():
    # The delete overlaps the push: it may have found no live job and succeeded (MQ-DELETE-3).
    clean(
        history(
            push(0, 0, 3, "A"),
            delete(1, 1, 2, "A"),
            reserve(1, 4, 5, "A"),
        )
    )


# ---------------------------------------------------------------- MQ-RESERVE-3


def test_two_reserves_of_one_job_less_than_t_apart():
    h = history(
        push(0, 0, 1, "A"),
        reserve(0, 2, 3, "A"),
        reserve(1, 50, 60, "A"),
    )
    assert flagged(h) == [("MQ-RESERVE-3", (0, 1, 2))]


def test_two_reserves_that_may_be_t_apart_are_left_alone():
    # First at [2, 3] (say at 2, deadline 102), second at [95, 105]: it may have run at 102.
    clean(
        history(
            push(0, 0, 1, "A"),
            reserve(0, 2, 3, "A"),
            reserve(1, 95, 105, "A"),
        )
    )


def test_double_delivery_among_many_reserves_of_one_job():
    h = history(
        push(0, 0, 1, "A"),
        reserve(0, 2, 3, "A"),
        reserve(1, 110, 111, "A"),  # restored: fine
        reserve(2, 220, 221, "A"),  # restored again: fine
        reserve(0, 230, 231, "A"),  # 10 s after the previous one: double delivery
    )
    assert flagged(h) == [("MQ-RESERVE-3", (0, 3, 4))]


def test_duplicate_ids_are_not_judged():
    # Two jobs share the id (duplicate_ids="distinct"): either reserve may be either job.
    clean(
        history(
            push(0, 0, 1, "A"),
            push(0, 2, 3, "A"),
            reserve(1, 4, 5, "A"),
            reserve(1, 6, 7, "A"),
        )
    )


# ---------------------------------------------------------------- MQ-READY-2


def test_a_delayed_job_before_its_delay():
    h = history(push(0, 0, 1, "D", delay=5), reserve(1, 2, 4.5, "D", delay=5))
    assert flagged(h) == [("MQ-READY-2", (0, 1))]


def test_a_delayed_job_that_may_have_been_ready():
    # Pushed at [0, 1] with delay 5: ready at 5 at the earliest; the reserve ran until 5.5.
    clean(history(push(0, 0, 1, "D", delay=5), reserve(1, 2, 5.5, "D", delay=5)))


# ---------------------------------------------------------------- MQ-ORDER-1, MQ-RESTORE-2


def test_a_low_priority_job_while_a_high_priority_one_was_ready():
    h = history(
        push(0, 0, 1, "L", 0),
        push(0, 2, 3, "H", 2),
        reserve(1, 4, 5, "L", 0),
    )
    assert flagged(h) == [("MQ-ORDER-1", (0, 1, 2))]
    assert find_anomalies(h)[0].message == (
        "reserve returned 'L' (priority 0) while 'H' (priority 2) was ready"
    )


def test_a_restored_low_priority_job_names_restore_2():
    caps = Capabilities(reservation_timeout=10)
    h = history(
        push(0, 0, 1, "L", 0),
        reserve(1, 2, 3, "L", 0),
        push(0, 4, 5, "H", 2),
        reserve(1, 20, 21, "L", 0),
        caps=caps,
    )
    assert flagged(h) == [("MQ-RESTORE-2", (0, 2, 3))]


@pytest.mark.parametrize(
    "hiding",
    [
        # H's push overlaps the reserve: it may have come after it.
        [push(0, 2, 4.5, "H", 2)],
        # H was taken by a reserve that overlaps this one: it may have come first.
        [push(0, 2, 3, "H", 2), reserve(2, 4.5, 6, "H", 2)],
        # H is delayed: not surely ready yet.
        [push(0, 2, 3, "H", 2, delay=2)],
    ],
)
def test_a_high_priority_job_that_may_not_have_been_ready_is_left_alone(hiding):
    clean(history(push(0, 0, 1, "L", 0), *hiding, reserve(1, 4, 5, "L", 0)))


def test_a_reserve_of_unknown_outcome_may_have_taken_the_high_priority_job():
    h = history(
        push(0, 0, 1, "L", 0),
        push(0, 2, 3, "H", 2),
        reserve(2, 3.5, None, result=Unknown("cut")),
        reserve(1, 4, 5, "L", 0),
    )
    clean(h)


# ---------------------------------------------------------------- MQ-ORDER-2


def test_fifo_within_a_priority():
    h = history(
        push(0, 0, 1, "A"),
        push(0, 2, 3, "B"),
        reserve(1, 4, 5, "B"),
    )
    assert flagged(h) == [("MQ-ORDER-2", (0, 1, 2))]


def test_overlapping_pushes_may_come_out_in_either_order():
    clean(
        history(
            push(0, 0, 3, "A"),
            push(1, 1, 2, "B"),
            reserve(2, 4, 5, "B"),
            reserve(2, 6, 7, "A"),
        )
    )


def test_a_delayed_job_is_enqueued_when_it_becomes_ready():
    # D (delay 5) was pushed first, but E, pushed without delay at 3, was enqueued first.
    clean(
        history(
            push(0, 0, 1, "D", delay=5),
            push(1, 3, 4, "E"),
            reserve(2, 7, 8, "E"),
            reserve(2, 9, 10, "D", delay=5),
        )
    )
    h = history(
        push(0, 0, 1, "D", delay=2),
        push(1, 4, 5, "E"),
        reserve(2, 7, 8, "E"),
    )
    assert flagged(h) == [("MQ-ORDER-2", (0, 1, 2))]


def test_restored_job_may_come_back_after_a_later_one():
    # A restored job may sit anywhere behind its old place at MUST level (MQ-RESTORE-3 is a
    # SHOULD): B pushed after A may come out first once A is restored.
    caps = Capabilities(reservation_timeout=10)
    clean(
        history(
            push(0, 0, 1, "A"),
            reserve(1, 2, 3, "A"),
            push(0, 4, 5, "B"),
            reserve(1, 20, 21, "B"),
            caps=caps,
        )
    )


# ---------------------------------------------------------------- MQ-READY-1, MQ-READY-3


def test_null_while_a_job_was_ready():
    h = history(push(0, 0, 1, "A"), reserve(1, 2, 3))
    assert flagged(h) == [("MQ-READY-1", (0, 1))]
    h = history(push(0, 0, 1, "D", delay=2), reserve(1, 3.5, 4))
    assert flagged(h) == [("MQ-READY-3", (0, 1))]


def test_null_while_the_job_may_not_be_ready_or_was_taken():
    clean(history(push(0, 0, 2, "A"), reserve(1, 1, 3)))
    clean(
        history(
            push(0, 0, 1, "D", delay=2), reserve(1, 2.5, 2.75), reserve(1, 3.5, 4, "D", delay=2)
        )
    )
    clean(history(push(0, 0, 1, "A"), reserve(2, 1.5, 4, "A"), reserve(1, 2, 3)))


def test_slack_widens_the_ready_window():
    caps = Capabilities(reservation_timeout=T, slack=2)
    h = history(push(0, 0, 1, "D", delay=2), reserve(1, 3.5, 4), caps=caps)
    clean(h)


# ---------------------------------------------------------------- MQ-LOSS-1


def lost_history(*extra, caps=CAPS):
    return history(
        push(0, 0, 1, "A"),
        push(0, 2, 3, "B"),
        reserve(1, 4, 5, "A"),
        *extra,
        reserve(9, 500, 501, "B", drain=True),
        reserve(9, 502, 503, drain=True),
        caps=caps,
    )


def test_a_job_that_never_comes_out_of_the_drain():
    h = lost_history()
    assert flagged(h) == [("MQ-LOSS-1", (0, 4))]
    assert find_anomalies(h)[0].message == (
        "the drain returned null while 1 job(s) pushed and never deleted had not come out: 'A'"
    )


def test_a_job_deleted_or_maybe_deleted_is_not_lost():
    clean(lost_history(delete(1, 6, 7, "A")))
    lenient = lost_history(delete(1, 6, None, "A", result=Unknown("cut")))
    assert find_anomalies(lenient) == ()


def test_a_reservation_that_may_still_be_pending_holds_its_job():
    caps = Capabilities(reservation_timeout=600)
    assert find_anomalies(lost_history(caps=caps)) == ()


def test_a_reserve_of_unknown_outcome_may_hold_one_job():
    cut = reserve(3, 100, None, result=Unknown("cut"))
    assert find_anomalies(lost_history(cut)) == ()
    two = history(
        push(0, 0, 1, "A"),
        push(0, 2, 3, "B"),
        reserve(3, 100, None, result=Unknown("cut")),
        reserve(9, 500, 501, drain=True),
    )
    found = find_anomalies(two)
    assert [(a.clause.id, a.operations) for a in found] == [("MQ-LOSS-1", (0, 1, 3))]
    assert isinstance(linearize.check(two), (NotLinearizable, linearize.Undecided))


def test_render_lists_the_operations():
    h = history(push(0, 0, 1, "A"), push(0, 2, 3, "B"), reserve(1, 4, 5, "B"))
    (anomaly,) = find_anomalies(h)
    assert isinstance(anomaly, Anomaly)
    assert anomaly.render(h) == (
        "MQ-ORDER-2 (MUST): reserve returned 'B' while 'A', enqueued before it in priority 1, "
        "was ready\n"
        "  op #0: client 0 push 'A' [0.000000, 1.000000] -> ok\n"
        "  op #1: client 0 push 'B' [2.000000, 3.000000] -> ok\n"
        "  op #2: client 1 reserve [4.000000, 5.000000] -> 'B'"
    )
    assert anomaly.render() == (
        "MQ-ORDER-2 (MUST): reserve returned 'B' while 'A', enqueued before it in priority 1, "
        "was ready\n  op #0\n  op #1\n  op #2"
    )


def test_an_empty_history_has_no_anomaly():
    assert find_anomalies(history()) == ()
