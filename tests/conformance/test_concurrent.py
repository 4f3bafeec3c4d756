"""Tests of `mqspec.conformance.concurrency.recorder`: recorded histories, checked fast and exactly.

`MemoryQueue` is correct under concurrency (one lock around every operation): its histories
must show no anomaly and linearize. Three broken variants, each a realistic race written as a
`MemoryQueue` subclass in `mqspec.adapters.selftest.race_mutants`, must be caught by the fast
checker
with the clause they break (their catalogue, `RACE_MUTANTS`, says which recording catches them):

* `PeekThenTake`: check-then-act reserve (peek under the lock, yield, take under the lock):
  two consumers get one job (MQ-RESERVE-3).
* `DeleteRacesRestore`: delete checks the reservation, yields, then removes the job from the
  index, marking it dead only if it still looks reserved; a restore in between leaves the job
  ready but deleted, and it comes out again (MQ-RESERVE-2).
* `NonAtomicReserve`: reserve pops the job, then records its reservation by copying the
  reservation table, yielding, and writing it back: a concurrent reservation is overwritten
  and its job never comes back (MQ-LOSS-1).

Races need the threads to interleave: a fixture shortens the interpreter's switch interval.
"""

from __future__ import annotations

import sys
import threading
from typing import ClassVar

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.catalogue import RACE_MUTANTS
from mqspec.adapters.selftest.race_mutants import (
    DeleteRacesRestore,
    NonAtomicReserve,
    PeekThenTake,
)
from mqspec.conformance.concurrency import linearize
from mqspec.conformance.concurrency.fastcheck import find_anomalies
from mqspec.conformance.concurrency.history import from_jsonl, to_jsonl
from mqspec.conformance.concurrency.linearize import Linearizable, NotLinearizable, Undecided
from mqspec.conformance.concurrency.recorder import record
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY

LONG = 3600  # a reservation timeout no recording reaches


@pytest.fixture(autouse=True)
def interleave():
    """Switch threads every 10 microseconds (instead of 5 ms) while the test runs."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(saved)


def caught(make, clause, attempts=6, **options):
    """Record histories until the fast checker names ``clause``; return that anomaly."""
    seen = []
    for seed in range(attempts):
        history = record(make(), seed=seed, **options)
        found = [a for a in find_anomalies(history) if a.clause.id == clause]
        if found:
            return history, found[0]
        seen.append(sorted({a.clause.id for a in find_anomalies(history)}))
    pytest.fail(f"{clause} not caught in {attempts} recordings (saw {seen})")


# ---------------------------------------------------------------- the correct queue


@pytest.mark.parametrize(("clients", "barrier_every"), [(4, None), (8, 3), (6, 1)])
def test_memory_queue_histories_are_clean_and_linearizable(clients, barrier_every):
    for seed in range(3):
        history = record(
            MemoryQueue(timeout=LONG),
            clients=clients,
            ops_per_client=40,
            seed=seed,
            barrier_every=barrier_every,
        )
        assert history.clock == "virtual"
        assert find_anomalies(history) == ()
        assert linearize.timing(history)[0], "the default recording is time-separated"
        result = linearize.check(history, budget=20)
        assert isinstance(result, Linearizable), result
        drain = [op for op in history.operations if op.drain]
        assert drain and drain[-1].returned is None
        assert len(history) >= clients * 40


def test_delayed_pushes_in_a_recording():
    # Two delayed pushes with overlapping windows make a history that is not time-separated
    # (their enqueue instants may compare either way): Undecided is then allowed, a false
    # NotLinearizable never.
    for seed in range(3):
        history = record(
            MemoryQueue(timeout=LONG), clients=6, ops_per_client=40, seed=seed, delay_rate=0.2
        )
        assert any(op.task and op.task.get("delay") for op in history.operations)
        assert find_anomalies(history) == ()
        # A budget with room for a loaded machine: a time-separated history must be decided,
        # and on two busy cores 2 s of search sometimes ran out first.
        result = linearize.check(history, budget=15)
        assert not isinstance(result, NotLinearizable), result
        if linearize.timing(history)[0]:
            assert isinstance(result, Linearizable), result


def test_windows_decide_recorded_histories_too():
    history = record(
        MemoryQueue(timeout=LONG), clients=8, ops_per_client=30, seed=4, barrier_every=2
    )
    assert len(linearize.quiescent_windows(history)) > 10
    result = linearize.check(history, quick_nodes=0, budget=20)
    assert isinstance(result, Linearizable)


def test_restores_during_the_recording_on_the_queue_clock():
    # T = 1 ms: reservations expire while the clients run; the queue reads its own clock. Such
    # a history is not time-separated: the exact checker may find a witness or answer Undecided,
    # but it must never call it NotLinearizable.
    for seed in range(3):
        history = record(
            MemoryQueue(timeout=0.001, tokens=True),
            clients=6,
            ops_per_client=40,
            seed=seed,
            clock="queue",
        )
        assert history.clock == "queue"
        assert find_anomalies(history) == ()
        result = linearize.check(history, budget=1)
        assert not isinstance(result, NotLinearizable), result


def test_a_recorded_history_round_trips():
    history = record(MemoryQueue(timeout=LONG, tokens=True), clients=3, ops_per_client=20)
    assert from_jsonl(to_jsonl(history)) == history
    tokens = [op.task for op in history.operations if op.op == "delete"]
    assert tokens and all(TOKEN_KEY in t for t in tokens)


def test_choices_depend_only_on_the_seed():
    def calls(seed):
        h = record(MemoryQueue(timeout=LONG), clients=3, ops_per_client=15, seed=seed, drain=False)
        return sorted(
            (op.client, op.op, op.task and op.task.get("id"))
            for op in h.operations
            if op.op == "push"
        )

    assert calls(1) == calls(1) != calls(2)


class Connection:
    """One client's connection to a shared queue (a factory makes one per client)."""

    opened: ClassVar[list[Connection]] = []

    def __init__(self, queue):
        self.queue = queue
        self.closed = False
        Connection.opened.append(self)

    def __getattr__(self, name):
        return getattr(self.queue, name)

    @property
    def capabilities(self):
        return self.queue.capabilities

    def close(self):
        self.closed = True


