"""The Go driver kit (adapters/drivers/go): its own `go test`, and the example queue built on it,
checked by mqspec on the real clock, on the kit's virtual clock, as a broken twin, and talked to
over pipes (a panic inside Reserve, the reservation timeout asked for in hello).

Needs the Go toolchain (Debian's golang-go; `.ci/run` installs it). Without `go` on PATH these
tests skip, saying why, except in CI (CI set), where they fail: a kit that is never built is
not tested. Everything runs offline: the kit is standard library only, and GOPROXY=off makes
any attempt to download a module an error instead of a network call.

The three `mqspec check` runs are the slow part, one test each so that xdist spreads them: the
real-clock run sleeps through every delay and timeout (about 70 s, little CPU; marked slow and
soak, so only `make test-soak` and CI run it); the two runs on the virtual clock take seconds.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "adapters" / "drivers" / "go"
GO = shutil.which("go")
MQSPEC = Path(sys.executable).with_name("mqspec")  # the CLI of the venv running the tests
ANSWER_WAIT = 10.0  # seconds a driver has to answer one request over the pipes


def _require_go() -> str:
    if GO is None:
        why = "go is not on PATH (apt-get install golang-go)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; in CI the Go kit must be tested: .ci/run installs golang-go")
        pytest.skip(why)
    return GO


def _go_env(scratch: Path) -> dict[str, str]:
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    if not (env.get("GOCACHE") or env.get("XDG_CACHE_HOME") or env.get("HOME")):
        env["GOCACHE"] = str(scratch / "gocache")  # go refuses to build without a cache dir
    return env


def _go(*args: str, scratch: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_require_go(), *args],
        cwd=KIT,
        env=_go_env(scratch),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example driver, built into a temporary directory."""
    scratch = tmp_path_factory.mktemp("go-kit")
    binary = scratch / "go-example"
    built = _go("build", "-o", str(binary), "./example", scratch=scratch)
    assert built.returncode == 0, f"go build failed:\n{built.stdout}{built.stderr}"
    return binary


