"""Driver overhead: steps/s of one Session-driven workload in-process and through ``exec:``.

Run: ``.venv/bin/python bench/driver_overhead.py [--steps N] [--seed S] [--no-node]``

The workload is a seeded random program of Session calls, the same for every queue: push (with
opaque fields, some delayed), reserve, delete of a reserved task, advance of virtual time (short
steps and jumps past the reservation timeout, so delays end and reservations expire). Every call
is judged by the reference model, as in a real run; every 200 steps the case ends with a
checked drain and a fresh Session (a reset). A step is one Session call.

It runs against:

* ``memory``: `MemoryQueue`, in-process (the same lease design as the drivers);
* ``exec python``: adapters/drivers/python/driver.py through `ProcessQueue`;
* ``exec node``: adapters/drivers/node/driver.js, when ``node`` is on PATH.

The program depends on answers only through "is a reserved task at hand", and all three queues
are correct and deterministic, so they run the same program (the step counts are checked).
A second table isolates the pipe: bare ``tick`` round trips on the adapter, no Session, no model.
Figures are from one run on a possibly noisy machine.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.process import ProcessQueue
from mqspec.conformance.core.session import Session
from mqspec.reference.types import Ok

ROOT = Path(__file__).resolve().parents[1]
CASE = 200  # steps per case, then a drain and a reset


def workload(adapter: QueueAdapter, steps: int, seed: int) -> tuple[int, float]:
    """Run the seeded program for ``steps`` steps; return (steps taken, wall seconds)."""
    rng = random.Random(seed)
    taken = 0
    counter = 0
    started = time.perf_counter()
    while taken < steps:
        session = Session(adapter, url="bench")
        reserved: list[dict[str, Any]] = []
        for _ in range(min(CASE, steps - taken)):
            roll = rng.random()
            if roll < 0.35:
                counter += 1
                task: dict[str, Any] = {"id": f"job-{counter}", "priority": rng.randrange(3)}
                if rng.random() < 0.2:
                    task["delay"] = rng.randrange(1, 30)
                if rng.random() < 0.5:
                    task["payload"] = "x" * rng.randrange(200)
                    task["env_vars"] = {"FN_FORMAT": "default"}
                session.push(task)
            elif roll < 0.65:
                outcome = session.reserve()
                if isinstance(outcome, Ok) and outcome.value is not None:
                    reserved.append(outcome.value)
            elif roll < 0.85 and reserved:
                session.delete(reserved.pop(rng.randrange(len(reserved))))
            elif rng.random() < 0.9:
                session.advance(rng.choice([0.5, 1, 2.5, 7]))
            else:
                session.advance(session.capabilities.reservation_timeout + 1)
            taken += 1
        taken += len(session.drain()) + 1  # the drain's reserves are steps too
    return taken, time.perf_counter() - started


def round_trips(adapter: QueueAdapter, count: int) -> float:
    """Wall seconds for ``count`` bare tick calls (for a driver: one request line each)."""
    adapter.reset(0)
    started = time.perf_counter()
    for i in range(count):
        adapter.tick(float(i))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="Session steps per queue")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trips", type=int, default=20_000, help="bare round trips per queue")
    parser.add_argument("--no-node", action="store_true", help="skip the node driver")
    args = parser.parse_args(argv)

    queues: dict[str, Any] = {
        "memory": MemoryQueue,
        "exec python": lambda: ProcessQueue(
            [sys.executable, str(ROOT / "adapters/drivers/python/driver.py")]
        ),
    }
    node = shutil.which("node")
    if node and not args.no_node:
        queues["exec node"] = lambda: ProcessQueue(
            [node, str(ROOT / "adapters/drivers/node/driver.js")]
        )
    print(
        f"driver overhead (Python {platform.python_version()}, {platform.machine()}, "
        f"{args.steps} Session steps, seed {args.seed}, {args.trips} bare round trips)"
    )

    results = {}
    for name, factory in queues.items():
        adapter = factory()
        try:
            workload(adapter, min(2_000, args.steps), args.seed + 1)  # warm up
            steps, wall = workload(adapter, args.steps, args.seed)
            trips = round_trips(adapter, args.trips)
        finally:
            adapter.close()
        results[name] = (steps, wall, trips)

    base_steps, base_wall, _ = results["memory"]
    print(f"\n{'queue':>12} {'steps':>7} {'seconds':>8} {'steps/s':>9} {'us/step':>8} {'share':>6}")
    for name, (steps, wall, _) in results.items():
        share = (steps / wall) / (base_steps / base_wall)
        print(
            f"{name:>12} {steps:>7} {wall:>8.2f} {steps / wall:>9,.0f} "
            f"{wall / steps * 1e6:>8.1f} {share:>6.0%}"
        )
        if steps != base_steps:
            print(f"note: {name} took {steps} steps, memory {base_steps}: different programs")
    print(f"\n{'queue':>12} {'round trips/s':>14} {'us/trip':>8}")
    for name, (_, _, trips) in results.items():
        print(f"{name:>12} {args.trips / trips:>14,.0f} {trips / args.trips * 1e6:>8.1f}")
    print()
    for name, (steps, wall, _) in results.items():
        if name != "memory":
            extra = (wall / steps - base_wall / base_steps) * 1e6
            print(
                f"{name}: {wall / base_wall * base_steps / steps:.1f}x the in-process time "
                f"per step ({extra:+.0f} us per step)"
            )
    print("\nfigures are from one run on a noisy machine (wall time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
