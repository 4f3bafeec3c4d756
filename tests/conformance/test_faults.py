"""Tests of fault runs (mqspec.conformance.faults.runs, injection, ledger).

A correct queue must pass the faults machine under heavy faults with zero lost, duplicated or
unexpected jobs (MQ-LOSS-1, MQ-LOSS-2); every fault mutant must be caught on one of its
clauses; an error during a fault is judged unknown and one without a fault is an error
(MQ-LOSS-3, MQ-PUSH-1); faults heal before every reset and every final drain; the stats count
what happened. The server tests run the faults machine through the TCP proxy against Redis,
PostgreSQL and MariaDB (skipping with the reason when a server is down; failing in CI).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test

from mqspec.adapters.base import FaultInjected, QueueAdapter
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.registry import open_adapter
from mqspec.adapters.selftest.catalogue import FAULT_CORRECT, FAULT_MUTANTS
from mqspec.adapters.selftest.fault_mutants import (
    DeleteAcksFailedWrite,
    PopBeforeRecord,
    PushRetriesTwice,
)
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.statemachine import machine_for
from mqspec.conformance.core.transcript import Step
from mqspec.conformance.core.violations import ContractViolation
from mqspec.conformance.faults.injection import FaultyQueue
from mqspec.conformance.faults.ledger import tally
from mqspec.conformance.faults.runs import FaultRig
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Failed, Ok, Unknown

from ..adapters.servers import (
    MARIADB_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    fresh_name,
    require,
    with_options,
)

A = {"id": "a", "priority": 1}
B = {"id": "b", "priority": 1}
ZERO = {"lost": 0, "duplicated": 0, "unexpected": 0}


def run(
    machine: type[RuleBasedStateMachine],
    *,
    examples: int,
    steps: int,
    seed: int = 0,
    shrink: bool = False,
) -> None:
    """Run ``machine`` like the engine does; without shrinking unless asked (it is slow)."""
    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        report_multiple_bugs=False,
        phases=phases,
    )
    test = get_state_machine_test(machine, settings=config)
    hypothesis_seed(seed)(test)
    test()


def anomalies(rig: FaultRig) -> dict[str, int]:
    stats = rig.stats
    return {"lost": stats.lost, "duplicated": stats.duplicated, "unexpected": stats.unexpected}


# -- a correct queue passes ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_memory_passes_heavy_faults_with_nothing_lost_MQ_LOSS_1_MQ_LOSS_2(seed: int) -> None:
    """Faults before and after push, reserve and delete: no finding, and the drains show no
    lost, duplicated or unexpected job. Only MQ-LOSS-3 may warn (a push whose answer was lost
    after it queued the job reported failure: the contract's SHOULD)."""
    with FaultRig(MemoryQueue(timeout=30), "memory://?timeout=30", seed=seed) as rig:
        machine = rig.machine(strict=False)
        run(machine, examples=25, steps=30, seed=seed)
        stats = rig.stats
    assert stats.violations == {}
    assert anomalies(rig) == ZERO
    assert stats.cases >= 25 and stats.drained == stats.cases
    assert sum(stats.fired.values()) > 0 and stats.unknown > 0
    assert stats.unknown <= stats.errored <= stats.operations
    assert {w.clause.id for w in machine.findings} <= {"MQ-LOSS-3"}


@pytest.mark.parametrize(
    ("name", "factory"),
    [(q.name, q.factory) for q in FAULT_CORRECT],
    ids=[q.name for q in FAULT_CORRECT],
)
def test_correct_queue_with_fault_points_passes_MQ_LOSS_2(name: str, factory: Any) -> None:
    """Faults inside operations of a queue that handles them: full effect or none."""
    with FaultRig(factory(), name) as rig:
        run(rig.machine(), examples=40, steps=30)
    assert rig.stats.violations == {} and anomalies(rig) == ZERO
    assert rig.stats.fired.get("point", 0) > 0


# -- broken queues are caught -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "factory", "clauses"),
    [(m.name, m.factory, m.clauses) for m in FAULT_MUTANTS],
    ids=[m.name for m in FAULT_MUTANTS],
)
def test_fault_mutant_is_caught_on_its_clause(name: str, factory: Any, clauses: frozenset) -> None:
    """pop-before-record: MQ-LOSS-1/MQ-LOSS-2; push-retries-twice: MQ-RESERVE-3/MQ-LOSS-2/
    MQ-LOSS-3; delete-acks-failed-write: MQ-DELETE-1/MQ-DELETE-2/MQ-RESERVE-2."""
    for seed in range(4):  # which programs reach the bug depends on the seed
        with FaultRig(factory(), name) as rig:
            try:
                run(rig.machine(), examples=20, steps=20, seed=seed)
            except ContractViolation as caught:
                assert caught.finding.clause.id in clauses, caught.finding.render()
                assert set(rig.stats.violations) & clauses
                return
    pytest.fail(f"{name} not caught in 4 seeds")


