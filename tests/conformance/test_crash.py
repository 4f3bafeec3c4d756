"""Tests of crash runs: the host driver (adapters/host.py), `CrashingQueue` and the crash profile.

The host serves a Python adapter over the exec: protocol and can kill itself inside an
operation (``arm_crash``); `CrashingQueue` restarts it and reports the cut operation; the crash
profile must pass a real durable queue (SQLite) and catch one that only claims durability
(`forgetful.ForgetfulDurable`, loaded by the host with this folder on PYTHONPATH). Every test
starts real processes, so the profiles are small (monkeypatched over "crash").
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mqspec.adapters import sqlite
from mqspec.adapters.base import OperationCut
from mqspec.adapters.host import serve
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.process import ProcessQueue
from mqspec.adapters.registry import open_adapter, open_isolated_url
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import NOT_DURABLE, run
from mqspec.conformance.core.events import PhaseDone, RunFinished
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.violations import ContractViolation
from mqspec.conformance.faults.crash import (
    RESTART_PROGRAM,
    CrashingQueue,
    host_argv,
    host_url,
    restart_program,
)
from mqspec.conformance.frontends.cli import main
from mqspec.conformance.frontends.replay import ReplayFinished, replay
from mqspec.reference.errors import DriverError, UsageError
from tests.conformance.slow import SlowFirstReserves
from tests.conftest import TEST_SHRINK_SECONDS

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent
FORGETFUL = "py:forgetful:ForgetfulDurable"
SMALL = Profile("crash", examples=12, steps=25, crash=True)
# Shrinking restarts the host for every crash step it replays: short cases shrink fast, and
# the test judges the clause and that the program replays, not its size (tests/conftest.py).
SHORT = Profile("crash", examples=30, steps=5, crash=True, shrink_seconds=TEST_SHRINK_SECONDS)
TINY = Profile("crash", examples=3, steps=15, crash=True)
A = {"id": "a", "priority": 1}
B = {"id": "b", "priority": 1}


@pytest.fixture(autouse=True)
def small_crash_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "crash", SMALL)


@pytest.fixture
def forgetful_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`forgetful` importable here and in every host process started from now on."""
    monkeypatch.syspath_prepend(str(HERE))
    paths = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'q.db'}?queue=crash"