def _check(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MQSPEC), "check", "--no-report", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _output(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"


def test_go_vet_gofmt_and_go_test_pass(tmp_path: Path) -> None:
    vet = _go("vet", "./...", scratch=tmp_path)
    assert vet.returncode == 0, f"go vet:\n{vet.stdout}{vet.stderr}"
    gofmt_bin = shutil.which("gofmt") or str(
        Path(os.path.realpath(_require_go())).with_name("gofmt")
    )
    gofmt = subprocess.run(
        [gofmt_bin, "-l", "."],
        cwd=KIT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert gofmt.returncode == 0 and gofmt.stdout == "", f"not gofmt'd:\n{gofmt.stdout}"
    tested = _go("test", "-count=1", "./...", scratch=tmp_path)
    assert tested.returncode == 0, f"go test:\n{tested.stdout}{tested.stderr}"


# -- mqspec check against the example --------------------------------------------------------


@pytest.mark.slow  # sleeps through every delay and timeout
@pytest.mark.soak
def test_example_conforms_on_the_real_clock(example: Path) -> None:
    # virtual_time false: the scenarios and the state machine on the real clock (slow).
    # No --timeout: the harness asks for T = 1 s in hello, and the kit adopts it.
    run = _check("--budget", "15", f"exec:{example}")
    assert run.returncode == 0, _output(run)
    assert "verdict: conforms" in run.stdout, _output(run)
    assert '"virtual_time": false' in run.stdout, _output(run)


def test_example_conforms_on_the_kits_virtual_clock(example: Path) -> None:
    # The same queue, its clock set from each request's "now": scenarios and state machine.
    run = _check(f"exec:{example} --virtual --tokens")
    assert run.returncode == 0, _output(run)
    assert '"virtual_time": true' in run.stdout, _output(run)
    assert re.search(r"MQ-TOKEN-1\s+MUST\s+pass", run.stdout), _output(run)


def test_broken_twin_fails_on_its_clause(example: Path) -> None:
    # fn's lost-on-timeout bug: an expired reservation is dropped (a MUST: exit 1 unstrict).
    # Short examples: the scenarios name both clauses, and a short failing program leaves the
    # search less to shrink (the program's size is not what this test judges).
    run = _check(f"exec:{example} --virtual --broken lose-on-timeout", "--steps", "8")
    assert run.returncode == 1, _output(run)
    assert re.search(r"MQ-RESTORE-1\s+MUST\s+FAIL", run.stdout), _output(run)
    assert re.search(r"MQ-LOSS-1\s+MUST\s+FAIL", run.stdout), _output(run)


# -- the example over pipes -------------------------------------------------------------------


class Pipes:
    """The driver as a child process, one request line in, one answer line out."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.seq = 0

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        line = json.dumps({"seq": self.seq, "op": op, **fields}) + "\n"
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        while b"\n" not in self.buffer:
            if not self.selector.select(ANSWER_WAIT):
                raise AssertionError(f"no answer to {line!r} within {ANSWER_WAIT} s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the driver closed stdout instead of answering {line!r}")
            self.buffer += chunk
        answer, self.buffer = self.buffer.split(b"\n", 1)
        decoded = json.loads(answer)  # stdout carries only answers: every line is JSON
        assert decoded["seq"] == self.seq, decoded
        self.seq += 1
        return decoded

    def close(self) -> tuple[int, str]:
        """End of input: the driver must exit by itself; its exit code and stderr."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(ANSWER_WAIT)
        finally:
            self.proc.kill()
            self.proc.wait()
        extra = self.proc.stdout.read() if self.proc.stdout else b""
        assert self.buffer + extra == b"", f"stdout after the answers: {self.buffer + extra!r}"
        return code, self.proc.stderr.read().decode()


def test_a_panic_inside_reserve_is_an_error_answer_not_a_dead_driver(example: Path) -> None:
    driver = Pipes(str(example), "--virtual", "--panic-on-reserve")
    try:
        assert "ok" in driver.request("hello", protocol=1)
        assert driver.request("reset", now=0) == {"seq": 1, "ok": None}
        answer = driver.request("reserve", now=1)
        assert answer["error"]["message"].startswith("panic: "), answer
        pushed = driver.request("push", now=2, task={"id": "A", "priority": 1})
        assert pushed["ok"] == {"task": {"id": "A", "priority": 1}}, pushed
        assert "error" in driver.request("reserve", now=3)  # still serving, still panicking
    finally:
        code, stderr = driver.close()
    assert code == 0, stderr
    assert "panic in reserve" in stderr and "goroutine" in stderr, stderr  # the stack


def test_hello_sets_the_reservation_timeout_and_timeout_is_the_fallback(example: Path) -> None:
    driver = Pipes(str(example), "--timeout", "3")
    try:
        caps = driver.request("hello", protocol=1)["ok"]["capabilities"]
        assert caps["reservation_timeout"] == 3 and caps["timeout_settable"] is True, caps
        assert caps["virtual_time"] is False, caps  # the real clock is the default
    finally:
        driver.close()
    driver = Pipes(str(example), "--timeout", "3", "--virtual")
    try:
        hello = driver.request("hello", protocol=1, reservation_timeout=2)
        assert hello["ok"]["capabilities"]["reservation_timeout"] == 2, hello
        driver.request("reset", now=0)
        driver.request("push", now=0, task={"id": "A", "priority": 1})
        assert driver.request("reserve", now=0)["ok"]["task"]["id"] == "A"
        assert driver.request("reserve", now=1.9)["ok"] == {"task": None}  # held for T=2
        assert driver.request("reserve", now=2)["ok"]["task"]["id"] == "A"  # restored at 2
        refused = driver.request("hello", protocol=1, reservation_timeout=-1)
        assert "reservation_timeout" in refused["error"]["message"], refused
    finally:
        driver.close()