@pytest.mark.parametrize(
    ("name", "factory", "clauses"),
    [(m.name, m.factory, m.clauses) for m in FAULT_MUTANTS],
    ids=[m.name for m in FAULT_MUTANTS],
)
def test_fault_mutant_conforms_without_faults(name: str, factory: Any, clauses: frozenset) -> None:
    """Each bug shows only under faults: the plain machine passes the same queue."""
    run(machine_for(factory()), examples=20, steps=20, seed=0)


@pytest.mark.parametrize(
    ("factory", "kind"),
    [
        (PopBeforeRecord, "lost"),
        (PushRetriesTwice, "duplicated"),
        (DeleteAcksFailedWrite, "unexpected"),
    ],
    ids=["pop-before-record", "push-retries-twice", "delete-acks-failed-write"],
)
def test_anomaly_is_counted_and_attributed_MQ_LOSS_1(factory: Any, kind: str) -> None:
    """Each mutant's anomaly shows in the drain counts (and only it), attributed to the clause
    the case failed on: never "none", which would be a hole in the model."""
    clauses = next(m.clauses for m in FAULT_MUTANTS if m.factory is factory)
    counted = 0
    for seed in range(10):  # which cases reach the anomaly depends on the programs drawn
        if counted:
            break
        with FaultRig(factory(), "mutant") as rig, contextlib.suppress(ContractViolation):
            run(rig.machine(), examples=20, steps=20, seed=seed)
        stats = rig.stats
        found = {k: n for k, n in anomalies(rig).items() if n}
        assert set(found) <= {kind}, found  # only this mutant's kind of anomaly, ever
        assert set(stats.by_clause) <= clauses, stats.by_clause
        counted += getattr(stats, kind)
    assert counted > 0


# -- judging errors during faults ---------------------------------------------------------------


def test_error_during_a_fault_is_unknown_else_failed_MQ_LOSS_3_MQ_PUSH_1() -> None:
    queue = FaultyQueue(MemoryQueue())
    s = Session(queue, fault_outcome=queue.fault_outcome)
    queue.arm("error-before")
    assert s.push(A) == Unknown(
        "request stopped by an injected error-before: FaultInjected: injected fault before "
        "the call: it did not reach the queue",
        reported_failure=True,
    )
    queue.arm("error-after")
    outcome = s.push(B)  # the answer was lost: unknown, and no reported failure
    assert isinstance(outcome, Unknown) and not outcome.reported_failure
    bad = s.push({"id": "", "priority": 1})  # no fault: an error, judged as one (MQ-TASK-1)
    assert isinstance(bad, Failed)
    assert s.reserve() == Ok(B)  # B was queued by the push whose answer was lost
    assert s.warnings == []  # MQ-LOSS-3 concerns A, which never reached the queue
    assert s.drain() == [B]  # restored after its timeout; A never reached the queue
    assert queue.fired == {"error-before": 1, "error-after": 1}


