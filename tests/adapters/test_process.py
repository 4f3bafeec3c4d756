"""The exec: adapter (mqspec.adapters.process): the suite through real driver processes, and
every way a driver can break the driver protocol (spec/driver-protocol.md).

Drivers used here: the two example drivers (adapters/drivers/), the template with one clause
broken (drivers_for_tests/broken.py) and a driver that commits one protocol fault on request
(drivers_for_tests/misbehave.py). Every fault must raise DriverError naming it, and leave no
process behind: each test that starts a driver checks that its pid was reaped. A driver that
dies after its hello succeeded raises the subclass DriverDied; one that never got through hello,
or breaks the protocol, a plain DriverError. The reservation timeout the harness asks for in
hello is tested here for both example drivers in both time modes; their real-clock behaviour
(sleeping) is in test_driver_real_clock.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mqspec.adapters import driver_process, driver_protocol
from mqspec.adapters.process import (
    BackendError,
    DriverDied,
    ProcessQueue,
    capabilities_from_json,
    from_url,
)
from mqspec.adapters.registry import open_adapter
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import Profile, RunFinished, RunResult, run
from mqspec.conformance.core.session import Session
from mqspec.conformance.frontends.render import render_failure
from mqspec.reference.errors import DriverError, MqspecError, UsageError
from mqspec.reference.types import Capabilities, Failed
from tests.conftest import TEST_SHRINK_SECONDS

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "drivers_for_tests"
PYTHON_DRIVER = ROOT / "adapters" / "drivers" / "python" / "driver.py"
NODE_DRIVER = ROOT / "adapters" / "drivers" / "node" / "driver.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not on PATH")


def exec_url(*argv: object) -> str:
    return "exec:" + shlex.join(str(a) for a in argv)


def python_driver(*flags: str) -> list[str]:
    return [sys.executable, str(PYTHON_DRIVER), *flags]


def node_driver(*flags: str) -> list[str]:
    return [str(NODE), str(NODE_DRIVER), *flags]


def misbehaving(fault: str, on: str = "hello") -> list[str]:
    return [sys.executable, str(HERE / "misbehave.py"), fault, on]


def assert_reaped(pid: int) -> None:
    """``pid`` is neither running nor a zombie: it was our child and has been waited for."""
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # not (or no longer) a child of ours: reaped
    assert not Path(f"/proc/{pid}").exists()


def pid_in(message: str) -> int:
    """The pid misbehave.py prints on its first stderr line, as quoted in a DriverError."""
    found = re.search(r"misbehave: pid (\d+)", message)
    assert found, f"no pid in the message (its stderr lines were not shown?):\n{message}"
    return int(found.group(1))


@pytest.fixture
def small_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short quick profile. Its tests judge the clause a run names, which shrinking does not
    decide, so a failure shrinks for at most `TEST_SHRINK_SECONDS` (tests/conftest.py)."""
    small = Profile("quick", examples=15, steps=20, shrink_seconds=TEST_SHRINK_SECONDS)
    monkeypatch.setitem(engine.PROFILES, "quick", small)


def check(url: str) -> RunResult:
    adapter = open_adapter(url)
    assert isinstance(adapter, ProcessQueue)
    pid = adapter.pid
    try:
        events = list(run(adapter, url=url))
    finally:
        adapter.close()
    assert pid is not None
    assert_reaped(pid)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    return finished.result


# -- the suite through exec: -----------------------------------------------------------------


CORRECT = [
    pytest.param(python_driver(), id="python"),
    pytest.param(python_driver("--tokens", "--timeout", "30"), id="python-tokens"),
    pytest.param([NODE, str(NODE_DRIVER)], id="node", marks=needs_node),
    pytest.param([NODE, str(NODE_DRIVER), "--tokens"], id="node-tokens", marks=needs_node),
]


@pytest.mark.parametrize("argv", CORRECT)
def test_example_driver_conforms(argv: list[str], small_profile: None) -> None:
    result = check(exec_url(*argv))
    assert result.verdict == "conforms", render_failure(result)
    assert result.capabilities is not None
    assert result.capabilities.reservation_tokens == ("--tokens" in argv)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bug", "clause"),
    [
        ("lifo", "MQ-ORDER-2"),
        ("never-restores", "MQ-RESTORE-1"),
        ("delete-absent-fails", "MQ-DELETE-3"),
    ],
)
def test_broken_driver_diverges_on_its_clause(bug: str, clause: str, small_profile: None) -> None:
    result = check(exec_url(sys.executable, HERE / "broken.py", bug))
    assert result.verdict == "diverges"
    assert clause in {d.clause.id for d in result.divergences}
    assert {c.clause.id: c.status for c in result.clauses}[clause] == "fail"


