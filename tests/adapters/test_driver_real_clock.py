"""The example drivers with ``--real-clock``: they read their own monotonic clock, not the
harness's ``now``, as a production backend does.

These tests sleep on the real clock, so they are few and short: about 2.2 s per driver, with a
reservation timeout of 1 s asked for in hello (the whole `mqspec check` runs at the end take
much longer, and are marked slow). Between two steps the test checks how much
real time went by, so a loaded machine cannot make a step mean something else (a Reserve
that came too late to be "at once" fails as such instead of passing by luck).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mqspec.adapters.process import ProcessQueue

from .test_process import assert_reaped, needs_node, node_driver, python_driver

DRIVERS = [
    pytest.param(python_driver, id="python"),
    pytest.param(node_driver, id="node", marks=needs_node),
]

JOB = {"id": "A", "priority": 1, "delay": 1}
SLEEP = 1.1  # a little past the 1 s delay and timeout: the lease design has slack 0


@pytest.mark.parametrize("driver", DRIVERS)
def test_delay_and_restore_follow_the_drivers_own_clock(driver: Any) -> None:
    with ProcessQueue(driver("--real-clock"), reservation_timeout=1) as q:
        caps = q.capabilities
        assert (caps.virtual_time, caps.timeout_settable, caps.reservation_timeout) == (
            False,
            True,
            1,
        )
        q.reset(None)
        pushed = time.monotonic()
        assert q.push(JOB, None) == JOB
        assert q.reserve(None) is None  # delayed by 1 s: not ready at once
        assert time.monotonic() - pushed < 0.9, "too slow to check 'at once'"

        time.sleep(SLEEP)
        reserved = time.monotonic()
        assert q.reserve(None) == JOB  # ready after its delay
        assert q.reserve(None) is None  # held for T = 1 s: nothing else to give
        assert time.monotonic() - reserved < 0.9, "too slow to check the reservation holds"

        time.sleep(SLEEP)
        assert q.reserve(None) == JOB  # the reservation expired and A was restored
        pid = q.pid
    assert pid is not None
    assert_reaped(pid)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_real_clock_driver_ignores_the_requests_now(driver: Any) -> None:
    """Even when a request carries ``now`` (the harness sends none to such a driver), the
    driver's own clock decides: a job delayed by 1 s is not ready at a ``now`` of 1000."""
    requests = [
        {"seq": 0, "op": "hello", "protocol": 1},
        {"seq": 1, "op": "reset", "now": 0},
        {"seq": 2, "op": "push", "now": 0, "task": JOB},
        {"seq": 3, "op": "reserve", "now": 1000},
    ]
    proc = subprocess.run(
        driver("--real-clock", "--timeout", "2"),
        input="".join(json.dumps(r) + "\n" for r in requests),
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    caps = answers[0]["ok"]["capabilities"]
    assert (caps["virtual_time"], caps["timeout_settable"], caps["reservation_timeout"]) == (
        False,
        True,
        2,  # --timeout, since hello asked for none
    )
    assert answers[3] == {"seq": 3, "ok": {"task": None}}
    assert "real clock" in proc.stderr


# -- the whole check on the real clock, as a user runs it ------------------------------------
# Each sleeps through the real-clock scenarios and a 15 s search: marked slow and soak (`make
# test-soak` runs them, and CI; `make test` and `make test-fast` do not).

MQSPEC = Path(sys.executable).with_name("mqspec")
BROKEN = Path(__file__).resolve().parent / "drivers_for_tests" / "broken.py"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MQSPEC), "check", "--no-report", "--budget", "15", "--workers", "4", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.soak
@pytest.mark.parametrize("driver", DRIVERS)
def test_check_runs_the_real_clock_state_machine_on_a_real_clock_driver(driver: Any) -> None:
    """No --timeout: the harness asks for T = 1 s in hello, and the driver adopts it."""
    run = _check("exec:" + shlex.join(driver("--real-clock")))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert re.search(r'"reservation_timeout": 1(\.0)?,', out) and '"virtual_time": false' in out
    assert re.search(r"state machine on the real clock, 4 workers, \d+ examples", out), out
    assert "verdict: conforms" in out


@pytest.mark.slow
@pytest.mark.soak
def test_check_fails_a_broken_real_clock_driver_on_its_clause_MQ_RESTORE_1() -> None:
    run = _check(f"exec:{sys.executable} {BROKEN} never-restores --real-clock")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert re.search(r"MQ-RESTORE-1\s+MUST\s+FAIL", out), out
    assert "minimal program (real time t" in out