def test_a_factory_gives_each_client_its_own_adapter():
    shared = MemoryQueue(timeout=LONG)
    Connection.opened = []
    history = record(lambda: Connection(shared), clients=4, ops_per_client=20)
    assert len(Connection.opened) == 4 and all(c.closed for c in Connection.opened)
    assert find_anomalies(history) == ()
    assert isinstance(linearize.check(history), Linearizable)


class Stuck(MemoryQueue):
    """The first reserve never returns until released."""

    def __init__(self):
        super().__init__(timeout=LONG)
        self.release = threading.Event()
        self.stuck = False

    def reserve(self, now):
        with self._lock:
            first = not self.stuck
            self.stuck = True
        if first:
            self.release.wait(5)
        return super().reserve(now)


def test_a_call_still_running_at_the_timeout_is_unknown():
    queue = Stuck()
    try:
        history = record(
            queue, clients=2, ops_per_client=10, timeout=0.5, mix=(0, 1, 0), drain=False
        )
    finally:
        queue.release.set()
    cut = [op for op in history.operations if op.complete is None]
    assert len(cut) == 1 and cut[0].op == "reserve"
    assert cut[0].result.reason == "still running after the 0.5s timeout"
    assert find_anomalies(history) == ()
    assert isinstance(linearize.check(history), Linearizable)


def test_misuse_is_refused_early():
    with pytest.raises(UsageError, match=r"^a queue-clock drain would wait 3600s"):
        record(MemoryQueue(timeout=LONG), clock="queue")
    with pytest.raises(UsageError, match=r"^mix must be three weights"):
        record(MemoryQueue(), mix=(1, 1))
    with pytest.raises(UsageError, match=r"^need clients >= 1"):
        record(MemoryQueue(), clients=0)
    with pytest.raises(UsageError, match=r"^clock must be 'virtual' or 'queue', got 'wall'$"):
        record(MemoryQueue(), clock="wall")


def test_a_class_is_a_factory():
    class SharedConnection(Connection):
        queue = MemoryQueue(timeout=LONG)

        def __init__(self):
            super().__init__(SharedConnection.queue)

    Connection.opened = []
    history = record(SharedConnection, clients=3, ops_per_client=10)
    assert len(Connection.opened) == 3
    assert history.meta["adapter"] == "SharedConnection"
    assert find_anomalies(history) == ()


def test_a_factory_that_fails_is_a_driver_error():
    def broken():
        raise OSError("refused")

    with pytest.raises(DriverError, match=r"^the adapter factory failed: OSError: refused$"):
        record(broken)


# ---------------------------------------------------------------- broken variants caught


@pytest.mark.parametrize("mutant", RACE_MUTANTS, ids=lambda m: m.name)
def test_every_race_mutant_is_caught_on_its_clause(mutant):
    """The catalogue's own recording options catch each mutant on its clause."""
    (clause,) = mutant.clauses
    caught(mutant.factory, clause, attempts=10, **mutant.record_options)


def test_check_then_act_reserve_delivers_one_job_twice_MQ_RESERVE_3():
    history, anomaly = caught(
        lambda: PeekThenTake(timeout=LONG),
        "MQ-RESERVE-3",
        clients=8,
        ops_per_client=30,
        mix=(0.4, 0.6, 0.0),
    )
    reserves = [
        history.operations[i] for i in anomaly.operations if history.operations[i].op == "reserve"
    ]
    assert len(reserves) == 2 and reserves[0].returned["id"] == reserves[1].returned["id"]
    assert isinstance(linearize.check(history, budget=1), (NotLinearizable, Undecided))


def test_delete_racing_restore_brings_a_deleted_job_back_MQ_RESERVE_2():
    history, anomaly = caught(
        lambda: DeleteRacesRestore(timeout=0.001),
        "MQ-RESERVE-2",
        attempts=10,
        clients=8,
        ops_per_client=60,
        mix=(0.3, 0.3, 0.4),
        abandon_rate=0.0,
        clock="queue",
    )
    kinds = [history.operations[i].op for i in anomaly.operations]
    assert kinds == ["push", "delete", "reserve"] or sorted(kinds) == ["delete", "push", "reserve"]


def test_non_atomic_reserve_loses_jobs_MQ_LOSS_1():
    history, anomaly = caught(
        lambda: NonAtomicReserve(timeout=LONG),
        "MQ-LOSS-1",
        clients=8,
        ops_per_client=30,
        mix=(0.5, 0.5, 0.0),
        abandon_rate=1.0,
    )
    assert history.operations[anomaly.operations[-1]].drain
    assert isinstance(linearize.check(history, budget=1), (NotLinearizable, Undecided))