def test_driver_that_dies_mid_run_is_a_divergence_not_could_not_run_MQ_LOSS_1(
    small_profile: None,
) -> None:
    """A backend that dies under a valid program has lost its jobs: a divergence with the
    program and the driver's last stderr lines, not "could not run" (exit 2)."""
    result = check(exec_url(sys.executable, HERE / "broken.py", "crashes"))
    assert result.verdict == "diverges", result.error
    loss = next(d for d in result.divergences if d.clause.id == "MQ-LOSS-1")
    assert "the backend died during push (exit status 5)" in loss.finding.message
    assert re.search(
        r"exited with code 5 before answering request seq \d+ \(push\)", loss.finding.observed
    )
    assert "broken: out of memory, crashing" in loss.finding.observed  # its last stderr line
    assert loss.transcript is not None and loss.transcript.steps[-1].op == "push"


# -- the adapter on a correct driver ----------------------------------------------------------


def test_operations_round_trip_through_the_python_driver() -> None:
    with ProcessQueue(python_driver("--tokens", "--timeout", "30")) as q:
        caps = q.capabilities
        assert caps == Capabilities(
            reservation_timeout=30, timeout_settable=True, reservation_tokens=True
        )
        assert q.name == "python-template"
        q.reset(0)
        big = {"id": "A", "priority": 2, "payload": "é" * 200_000, "n": [1, 2.5, None, True]}
        assert q.push(big, 0) == big  # ~1.2 MB request: written in parts, never blocking
        got = q.reserve(1)
        assert got is not None and isinstance(got["_mq_token"], str)
        assert {k: v for k, v in got.items() if k != "_mq_token"} == big
        assert q.reserve(1) is None
        q.tick(5)
        with pytest.raises(BackendError, match="not reserved"):
            q.delete({"id": "A", "priority": 2, "_mq_token": "forged"}, 6)
        q.delete(got, 6)
        q.delete(got, 7)  # not live any more: Delete is idempotent (MQ-DELETE-3)
        assert "python driver ready (timeout 30 s)" in q.stderr_tail
        pid = q.pid
    assert pid is not None
    assert_reaped(pid)
    assert q.pid is None
    q.close()  # idempotent


def test_error_answer_is_the_backends_answer_judged_by_the_contract() -> None:
    with ProcessQueue(python_driver()) as q:
        with pytest.raises(BackendError, match="priority must be 0, 1 or 2") as raised:
            q.push({"id": "A", "priority": 7}, 0)
        assert not isinstance(raised.value, MqspecError)  # so a Session records Failed
        session = Session(q, url="exec:test")
        assert isinstance(session.push({"id": "B", "priority": 9}), Failed)
        assert q.failure is None


def test_restart_kills_and_starts_a_fresh_driver() -> None:
    q = ProcessQueue(python_driver())
    try:
        first = q.pid
        q.push({"id": "A", "priority": 1}, 0)
        q.restart()
        assert first is not None and q.pid not in (None, first)
        assert_reaped(first)
        assert q.reserve(1) is None  # not durable: the job died with the process
        assert q.capabilities.durable is False
    finally:
        q.close()


def test_extension_ops_go_through_request() -> None:
    with ProcessQueue(python_driver()) as q:
        with pytest.raises(BackendError, match=r"^unknown op 'ping'$"):
            q.request("ping", after=1)
        with pytest.raises(UsageError, match=r"^request\(\) is for extension ops; use the"):
            q.request("push", task={})
        assert q.failure is None
    with ProcessQueue(misbehaving("none")) as q:
        assert q.request("ping", after=1) is None  # misbehave.py answers any other op with null


def test_hello_defaults_missing_capabilities_and_ignores_unknown_ones() -> None:
    with ProcessQueue(misbehaving("none")) as q:  # declares timeout 60, virtual_time, colour
        assert q.capabilities == Capabilities()


