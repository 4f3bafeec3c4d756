"""The test command of the mutation run (bench/mutation/run.sh): the conformance suite itself.

Each test runs `mqspec.conformance.core.engine.run` (every clause scenario, then the
Hypothesis state machine) with the ``quick`` profile, a fixed seed and ``strict=True`` on one
configuration of a shipped adapter, and asserts the verdict ``conforms``. A mutant of
``adapters/memory.py`` or ``adapters/sqlite.py`` is killed when any configuration stops
conforming: a clause fails, a SHOULD is broken (strict), or the harness cannot drive the queue
(verdict ``error``, e.g. a `DriverError`, or an exception escaping the adapter).

The configurations are the ones the suite already certifies: for memory, every entry of
`CORRECT_VARIANTS` (plain, tokens, reject, capacity, the ticker and reversed-ties subclasses, which
exercise the hooks `_slack`, `_cutoff` and `_position`); for SQLite, the default options and each
option on its own. Select one adapter with ``-k memory`` or ``-k sqlite``.

Each run takes seconds (marked ``slow``), and is part of ``make test`` on its own account:
with the default profile and seed, the memory runs are also the selftest's runs of the correct
variants on the quick profile, which `tests/quality` therefore does not repeat (its
``test_each_selftest_run_is_made_once`` checks that the two stay in step).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.selftest.catalogue import CORRECT_VARIANTS
from mqspec.adapters.sqlite import SqliteQueue
from mqspec.conformance.core.engine import RunFinished, RunResult, run
from mqspec.conformance.frontends.render import render_failure

PROFILE = os.environ.get("MQSPEC_MUTATION_PROFILE", "quick")
SEED = int(os.environ.get("MQSPEC_MUTATION_SEED", "0"))


def _result(adapter: QueueAdapter, name: str) -> RunResult:
    try:
        for event in run(adapter, url=name, profile=PROFILE, seed=SEED, strict=True):
            if isinstance(event, RunFinished):
                return event.result
    finally:
        adapter.close()
    raise AssertionError("run() ended without RunFinished")


def _assert_conforms(result: RunResult) -> None:
    assert result.verdict == "conforms", render_failure(result)
    assert not result.warnings


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CORRECT_VARIANTS))
def test_memory_conforms(name: str) -> None:
    _assert_conforms(_result(CORRECT_VARIANTS[name](), f"memory:{name}"))


@pytest.fixture(scope="module")
def sqlite_dir() -> Iterator[str]:
    # tmpfs when there is one: synchronous=FULL makes every commit an fsync, slow on a disk.
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = tempfile.mkdtemp(prefix="mqspec-mut-", dir=base)
    yield path
    shutil.rmtree(path, ignore_errors=True)


SQLITE_OPTIONS: dict[str, dict[str, object]] = {
    "default": {},
    "tokens": {"tokens": True},
    "reject": {"duplicates": "reject"},
    "capacity": {"max_jobs": 50},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SQLITE_OPTIONS))
def test_sqlite_conforms(name: str, sqlite_dir: str) -> None:
    queue = SqliteQueue(
        os.path.join(sqlite_dir, "q.db"),
        queue=f"mut_{uuid.uuid4().hex[:12]}",
        **SQLITE_OPTIONS[name],  # type: ignore[arg-type]
    )
    try:
        _assert_conforms(_result(queue, f"sqlite:{name}"))
    finally:
        queue.drop()
