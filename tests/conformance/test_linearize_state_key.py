"""Tests of `Model.state_key`, the public summary the linearizability search memoises on.

Equal keys must mean the same possible states: what differs in behaviour differs in key
(another job, another state, another clock), and what the exact key keeps but the scaled one
may forget (the clock, the push order of commuting pushes) is dropped only by the scaled key.
"""

from __future__ import annotations

from mqspec.conformance.concurrency import linearize
from mqspec.reference.model import Model
from mqspec.reference.types import Capabilities, Ok


def same(*args):
    return ()


def test_equal_histories_give_equal_keys_and_a_fork_keeps_its_key():
    caps = Capabilities(reservation_timeout=10)
    a, b = {"id": "a", "priority": 1}, {"id": "b", "priority": 2}
    model = Model(caps)
    model.push(a, 1, Ok(a))
    model.push(b, 2, Ok(b))
    twin = model.fork()
    assert twin.state_key() == model.state_key()
    assert twin.state_key(same) == model.state_key(same)
    model.reserve(3, Ok(b))
    assert model.state_key() != twin.state_key()  # b is reserved in one of them
    assert model.state_key(same) != twin.state_key(same)
    hash(model.state_key())
    hash(model.state_key(same))


def test_the_exact_key_keeps_the_clock_and_the_scaled_one_drops_it():
    caps = Capabilities(reservation_timeout=10)
    first, second = Model(caps), Model(caps)
    first.advance(1)
    second.advance(2)
    assert first.state_key() != second.state_key()
    assert first.state_key(same) == second.state_key(same)


def test_commuting_pushes_of_two_priorities_share_a_scaled_key():
    """Only the order within a priority matters (MQ-ORDER-2): pushes of different priorities
    at the same instant commute, and the scaled key lists jobs by their place in line."""
    caps = Capabilities(reservation_timeout=10)
    a, b = {"id": "a", "priority": 1}, {"id": "b", "priority": 2}
    ab, ba = Model(caps), Model(caps)
    ab.push(a, 1, Ok(a))
    ab.push(b, 1, Ok(b))
    ba.push(b, 1, Ok(b))
    ba.push(a, 1, Ok(a))
    assert ab.state_key(same) == ba.state_key(same)
    assert ab.state_key() != ba.state_key()  # the exact key names jobs by push number


def test_instants_sees_the_job_times():
    caps = Capabilities(reservation_timeout=10)
    seen = []

    def record(deadline, delayed, lo, hi, ready_at):
        seen.append((deadline, delayed, lo, hi, ready_at))
        return (deadline,)

    model = Model(caps)
    task = {"id": "a", "priority": 0, "delay": 5}
    model.push(task, 1, Ok(task))
    model.state_key(record)
    assert seen == [(float("inf"), True, 6, 6, 6)]


def test_linearize_uses_the_public_key():
    caps = Capabilities(reservation_timeout=10)
    model = Model(caps)
    assert linearize.state_key(model) == model.state_key()