def test_capabilities_from_json_names_the_bad_key() -> None:
    assert capabilities_from_json({"slack": 2, "future_key": 1}) == Capabilities(slack=2)
    assert set(Capabilities().to_json()) == set(driver_protocol.CAPABILITY_KEYS)
    with pytest.raises(ValueError, match=r"^capability durable must be true or false, got 1$"):
        capabilities_from_json({"durable": 1})
    with pytest.raises(ValueError, match=r"^capability slack must be finite and >= 0, got -1$"):
        capabilities_from_json({"slack": -1})


def test_large_integers_are_read_as_javascript_reads_them() -> None:
    assert driver_protocol.parse_int("9007199254740992") == 2**53
    assert driver_protocol.parse_int("71250464417208070") == 7.125046441720807e16  # JS's 7.1e16


# -- misbehaving drivers: each fault is a DriverError naming it, and no process is left --------

FAULTS = [
    # (fault, the request it happens on, what the message must say)
    ("silent", "hello", r"did not answer request seq 0 \(hello\) within 0\.5 s"),
    ("silent", "push", r"did not answer request seq 2 \(push\) within 0\.5 s"),
    ("partial-line", "reserve", r"did not answer .* unfinished line '\{\"seq\": '"),
    ("exit-at-start", "hello", r"exited with code 3 before answering request seq 0 \(hello\)"),
    ("exit", "push", r"exited with code 3 before answering request seq 2 \(push\)"),
    ("crash-after-answer", "reset", r"exited with code 4 .*before .*request seq 2 \(push\)"),
    ("kill-self", "push", r"was killed by signal 9 before answering request seq 2 \(push\)"),
    ("garbage", "hello", r"stdout line 1 .* is not JSON: 'this is not json at all'"),
    ("garbage", "delete", r"stdout line \d+ \(the answer to request seq \d+, delete\) is not JSON"),
    ("not-utf8", "hello", r"stdout line 1 .* is not UTF-8"),
    ("not-object", "reset", r"stdout line 2 .* is not a JSON object: '\[1, \"ok\"\]'"),
    ("no-seq", "reset", r"stdout line 2 .* has no seq"),
    ("wrong-seq", "reset", r"answered request seq 1 \(reset\) with seq 1001"),
    ("two-lines", "reset", r"sent more than one line for request seq 1"),
    ("two-lines", "hello", r"sent more than one line for request seq 0"),
    ("ok-and-error", "push", r"must have exactly one of \"ok\" and \"error\""),
    ("bad-error", "delete", r"has an error that is not \{\"message\": <text>\}"),
    ("no-task-wrapper", "push", r"answered push with ok .*; expected \{\"task\": \.\.\.\}"),
    ("error", "reset", r"answered reset with an error: 'refused by misbehave'"),
    ("error", "hello", r"refused hello: 'refused by misbehave'"),
    ("protocol-2", "hello", r"speaks protocol 2; mqspec speaks protocol 1"),
    ("caps-timeout", "hello", r"bad capabilities: capability reservation_timeout must be"),
    ("caps-bool", "hello", r"bad capabilities: capability virtual_time must be true or false"),
    ("caps-policy", "hello", r"bad capabilities: capability duplicate_ids must be"),
    ("caps-max-jobs", "hello", r"bad capabilities: capability max_jobs must be null or"),
    ("caps-not-object", "hello", r"bad capabilities: capabilities must be a JSON object"),
]


# -- the reservation timeout asked for in hello ---------------------------------------------

EXAMPLE_DRIVERS = [
    pytest.param(python_driver, "", id="python"),
    pytest.param(python_driver, "--real-clock", id="python-real-clock"),
    pytest.param(node_driver, "", id="node", marks=needs_node),
    pytest.param(node_driver, "--real-clock", id="node-real-clock", marks=needs_node),
]


@pytest.mark.parametrize(("driver", "mode"), EXAMPLE_DRIVERS)
def test_example_drivers_adopt_the_reservation_timeout_hello_asks_for(
    driver: Any, mode: str
) -> None:
    flags = [mode] if mode else []
    q = ProcessQueue(driver(*flags, "--timeout", "30"), reservation_timeout=1.5)
    try:
        assert q.reservation_timeout == 1.5
        assert q.capabilities == Capabilities(
            reservation_timeout=1.5, timeout_settable=True, virtual_time=not mode
        )
        first = q.pid
        q.restart()  # a new process: hello asks again, and the same capabilities come back
        assert q.pid != first and q.capabilities.reservation_timeout == 1.5
        assert any("timeout 1.5 s from hello" in line for line in q.stderr_tail)
    finally:
        q.close()
    assert first is not None
    assert_reaped(first)