def gone(pid: int) -> bool:
    """True when ``pid`` is neither running nor a zombie (it was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def drain_ids(queue, now: float = 1000.0) -> list[str]:
    out = []
    while (task := queue.reserve(now)) is not None:
        out.append(task["id"])
    return out


def check(url: str, opened: str | None = None, seed: int = 0) -> tuple[RunResult, list]:
    adapter = open_adapter(opened or url)
    try:
        seen = list(run(adapter, url=url, opened_url=opened, profile="crash", seed=seed))
    finally:
        adapter.close()
    last = seen[-1]
    assert isinstance(last, RunFinished)
    return last.result, seen


def statuses(result: RunResult) -> dict[str, tuple[str, str]]:
    return {c.clause.id: (c.status, c.reason) for c in result.clauses}


# -- the host speaks the protocol ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_host_serves_an_adapter_over_the_exec_protocol(kind, db):
    url = "memory://?tokens=1&timeout=5" if kind == "memory" else f"{db}&tokens=1&timeout=5"
    task = {**A, "note": "zoë ✓ \u2028"}
    with ProcessQueue(host_argv(url)) as driver:
        assert driver.capabilities == open_adapter(url).capabilities
        assert driver.name == f"mqspec host {type(open_adapter(url)).__name__} ({url})"
        driver.reset(0.0)
        assert driver.push(task, 0.0) == task
        held = driver.reserve(1.0)
        assert held is not None and held.pop("_mq_token") and held == task
        assert driver.reserve(1.0) is None
        driver.tick(7.0)
        again = driver.reserve(7.0)  # the reservation timed out at 6
        driver.delete(again, 8.0)
        assert driver.reserve(100.0) is None


def test_host_answers_requests_in_process():
    requests = [
        {"seq": 0, "op": "hello", "protocol": 1},
        {"seq": 1, "op": "arm_crash", "after": -1},
        {"seq": 2, "op": "arm_crash", "after": True},
        {"seq": 3, "op": "fly"},
        {"seq": 4, "op": "push"},
        {"seq": 5, "op": "push", "task": {"id": "x", "priority": 9}, "now": 0},
        {"seq": 6, "op": "reserve", "now": 0},
        {"seq": 7, "op": "arm_crash", "after": 0},
        {"seq": 8, "op": "hello", "protocol": 2},
    ]
    lines = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    answers = io.BytesIO()
    serve(MemoryQueue(), "memory://", lines, answers)
    got = [json.loads(line) for line in answers.getvalue().splitlines()]
    assert [a["seq"] for a in got] == list(range(9))
    assert got[0]["ok"]["protocol"] == 1
    assert got[0]["ok"]["capabilities"] == MemoryQueue().capabilities.to_json()
    assert got[1]["error"] == {"message": "arm_crash needs an integer after >= 0, got -1"}
    assert got[2]["error"]["message"].endswith("got True")
    assert got[3] == {"seq": 3, "error": {"message": "unknown op 'fly'"}}
    assert got[4] == {"seq": 4, "error": {"message": "push needs a task"}}
    assert got[5]["error"]["message"].startswith("ValueError: ")
    assert got[6] == {"seq": 6, "ok": {"task": None}}
    assert got[7] == {"seq": 7, "ok": None}
    assert got[8] == {"seq": 8, "error": {"message": "this driver speaks protocol 1"}}


def test_host_that_cannot_open_its_url_exits_2():
    with pytest.raises(DriverError, match=r"exited with code 2 before") as caught:
        ProcessQueue(host_argv("nope://x"))
    cause = "| mqspec host: cannot open nope://x: unknown queue URL scheme 'nope'"
    assert cause in str(caught.value)


# -- killing inside an operation -----------------------------------------------------------------


def test_arm_kills_the_host_inside_push_and_it_is_reaped(db):
    queue = CrashingQueue(db)
    try:
        queue.reset(0.0)
        queue.push(A, 0.0)
        before = queue.pid
        queue.arm(3)
        where = r"^killed inside push, before (sqlite|json_store)\.py:\d+$"
        with pytest.raises(OperationCut, match=where):
            queue.push(B, 0.0)
        assert before is not None and gone(before)  # killed and reaped: no zombie
        assert queue.pid not in (None, before)
        assert (queue.restarts, queue.cuts, queue.armed) == (1, 1, False)
        assert drain_ids(queue) == ["a"]  # the third line of push is before its COMMIT
    finally:
        queue.close()


def _line_of(code: str) -> int:
    """The line number in sqlite.py of the one line holding ``code``."""
    lines = Path(sqlite.__file__).read_text().splitlines()
    found = [n for n, text in enumerate(lines, start=1) if code in text]
    assert len(found) == 1, code
    return found[0]


def test_a_kill_takes_full_effect_or_none_around_the_commit_MQ_LOSS_2(db):
    """Kill push at each of its lines in turn: up to the COMMIT the job is not queued (the
    transaction rolls back), from the next line on it is."""
    commit = _line_of('conn.execute("COMMIT")')
    queue = CrashingQueue(db)
    lines, queued = [], []
    try:
        for after in range(1, 41):
            queue.reset(0.0)
            queue.arm(after)
            try:
                queue.push(B, 0.0)
            except OperationCut as cut:
                # The lines of SqliteQueue's classes count: its own and JsonStoreQueue's.
                pattern = r"killed inside push, before (sqlite|json_store)\.py:(\d+)"
                where = re.fullmatch(pattern, str(cut))
                assert where is not None, str(cut)
                lines.append((where[1], int(where[2])))
                queued.append(drain_ids(queue) == ["b"])
            else:
                break  # push ran fewer lines than ``after``: it completed
    finally:
        queue.close()
    commit = ("sqlite", commit)
    assert commit in lines  # a kill landed between BEGIN IMMEDIATE and COMMIT
    last_lost = lines.index(commit)
    assert 0 < last_lost < len(lines) - 1  # and kills landed before and after it
    assert queued == [False] * (last_lost + 1) + [True] * (len(lines) - last_lost - 1), lines


def test_an_operation_shorter_than_the_count_completes_and_disarms(db):
    queue = CrashingQueue(db)
    try:
        queue.reset(0.0)
        queue.arm(40)
        with pytest.raises(Exception, match="ValueError: task priority"):
            queue.push({"id": "x", "priority": 9}, 0.0)  # refused after 3 lines
        assert not queue.armed
        queue.push(A, 0.0)  # not killed: the arm was used up
        assert (queue.restarts, queue.cuts) == (0, 0)
    finally:
        queue.close()


def test_reset_disarms(db):
    queue = CrashingQueue(db)
    try:
        queue.arm(1)
        queue.reset(0.0)
        queue.push(A, 0.0)
        assert queue.cuts == 0
        with pytest.raises(UsageError, match=r"^arm needs an integer after >= 1, got 0$"):
            queue.arm(0)
    finally:
        queue.close()


def test_restart_between_operations_keeps_a_pending_reservation_MQ_DURABLE_1(db):
    queue = CrashingQueue(db)
    try:
        s = Session(queue, url=queue.exec_url)
        s.push(A)
        s.push(B)
        s.reserve()
        s.restart()
        assert [step.op for step in s.transcript.steps][-1] == "restart"
        s.advance(1)
        assert s.reserve().value["id"] == "b"  # 'a' is still reserved after the restart
        assert [t["id"] for t in s.drain()] == ["a", "b"]
    finally:
        queue.close()


def test_a_queue_that_forgets_on_restart_breaks_MQ_DURABLE_1(forgetful_importable):
    queue = CrashingQueue(FORGETFUL)
    try:
        s = Session(queue)
        s.push(A)
        s.restart()
        with pytest.raises(ContractViolation) as caught:
            s.reserve()
        assert caught.value.finding.clause.id == "MQ-DURABLE-1"
    finally:
        queue.close()


# -- the fixed restart program -------------------------------------------------------------------

# The real-clock catalogue's forgetful queue: on its own clock, T = 1 s.
FORGETFUL_OWN_CLOCK = (
    "py:mqspec.adapters.ownclock:on_own_clock?of=mqspec.adapters.selftest.mutants:"
    "ForgetfulDurable&timeout=1"
)


def _restart_program(url: str, realtime: bool):
    queue = CrashingQueue(url)
    try:
        return restart_program(queue, strict=True, realtime=realtime), queue.restarts
    finally:
        queue.close()


def test_the_restart_program_passes_a_durable_queue_MQ_DURABLE_1(db):
    found, restarts = _restart_program(db, realtime=False)
    assert found is None and restarts == 1


def test_the_restart_program_catches_a_queue_that_forgets_MQ_DURABLE_1(forgetful_importable):
    found, _ = _restart_program(FORGETFUL, realtime=False)
    assert found is not None and found.clause.id == "MQ-DURABLE-1"
    assert found.source == RESTART_PROGRAM
    assert "restart" in [step.op for step in found.transcript.steps]


# On the real clock each sleeps through C's delay and A's reservation (T = 1 s): about 2 s.
def test_the_restart_program_on_the_real_clock_passes_sqlite_MQ_DURABLE_1(tmp_path):
    found, _ = _restart_program(f"sqlite:///{tmp_path / 'q.db'}?timeout=1", realtime=True)
    assert found is None


def test_the_restart_program_on_the_real_clock_catches_a_queue_that_forgets_MQ_DURABLE_1():
    """The real-clock catalogue's `forgetful-durable`: its one random crash worker (a py: URL
    gives no namespace per worker) once spent its whole budget without a case that pushed,
    killed and reserved; the fixed program always does."""
    found, _ = _restart_program(FORGETFUL_OWN_CLOCK, realtime=True)
    assert found is not None and found.clause.id == "MQ-DURABLE-1"
    assert found.transcript is not None and found.transcript.clock == "real"


def test_the_restart_program_runs_again_after_a_slow_call_on_the_real_clock_MQ_DURABLE_1(tmp_path):
    """A slow call cannot be judged fairly: the program starts again on an empty queue (as a
    scenario case does) instead of ending the crash phase with an error."""
    queue = CrashingQueue(f"sqlite:///{tmp_path / 'q.db'}?timeout=1")
    slow = SlowFirstReserves(queue)
    try:
        assert restart_program(slow, strict=True, realtime=True) is None  # type: ignore[arg-type]
    finally:
        queue.close()
    assert slow.slow == 0  # the slow reserve happened, and was not judged
    assert queue.restarts == 1  # the second attempt got as far as the kill


# -- the crash profile ---------------------------------------------------------------------------


@pytest.mark.slow
def test_crash_profile_passes_sqlite_with_crashes_inside_operations(tmp_path):
    adapter, opened, cleanup = open_isolated_url(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        url = f"sqlite:///{tmp_path / 'q.db'}"
        seen = list(run(adapter, url=url, opened_url=opened, profile="crash"))
    finally:
        cleanup()
    result = seen[-1].result
    assert result.verdict == "conforms", result.error or result.divergences
    crashed = [e for e in seen if isinstance(e, PhaseDone) and e.phase == "crash"]
    assert len(crashed) == 1 and crashed[0].examples >= 10
    assert crashed[0].restarts > crashed[0].cuts > 0  # several kills inside operations
    status = statuses(result)
    assert status["MQ-DURABLE-1"] == ("pass", f"{crashed[0].restarts} crashes and restarts")
    assert status["MQ-LOSS-2"] == ("pass", f"{crashed[0].cuts} operations cut by a crash")
    assert not any(isinstance(e, PhaseDone) and e.phase == "stateful" for e in seen)


@pytest.mark.slow
def test_crash_profile_catches_a_queue_that_only_claims_durability(
    forgetful_importable, monkeypatch
):
    monkeypatch.setitem(engine.PROFILES, "crash", SHORT)
    result, _ = check(FORGETFUL)
    assert result.verdict == "diverges"
    (divergence,) = result.divergences
    assert divergence.clause.id == "MQ-DURABLE-1"
    assert divergence.source == "crash"
    transcript = divergence.transcript
    assert transcript is not None and transcript.url == host_url(FORGETFUL)
    assert "restart" in [step.op for step in transcript.steps]
    assert statuses(result)["MQ-DURABLE-1"][0] == "fail"
    # The reproducer names the host, which replays the restarts: still broken.
    again = open_adapter(transcript.url)
    try:
        last = list(replay(transcript, again, url=transcript.url))[-1]
    finally:
        again.close()
    assert isinstance(last, ReplayFinished)
    assert last.divergence is not None and last.divergence.clause.id == "MQ-DURABLE-1"


def test_crash_profile_skips_MQ_DURABLE_1_for_a_queue_that_is_not_durable():
    result, seen = check("memory://")
    assert result.verdict == "conforms"
    assert statuses(result)["MQ-DURABLE-1"] == ("skip", NOT_DURABLE)
    # The ordinary state machine ran instead of the crash machine.
    assert any(isinstance(e, PhaseDone) and e.phase == "stateful" for e in seen)
    assert not any(isinstance(e, PhaseDone) and e.phase == "crash" for e in seen)


def test_crash_profile_needs_a_url_the_host_can_open(forgetful_importable):
    queue = open_adapter(FORGETFUL)
    last = list(run(queue, url="py:custom", profile="crash"))[-1]
    assert last.result.verdict == "error"
    assert "exited with code 2 before" in last.result.error
    assert "| mqspec host: cannot open py:custom: py: URL must be" in last.result.error


def test_cli_check_with_the_crash_profile(tmp_path, monkeypatch):
    monkeypatch.setitem(engine.PROFILES, "crash", TINY)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["check", "--profile", "crash", "--no-report"])
    assert out.exit_code == 0, out.output
    assert re.search(
        r"state machine with crashes, 3 examples, \d+ restarts, \d+ inside operations: ok",
        out.output,
    )
    assert re.search(r"MQ-DURABLE-1 +MUST +pass", out.output)


@pytest.mark.slow
def test_pytest_plugin_runs_the_crash_machine(pytester, db):
    # A subprocess, as a backend author runs it; its conftest shrinks the profile.
    pytester.makeconftest(
        f"from mqspec.conformance.core import engine\nengine.PROFILES['crash'] = engine.{TINY!r}\n"
    )
    result = pytester.runpytest_subprocess(
        "--mq", db, "--mq-profile", "crash", "-k", "test_search", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
