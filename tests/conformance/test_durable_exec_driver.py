"""A durable ``exec:`` driver written elsewhere, through the crash phases (MQ-DURABLE-1).

`durable_outsider_driver.py` was written from the spec and README alone: on its own clock, a
JSON file per ``MQSPEC_NAMESPACE``, written before each answer. The protocol promises a driver
that name, kept across its restarts. The crash phases host an ``exec:`` driver in a process
they kill and start again; each start used to hand the driver a new name, so it opened an empty
store, and the restart program named MQ-DURABLE-1 on a correct queue.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mqspec.conformance.faults.crash import CrashingQueue
from mqspec.conformance.frontends.cli import main

DRIVER = Path(__file__).resolve().parent / "durable_outsider_driver.py"


def _url(store: Path) -> str:
    return f"exec:{sys.executable} {DRIVER} --dir {store}"


def _starts(store: Path) -> list[dict[str, str]]:
    """The driver's own start log: one line per process, ``key=value`` fields."""
    lines = (store / "starts.log").read_text().splitlines()
    return [dict(f.split("=", 1) for f in line.split()[1:] if "=" in f) for line in lines]


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` ended (or is a zombie no one reaped yet) within ``within`` s."""
    limit = time.monotonic() + within
    while time.monotonic() < limit:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def test_a_hosted_exec_driver_keeps_its_namespace_across_restarts_MQ_DURABLE_1(
    tmp_path: Path,
) -> None:
    queue = CrashingQueue(_url(tmp_path))
    try:
        queue.push({"id": "a", "priority": 1}, None)
        queue.restart()
        assert queue.reserve(None) == {"id": "a", "priority": 1}
    finally:
        queue.close()
    first, second = _starts(tmp_path)[:2]
    assert first["MQSPEC_NAMESPACE"] == second["MQSPEC_NAMESPACE"] != "None"
    assert second["jobs"] == "1"  # the restarted driver found the job its store kept


def test_a_kill_of_the_host_kills_the_exec_driver_it_serves(tmp_path: Path) -> None:
    """The crash is the driver's, not only the host's: the driver runs in the host's process
    group, which the restart kills with SIGKILL. (In a group of its own it only saw its input
    end; this driver exits then too, so the group is what tells the two apart.)"""
    queue = CrashingQueue(_url(tmp_path))
    try:
        queue.push({"id": "a", "priority": 1}, None)
        first = int(_starts(tmp_path)[0]["pid"])
        assert os.getpgid(first) == queue.pid  # the host leads the group the restart kills
        queue.restart()
        assert _gone(first)
    finally:
        queue.close()


@pytest.mark.soak  # about a minute: the scenarios and a crash search, on the real clock
def test_a_durable_driver_written_elsewhere_passes_the_crash_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    store.mkdir()
    out = CliRunner().invoke(
        main, ["check", _url(store), "--profile", "crash", "--budget", "20", "--no-report"]
    )
    assert out.exit_code == 0, out.output
    assert "MQ-DURABLE-1  MUST    pass" in out.output
    assert os.listdir(tmp_path) == ["store"]  # nothing left behind but the driver's own store