@pytest.mark.parametrize(
    "driver",
    [
        pytest.param(python_driver, id="python"),
        pytest.param(node_driver, id="node", marks=needs_node),
    ],
)
def test_the_timeout_from_hello_holds_in_every_test_case(driver: Any) -> None:
    """Virtual time: a reservation made at t=0 with T=2 (not --timeout's 60) expires at t=2,
    after a second reset as after the first."""
    with ProcessQueue(driver("--timeout", "60"), reservation_timeout=2) as q:
        for _ in range(2):
            q.reset(0)
            q.push({"id": "A", "priority": 1}, 0)
            assert q.reserve(0) == {"id": "A", "priority": 1}
            assert q.reserve(1.9) is None  # still reserved
            assert q.reserve(2) == {"id": "A", "priority": 1}  # restored at t=2


def test_without_a_timeout_in_hello_the_driver_declares_its_own() -> None:
    with ProcessQueue(python_driver("--timeout", "30")) as q:
        assert q.reservation_timeout is None
        assert q.capabilities.reservation_timeout == 30
    with from_url(exec_url(*python_driver()), reservation_timeout=4) as q:
        assert q.capabilities.reservation_timeout == 4


def test_a_driver_that_cannot_set_the_timeout_keeps_its_own() -> None:
    # misbehave.py declares T=60 and no timeout_settable, and ignores the key it does not know.
    with ProcessQueue(misbehaving("none"), reservation_timeout=1) as q:
        assert q.capabilities.reservation_timeout == 60
        assert q.capabilities.timeout_settable is False
        assert q.failure is None


def test_a_settable_driver_that_answers_another_timeout_is_a_driver_error(
    tmp_path: Path,
) -> None:
    # The template with its hello key ignored: it still declares timeout_settable.
    script = tmp_path / "ignores_timeout.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(PYTHON_DRIVER.parent)!r})\n"
        "import driver\n"
        "class Ignores(driver.Queue):\n"
        "    def set_timeout(self, timeout):\n"
        "        pass\n"
        "driver.serve(Ignores(60, False), sys.stdin, sys.stdout)\n"
    )
    with pytest.raises(DriverError) as raised:
        ProcessQueue([sys.executable, str(script)], reservation_timeout=1)
    assert not isinstance(raised.value, DriverDied)  # it never served
    assert re.search(
        r"declared timeout_settable but reservation_timeout 60 after hello asked for 1\n",
        str(raised.value),
    ), str(raised.value)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "1"])
def test_a_bad_reservation_timeout_is_a_usage_error(bad: Any) -> None:
    with pytest.raises(
        UsageError, match=r"^reservation_timeout=.*: must be (a number of seconds|finite and > 0)$"
    ):
        ProcessQueue(python_driver(), reservation_timeout=bad)


def test_a_driver_may_refuse_an_unusable_timeout_in_hello() -> None:
    """What the example drivers answer to a hello whose T they cannot use (the harness never
    sends one: `ProcessQueue` checks T first)."""
    hello = json.dumps({"seq": 0, "op": "hello", "protocol": 1, "reservation_timeout": -1})
    proc = subprocess.run(
        python_driver(), input=hello + "\n", capture_output=True, text=True, timeout=10, check=True
    )
    assert json.loads(proc.stdout) == {
        "seq": 0,
        "error": {"message": "reservation_timeout must be a number > 0, got -1"},
    }


# -- a driver that dies after hello: DriverDied ------------------------------------------------

DEATHS = [
    # (fault, the request it happens on, the op it died on, its exit status)
    ("exit", "push", "push", 3),
    ("kill-self", "push", "push", -9),
    ("crash-after-answer", "reset", "push", 4),
    ("silent", "push", "push", None),
    ("partial-line", "reserve", "reserve", None),
]


