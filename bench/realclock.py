"""Real-clock benchmark: what the parallel real-clock search buys on a driver that reads its
own clock.

Two measures, both printed in one run:

1. The state machine on the real clock (`mqspec.conformance.core.realclock.run_realtime_search`)
   against the Python example driver with ``--real-clock`` (T = 1 s asked for in hello), for
   the same budget with one worker and with ``--workers`` workers: the operations each sent,
   and their ratio (target: at least 10 times a single sequential search's).
2. A whole default ``mqspec check`` of that driver: its wall time (target: at most 3 minutes).

    .venv/bin/python bench/realclock.py          # the defaults: 120 s per search, 16 workers
    .venv/bin/python bench/realclock.py --budget 20 --workers 8 --no-check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core.engine import run_search
from mqspec.conformance.core.realclock import DEFAULT_BUDGET, DEFAULT_WORKERS

ROOT = Path(__file__).resolve().parents[1]
DRIVER = [
    sys.executable,
    str(ROOT / "adapters" / "drivers" / "python" / "driver.py"),
    "--real-clock",
]


def _search(budget: float, workers: int) -> tuple[int, int, float, float]:
    """(operations sent, cases, seconds, CPU seconds) of one real-clock search, each worker
    on a driver process of its own. The CPU seconds are this process's and its drivers'."""
    url = "exec:" + " ".join(DRIVER)
    before = os.times()

    def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
        queue, _, close = open_isolated_url(url, reservation_timeout=1)
        return queue, close

    main, close = open_queue()
    try:
        (done,) = list(
            run_search(
                main, "quick", url=url, open_queue=open_queue, budget=budget, workers=workers
            )
        )
    finally:
        close()
    assert not done.divergences, [d.finding.render() for d in done.divergences]
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])  # user, system, children's user and system
    return done.steps, done.examples, done.elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=float, default=DEFAULT_BUDGET, help="seconds per search (the default's)"
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="workers (the default's)"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the whole mqspec check")
    args = parser.parse_args()

    one = _search(args.budget, 1)
    many = _search(args.budget, args.workers)
    ratio = many[0] / max(one[0], 1)
    print(f"budget {args.budget:g} s per search, T = 1 s, Python driver --real-clock")
    print(
        f"  1 worker:   {one[0]:6d} operations, {one[1]:4d} cases in {one[2]:.1f} s "
        f"({one[3]:.1f} s CPU)"
    )
    print(
        f"  {args.workers:2d} workers: {many[0]:6d} operations, {many[1]:4d} cases "
        f"in {many[2]:.1f} s ({many[3]:.1f} s CPU)"
    )
    verdict = "PASS" if ratio >= 10 else "MISS"
    print(f"  ratio {ratio:.1f}x (target >= 10x): {verdict}")

    if not args.no_check:
        mqspec = Path(sys.executable).with_name("mqspec")
        started = time.monotonic()
        run = subprocess.run(
            [str(mqspec), "check", "--no-report", "exec:" + " ".join(DRIVER)],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - started
        verdict = "PASS" if took <= 180 and run.returncode == 0 else "MISS"
        last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
        print(f"mqspec check (defaults): exit {run.returncode}, {took:.0f} s, {last}: {verdict}")


if __name__ == "__main__":
    main()
