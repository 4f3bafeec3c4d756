"""Tests of `mqspec.conformance.concurrency.check.run_concurrency`, the concurrency profile's check.

The shipped correct backends must pass it: memory:// and an exec: driver shared by every
client (both serialise calls), SQLite with one connection per client on one file, and the
servers (Redis, PostgreSQL, MariaDB) with one connection per client on one namespace. (This
check found two real bugs, since fixed: SQLite read its clock before waiting for the write
lock, and MariaDB's Reserve skipped rows another Reserve's scan had locked.) Each race
mutant must fail it on its clause, with a minimal program; and Undecided verdicts are counted,
never failures.
"""

from __future__ import annotations

import sys

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.registry import open_adapter
from mqspec.adapters.selftest.catalogue import RACE_MUTANTS
from mqspec.adapters.sqlite import SqliteQueue
from mqspec.conformance.concurrency.check import PROFILES, ConcurrencyOutcome, run_concurrency
from mqspec.conformance.concurrency.timeline import render_svg
from mqspec.reference.errors import UsageError
from tests.adapters.servers import (
    MARIADB_URL,
    POSTGRESQL_URL,
    REDIS_URL,
    fresh_name,
    require,
    with_options,
)

QUICK = {"rounds": 2, "examples": 10, "repeats": 3}  # the quick profile, shrunk for test time


def assert_conforms(outcome: ConcurrencyOutcome) -> None:
    assert outcome.ok, "\n".join(v.render() for v in outcome.violations)
    assert outcome.history is None and outcome.program is None and outcome.anomalies == ()
    assert outcome.histories > outcome.settings.rounds and outcome.operations > 0
    assert outcome.elapsed > 0


def test_memory_queue_conforms_under_the_quick_profile():
    outcome = run_concurrency(MemoryQueue(timeout=60), seed=1)
    assert_conforms(outcome)
    assert outcome.settings == PROFILES["quick"]
    assert outcome.unknown == ()
    assert outcome.elapsed < 30
    assert outcome.found_after is None


def test_memory_queue_with_tokens_and_delays_counts_unknown_as_unknown():
    # T = 5 ms on virtual time: reservations expire while the clients run, so histories are
    # not time-separated; the exact checker may say Undecided, which must never be a violation.
    outcome = run_concurrency(MemoryQueue(timeout=0.005, tokens=True), seed=2, **QUICK)
    assert_conforms(outcome)
    assert outcome.unknown_count == sum(n for _, n in outcome.unknown)


def test_exec_driver_shared_by_every_client_conforms():
    """ProcessQueue serialises requests with a lock, so one driver serves every thread."""
    queue = open_adapter(f"exec:{sys.executable} adapters/drivers/python/driver.py")
    try:
        assert_conforms(run_concurrency(queue, seed=3, **QUICK))
    finally:
        queue.close()


def test_sqlite_with_one_connection_per_client_conforms(tmp_path):
    path = tmp_path / "q.db"
    first = SqliteQueue(path, queue="conc", timeout=60)
    try:
        outcome = run_concurrency(
            first, factory=lambda: SqliteQueue(path, queue="conc", timeout=60), seed=4, **QUICK
        )
        assert_conforms(outcome)
    finally:
        first.close()


@pytest.mark.parametrize("mutant", RACE_MUTANTS, ids=lambda m: m.name)
def test_every_race_mutant_fails_on_its_clause(mutant):
    """PeekThenTake: MQ-RESERVE-3; DeleteRacesRestore: MQ-RESERVE-2; NonAtomicReserve:
    MQ-LOSS-1."""
    options = mutant.parallel_options
    outcome = run_concurrency(
        mutant.factory(), seed=0, examples=options["examples"], repeats=options["repeats"]
    )
    assert not outcome.ok
    assert set(mutant.clauses) & set(outcome.clauses), outcome.clauses
    # The first failure is timed when it happens, not after shrinking, which takes longer.
    assert outcome.found_after is not None and 0 < outcome.found_after <= outcome.elapsed
    assert outcome.history is not None and outcome.anomalies
    assert outcome.program is not None and outcome.program.size <= 8
    first = outcome.violations[0]
    assert first.operations == tuple(outcome.history.operations[i] for i in first.indices)
    assert first.clause.id in first.render()
    svg = render_svg(outcome.history, outcome.anomalies)
    assert 'class="op anomaly"' in svg


def test_misuse_is_refused_early():
    with pytest.raises(UsageError, match=r"^unknown concurrency profile 'slow'; known: quick"):
        run_concurrency(MemoryQueue(), profile="slow")
    with pytest.raises(UsageError, match=r"^need rounds >= 0 and budget > 0"):
        run_concurrency(MemoryQueue(), budget=0)


# ---------------------------------------------------------------- servers


@pytest.mark.server
@pytest.mark.parametrize(
    ("engine", "url"),
    [
        ("Redis", REDIS_URL),
        ("PostgreSQL", POSTGRESQL_URL),
        ("MariaDB", MARIADB_URL),
    ],
)
def test_server_with_one_connection_per_client_conforms(engine, url):
    base = require(engine, url)
    target = with_options(base, queue=fresh_name("c"), timeout=60)
    first = open_adapter(target)
    try:
        outcome = run_concurrency(first, factory=lambda: open_adapter(target), seed=5, **QUICK)
        assert_conforms(outcome)
    finally:
        first.close()
        first.drop()