@pytest.mark.parametrize(
    ("fault", "on", "op", "status"), [pytest.param(*d, id=f"{d[0]}-on-{d[1]}") for d in DEATHS]
)
def test_a_driver_that_dies_after_hello_raises_driver_died(
    fault: str, on: str, op: str, status: int | None
) -> None:
    q = ProcessQueue(misbehaving(fault, on), deadline=0.5)
    pid = q.pid
    assert pid is not None
    with pytest.raises(DriverDied) as raised:
        drive(q)
    died = raised.value
    assert isinstance(died, DriverError)  # what callers that do not care still catch
    assert (died.op, died.exit_status) == (op, status)
    assert isinstance(died.stderr_tail, list)
    assert died.stderr_tail[0] == f"misbehave: pid {pid} fault {fault} on {on}"
    assert died.stderr_tail == list(q.stderr_tail)
    assert str(died) == q.failure  # the message is the one a plain DriverError carried
    assert_reaped(pid)
    # Sticky, and still a death with the same particulars.
    with pytest.raises(DriverDied, match="the driver failed earlier") as again:
        q.reserve(10)
    assert (again.value.op, again.value.exit_status) == (op, status)
    assert again.value.stderr_tail == died.stderr_tail
    q.close()


def test_the_python_driver_killed_mid_run_raises_driver_died() -> None:
    with ProcessQueue(python_driver()) as q:
        q.reset(0)
        q.push({"id": "A", "priority": 1}, 0)
        assert q.pid is not None
        os.kill(q.pid, 9)
        # Noticed while sending the request or while waiting for its answer: either wording.
        with pytest.raises(DriverDied, match=r"was killed by signal 9 .*\(reserve\)") as raised:
            q.reserve(1)
        assert raised.value.op == "reserve" and raised.value.exit_status == -9
        assert "python driver ready (timeout 60 s)" in raised.value.stderr_tail


@pytest.mark.parametrize(
    ("fault", "on", "deadline"),
    [
        ("exit-at-start", "hello", 10),  # exits before hello
        ("exit", "hello", 10),  # exits at hello
        ("kill-self", "hello", 10),
        ("silent", "hello", 0.5),  # never answers hello
        ("garbage", "push", 10),  # after hello, but a protocol break, not a death
        ("wrong-seq", "reset", 10),
        ("no-task-wrapper", "push", 10),
    ],
)
def test_a_fault_at_hello_or_a_protocol_break_is_a_plain_driver_error(
    fault: str, on: str, deadline: float
) -> None:
    q = None
    with pytest.raises(DriverError) as raised:
        q = ProcessQueue(misbehaving(fault, on), deadline=deadline)
        drive(q)
    assert type(raised.value) is DriverError, raised.value
    assert_reaped(pid_in(str(raised.value)))
    if q is not None:
        with pytest.raises(DriverError) as again:
            q.reserve(10)
        assert type(again.value) is DriverError


def test_a_restart_clears_a_death() -> None:
    q = ProcessQueue(misbehaving("exit", "push"))
    try:
        with pytest.raises(DriverDied):
            drive(q)
        q.restart()  # misbehave.py will die at its next push again, but serves until then
        q.reset(0)
        assert q.failure is None
    finally:
        q.close()


def drive(q: ProcessQueue) -> None:
    """Every operation once, in the order the faults' request numbers assume (seq 1..5)."""
    q.reset(0)  # seq 1
    q.push({"id": "A", "priority": 1}, 0)  # seq 2
    q.reserve(0)  # seq 3
    q.delete({"id": "A", "priority": 1}, 0)  # seq 4
    q.tick(1)  # seq 5


@pytest.mark.parametrize(
    ("fault", "on", "pattern"), [pytest.param(*f, id=f"{f[0]}-on-{f[1]}") for f in FAULTS]
)
def test_protocol_fault_is_a_driver_error_naming_it(fault: str, on: str, pattern: str) -> None:
    started = time.monotonic()
    q = None
    with pytest.raises(DriverError) as raised:
        q = ProcessQueue(
            misbehaving(fault, on), deadline=0.5 if "did not answer" in pattern else 10
        )
        drive(q)
    message = str(raised.value)
    assert re.search(pattern, message), message
    assert message.startswith(f"exec driver {shlex.join(misbehaving(fault, on))!r} ")
    assert f"misbehave: pid {pid_in(message)} fault {fault} on {on}" in message  # stderr shown
    assert_reaped(pid_in(message))
    assert time.monotonic() - started < 5
    if q is not None:  # the fault is sticky: the driver is gone and says why
        assert q.failure == message and q.pid is None
        with pytest.raises(DriverError, match="the driver failed earlier"):
            q.reserve(10)
        q.close()


