"""Correct ``exec:`` drivers pass the concurrency check run after run (MQ-ORDER-1, MQ-READY-1).

A driver answers one request at a time, so every history it produces is linearizable; an
intermittent failure here is a false alarm of the harness, the worst thing a CI gate can do.
Twenty seeds in a row for each example driver.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mqspec.adapters.process import ProcessQueue
from mqspec.conformance.concurrency.check import run_concurrency

DRIVERS = Path(__file__).resolve().parents[2] / "adapters" / "drivers"
COMMANDS = {
    "python": [sys.executable, str(DRIVERS / "python" / "driver.py")],
    "node": ["node", str(DRIVERS / "node" / "driver.js")],
}
RUNS = 20


@pytest.mark.slow  # twenty whole concurrency checks per driver
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_correct_driver_passes_twenty_concurrency_runs_in_a_row(name: str) -> None:
    argv = COMMANDS[name]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    queue = ProcessQueue(argv)
    try:
        for seed in range(RUNS):
            outcome = run_concurrency(queue, seed=seed)
            assert outcome.ok, (seed, [v.render() for v in outcome.violations])
            assert outcome.histories > 0
    finally:
        queue.close()