def test_failed_push_outside_a_fault_is_still_a_violation_MQ_PUSH_1() -> None:
    """The hook only excuses errors a fault caused: an armed fault that has not fired yet
    (a fault point the push never reaches) excuses nothing."""

    class Flaky(MemoryQueue):
        def push(self, task: Any, now: float | None) -> Any:
            raise RuntimeError("disk full")

    queue = FaultyQueue(Flaky())
    s = Session(queue, fault_outcome=queue.fault_outcome)
    with pytest.raises(ContractViolation, match="MQ-PUSH-1"):
        s.push(A)


def test_fault_point_fires_once_then_costs_nothing() -> None:
    queue = PopBeforeRecord()
    assert queue._armed_fault_point is None
    queue.push(A, 0)
    queue.arm_fault_point("reserve:between")
    with pytest.raises(FaultInjected, match="reserve:between"):
        queue.reserve(0)
    assert queue.fault_points_fired == 1 and queue.reserve(0) is None  # a was lost
    with pytest.raises(ValueError, match="no fault point 'nowhere'"):
        queue.arm_fault_point("nowhere")


def test_faulty_queue_refuses_kinds_it_cannot_inject() -> None:
    queue = FaultyQueue(MemoryQueue())
    assert queue.kinds == ("error-before", "error-after")
    with pytest.raises(ValueError, match="cannot inject 'reset' here"):
        queue.arm("reset")


# -- healing ------------------------------------------------------------------------------------


def test_faults_heal_before_the_drain_and_before_reset_MQ_LOSS_1() -> None:
    with FaultRig(MemoryQueue(), "memory://") as rig:
        machine = rig.machine()
        case = machine()
        case.push(priority=1, delay=0, fields={})
        case.adapter.arm("error-before")
        case.teardown()  # the drain must see job-1, not the fault
        drained = [s for s in case.session.transcript.steps if s.op == "drain"]
        assert [s.outcome.value and s.outcome.value["id"] for s in drained] == ["job-1", None]
        assert rig.queue.armed is None and rig.queue.fired == {}
        case = machine()
        case.adapter.arm("error-before")
        machine()  # the next case's reset heals first
        assert rig.queue.armed is None
    stats = rig.stats
    assert (stats.cases, stats.drained, stats.unknown) == (1, 1, 0)
    assert stats.injected == {"error-before": 2} and stats.fired == {}


def test_stats_count_what_happened() -> None:
    with FaultRig(MemoryQueue(), "memory://") as rig:
        case = rig.machine()()
        case.adapter.arm("error-after")
        case.push(priority=1, delay=0, fields={})  # queued, answer lost
        case.adapter.arm("error-before")
        case.reserve()  # never reached the queue
        case.session.push({"id": "", "priority": 1})  # a plain error
        case.teardown()
    stats = rig.stats
    assert stats.injected == {"error-after": 1, "error-before": 1}
    assert stats.fired == {"error-after": 1, "error-before": 1}
    assert (stats.operations, stats.errored, stats.unknown) == (5, 3, 2)  # + 2 drain reserves
    assert stats.violations == {} and anomalies(rig) == ZERO


# -- the Jepsen-style counts --------------------------------------------------------------------


def _steps(*rows: tuple[Any, ...]) -> list[Step]:
    return [Step(now, op, task, outcome) for now, op, task, outcome in rows]


def test_tally_counts_lost_duplicated_unexpected() -> None:
    c = {"id": "c", "priority": 1}
    steps = _steps(
        (0, "push", A, Ok(A)),
        (0, "push", B, Unknown("cut", reported_failure=True)),
        (0, "push", c, Ok(c)),
        (1, "reserve", None, Ok(c)),
        (2, "delete", c, Ok(None)),  # c acknowledged while its reservation was pending
        (99, "drain", None, Ok(B)),
        (99, "drain", None, Ok(B)),  # B twice
        (99, "drain", None, Ok({**c, "_mq_token": "t"})),  # c came back
        (99, "drain", None, Ok({"id": "x", "priority": 1})),  # never pushed
        (99, "drain", None, Ok(None)),  # A never came out
    )
    got = tally(steps, timeout=60)
    assert (got.lost, got.duplicated, got.unexpected, got.drained) == (1, 1, 2, True)
    assert (got.operations, got.errored, got.unknown) == (10, 1, 1)