def test_command_not_found() -> None:
    with pytest.raises(DriverError, match=r"cannot start: '/nonexistent/driver' not found$"):
        from_url("exec:/nonexistent/driver --flag")


def test_command_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "driver.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(DriverError, match=r"is not executable \(permission denied\)$"):
        ProcessQueue([str(script)])


def test_close_kills_a_driver_that_ignores_end_of_input_and_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver_process, "_GRACE", 0.2)
    q = ProcessQueue(misbehaving("ignore-eof"))
    pid = q.pid
    assert pid is not None
    started = time.monotonic()
    q.close()
    assert 0.3 < time.monotonic() - started < 3  # waited, then SIGTERM (ignored), then SIGKILL
    assert_reaped(pid)
    with pytest.raises(DriverError, match="is closed"):
        q.reserve(0)


def test_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQSPEC_DRIVER_DEADLINE", "0.3")
    started = time.monotonic()
    with pytest.raises(DriverError, match=r"did not answer request seq 0 \(hello\) within 0\.3 s"):
        ProcessQueue(misbehaving("silent"))
    assert time.monotonic() - started < 2
    monkeypatch.setenv("MQSPEC_DRIVER_DEADLINE", "soon")
    with pytest.raises(UsageError, match=r"^MQSPEC_DRIVER_DEADLINE='soon': expected seconds$"):
        ProcessQueue(python_driver())
    with pytest.raises(UsageError, match=r"^deadline=0: must be finite and > 0$"):
        ProcessQueue(python_driver(), deadline=0)


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("exec:", r"^exec: URL names no command"),
        ("exec:   ", r"^exec: URL names no command"),
        ("exec:python3 'unclosed", r"^exec: command line cannot be split"),
        ("memory://", r"^not an exec: URL"),
    ],
)
def test_bad_exec_urls(url: str, pattern: str) -> None:
    with pytest.raises(UsageError, match=pattern):
        from_url(url)


def test_example_sessions_in_the_protocol_document_are_what_the_python_driver_answers() -> None:
    """spec/driver-protocol.md shows sessions (```jsonl session blocks); replay each one's
    requests to a fresh driver, expect its answers."""
    text = (ROOT / "spec" / "driver-protocol.md").read_text()
    blocks = [part.split("```", 1)[0] for part in text.split("```jsonl session")[1:]]
    assert len(blocks) == 2  # the full session, and hello asking for a reservation timeout
    for block in blocks:
        requests, answers = [], []
        for line in block.strip().splitlines():
            arrow, _, payload = line.partition(" ")
            (requests if arrow == ">" else answers).append(json.loads(payload))
        proc = subprocess.run(
            python_driver(),
            input="".join(json.dumps(r) + "\n" for r in requests),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        got = [json.loads(line) for line in proc.stdout.splitlines()]
        assert got == answers


def test_each_driver_an_exec_url_starts_has_a_namespace_of_its_own_kept_across_restarts():
    """$MQSPEC_NAMESPACE: what a durable driver may key its store by, so that the real
    clock's parallel workers (one driver process each) need not share jobs."""
    import shlex

    from mqspec.adapters.process import NAMESPACE_VARIABLE, from_url

    assert NAMESPACE_VARIABLE == "MQSPEC_NAMESPACE"
    url = "exec:" + shlex.join(misbehaving("echo-namespace"))
    first, second = from_url(url), from_url(url)
    try:
        assert first.name.startswith("mqspec-") and second.name.startswith("mqspec-")
        assert first.name != second.name
        before = first.name
        first.restart()
        assert first.name == before
    finally:
        first.close()
        second.close()


_STUBBORN = """
import json, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
hello = json.loads(sys.stdin.readline())
caps = {"reservation_timeout": 60}
print(json.dumps({"seq": hello["seq"], "ok": {"protocol": 1, "name": "stubborn",
                  "capabilities": caps}}), flush=True)
time.sleep(60)
"""


def test_a_driver_in_its_parents_process_group_is_still_ended_at_close() -> None:
    """A driver started without a group of its own (the crash host's ``exec:`` driver) that
    ignores end of input and SIGTERM is killed by its pid: there is no group of its id to
    signal, and the close must not wait for it forever."""
    queue = ProcessQueue([sys.executable, "-c", _STUBBORN], own_group=False)
    pid = queue.pid
    assert pid is not None
    started = time.monotonic()
    queue.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not only signalled