def test_tally_is_conservative_when_fate_is_unclear() -> None:
    """A job whose Delete outcome is unknown is not lost; a drain that never reached null
    proves nothing lost; a Delete after the deadline does not make a job unexpected."""
    steps = _steps(
        (0, "push", A, Ok(A)),
        (0, "push", B, Ok(B)),
        (1, "reserve", None, Ok(B)),
        (2, "delete", A, Unknown("cut")),
        (70, "delete", B, Ok(None)),
        (99, "drain", None, Ok(B)),
        (99, "drain", None, Ok(None)),
    )
    got = tally(steps, timeout=60)
    assert (got.lost, got.duplicated, got.unexpected) == (0, 0, 0)
    assert tally(steps[:-1], timeout=60).drained is False


# -- the rig ------------------------------------------------------------------------------------


class _Named:
    queue = "ns1"


def test_rig_rewrites_server_urls_onto_the_proxy_same_namespace() -> None:
    rig = FaultRig(_Named(), "postgresql://u:p%40w@db.example:5433/test?queue=ns1")  # type: ignore[arg-type]
    assert rig._through_proxy(4000) == "postgresql://u:p%40w@127.0.0.1:4000/test?queue=ns1"
    rig = FaultRig(_Named(), "redis://db.example/0")  # type: ignore[arg-type]
    assert rig._through_proxy(4000) == "redis://127.0.0.1:4000/0?queue=ns1"
    rig = FaultRig(object(), "mysql://root@h/test")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"add \?queue=<name>"):
        rig._through_proxy(4000)
    with pytest.raises(UsageError, match="entered"):
        FaultRig(MemoryQueue(), "memory://").machine()


# -- server adapters through the fault proxy ----------------------------------------------------

SERVERS = [("Redis", REDIS_URL), ("PostgreSQL", POSTGRESQL_URL), ("MariaDB", MARIADB_URL)]


@pytest.fixture
def server_queue(request: pytest.FixtureRequest) -> Iterator[tuple[QueueAdapter, str]]:
    engine, base = request.param
    url = with_options(require(engine, base), queue=fresh_name("faults"), timeout=30)
    adapter = open_adapter(url)
    yield adapter, url
    adapter.close()
    adapter.drop()  # type: ignore[attr-defined]


# Seed 1: seed 0 is the faults profile's on each server (tests/adapters/test_server_profiles.py;
# a soak run on PostgreSQL and MariaDB).
@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("seed", [1])
@pytest.mark.parametrize("server_queue", SERVERS, ids=[e for e, _ in SERVERS], indirect=True)
def test_server_adapter_passes_the_faults_machine_MQ_LOSS_1_MQ_LOSS_2(
    server_queue: tuple[QueueAdapter, str], seed: int
) -> None:
    """Resets, stalls and lost answers through the proxy: no finding, zero lost, duplicated or
    unexpected jobs, and every connection the faults broke was opened again."""
    adapter, url = server_queue
    with FaultRig(adapter, url, seed=seed) as rig:
        machine = rig.machine()
        run(machine, examples=20, steps=20, seed=seed)
        stats = rig.stats
        proxy = rig.proxy
        assert proxy is not None and proxy.connections > 1  # it reconnected after faults
    assert stats.violations == {}, stats
    assert anomalies(rig) == ZERO
    assert stats.drained == stats.cases and stats.unknown > 0
    assert sum(n for kind, n in stats.fired.items() if kind != "slow") > 0
    assert {w.clause.id for w in machine.findings} <= {"MQ-LOSS-3"}
    assert not [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]
