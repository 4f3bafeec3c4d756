"""History checkers: the fast checker at 10^4..10^6 operations, the exact one at 100..1000.

Run: ``.venv/bin/python bench/checker.py [--fast 10000,100000,1000000] [--exact 100,200,500,1000]
[--runs 5] [--width 3] [--seed 1]``

Histories are synthetic and valid by construction: a tiny correct queue (`SimQueue`, written
here, independent of the model) executes the operations one after another at linearization
points 1 ms apart; each operation's window is drawn around its point (up to ``width`` ms either
side), and each is given to a client that is idle by then, so one client's operations never
overlap while operations of different clients do. Mix: 35% push (priorities 0-2), 45% reserve,
20% delete of a task the client reserved (one reservation in five is never deleted); T is a
day, so nothing is restored before the final drain, which comes a day and a second later and
reserves until null. The operation counts printed include the drain (about 15% more).

Only the checkers are timed (``time.perf_counter``; process CPU time in its own column), never
the generation; ``gc.collect()`` runs just before each timed call. Every fast-checker run must
report no anomaly and every exact run must answer Linearizable, or the script says so and
exits 1: the benchmark doubles as a no-false-alarm run.

Targets (PASS/MISS, one run each, on a possibly noisy machine):
* fast checker: 10^6 operations (16 clients) in under 5 s;
* exact checker: 8-client histories of 200 operations decided in under 1 s, median of the runs.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections import deque
from typing import Any

from mqspec.conformance.concurrency.fastcheck import find_anomalies
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.linearize import Linearizable, check
from mqspec.reference import Capabilities, Ok

DAY = 86_400.0
STEP = 0.001  # seconds between linearization points
FAST_TARGET_OPS, FAST_TARGET_SECONDS = 1_000_000, 5.0
EXACT_TARGET_OPS, EXACT_TARGET_SECONDS = 200, 1.0


class SimQueue:
    """A correct queue without delays or restores during the run: FIFO per priority."""

    def __init__(self) -> None:
        self.ready: tuple[deque[int], ...] = (deque(), deque(), deque())
        self.tasks: dict[int, dict[str, Any]] = {}
        self.reserved: set[int] = set()

    def push(self, seq: int, task: dict[str, Any]) -> None:
        self.tasks[seq] = task
        self.ready[task["priority"]].append(seq)

    def reserve(self) -> int | None:
        for p in (2, 1, 0):
            if self.ready[p]:
                seq = self.ready[p].popleft()
                self.reserved.add(seq)
                return seq
        return None

    def delete(self, seq: int) -> None:
        self.reserved.discard(seq)
        del self.tasks[seq]

    def drain_order(self) -> list[int]:
        """After every reservation expired: each live job at its original place."""
        return sorted(self.tasks, key=lambda s: (-self.tasks[s]["priority"], s))


def synthetic(n: int, clients: int, width: float, seed: int) -> History:
    """A valid history of about ``n`` operations (plus the drain), see the module docstring."""
    rng = random.Random(seed)
    queue = SimQueue()
    free_at = [-1.0] * clients  # when each client's last call completed
    held: list[list[int]] = [[] for _ in range(clients)]
    ops: list[Operation] = []
    pushes = 0
    for k in range(n):
        point = k * STEP
        invoke = point - rng.uniform(0, width) * STEP
        idle = [c for c in range(clients) if free_at[c] < invoke]
        if not idle:
            c = min(range(clients), key=free_at.__getitem__)
            invoke = min(point, free_at[c] + 1e-6)
            if free_at[c] >= invoke:
                continue  # every client busy at this point: skip it
        else:
            c = rng.choice(idle)
        complete = point + rng.uniform(0, width) * STEP
        free_at[c] = complete
        pick = rng.random()
        if pick < 0.35:
            task = {"id": f"j{pushes}", "priority": rng.randrange(3)}
            queue.push(pushes, task)
            pushes += 1
            ops.append(
                Operation(
                    client=c,
                    op="push",
                    task=task,
                    invoke=invoke,
                    complete=complete,
                    result=Ok(dict(task)),
                )
            )
        elif pick < 0.8 or not held[c]:
            seq = queue.reserve()
            value = None if seq is None else dict(queue.tasks[seq])
            if seq is not None and rng.random() < 0.8:
                held[c].append(seq)
            ops.append(
                Operation(
                    client=c, op="reserve", invoke=invoke, complete=complete, result=Ok(value)
                )
            )
        else:
            seq = held[c].pop(rng.randrange(len(held[c])))
            task = dict(queue.tasks[seq])
            queue.delete(seq)
            ops.append(
                Operation(
                    client=c,
                    op="delete",
                    task=task,
                    invoke=invoke,
                    complete=complete,
                    result=Ok(None),
                )
            )
    at = n * STEP + DAY + 1.0
    for seq in [*queue.drain_order(), None]:
        value = None if seq is None else dict(queue.tasks[seq])
        ops.append(
            Operation(
                client=clients,
                op="reserve",
                invoke=at,
                complete=at + 1e-5,
                result=Ok(value),
                drain=True,
            )
        )
        at += 2e-5
    return History(
        capabilities=Capabilities(reservation_timeout=DAY),
        operations=ops,
        meta={"synthetic": True, "seed": seed, "clients": clients, "width": width},
    )


def timed(action: Any) -> tuple[Any, float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = action()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", default="10000,100000,1000000")
    parser.add_argument("--exact", default="100,200,500,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=float, default=3.0, help="window half-width, in steps")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}; window half-width {args.width:g} steps of "
        f"{STEP * 1000:g} ms"
    )
    ok = True
    print("\nfast checker (16 clients)")
    print(f"{'ops':>9} {'seconds':>8} {'ops/s':>11} {'cpu s':>7}  anomalies")
    for n in (int(x) for x in args.fast.split(",") if x):
        history = synthetic(n, 16, args.width, args.seed)
        found, wall, cpu = timed(lambda h=history: find_anomalies(h))
        ok = ok and not found
        print(
            f"{len(history):>9,} {wall:>8.3f} {len(history) / wall:>11,.0f} {cpu:>7.3f}  "
            f"{len(found)}"
        )
        if n == FAST_TARGET_OPS:
            verdict = "PASS" if wall < FAST_TARGET_SECONDS else "MISS"
            print(f"  target: 10^6 ops in < {FAST_TARGET_SECONDS:g} s: {verdict}")
    print(f"\nexact checker (8 clients, {args.runs} histories each, median)")
    print(f"{'ops':>6} {'median s':>9} {'max s':>7} {'ops/s':>9} {'nodes':>7}  answers")
    for n in (int(x) for x in args.exact.split(",") if x):
        times, nodes, answers = [], [], []
        for run in range(args.runs):
            history = synthetic(n, 8, args.width, args.seed * 1000 + run)
            result, wall, _ = timed(lambda h=history: check(h, budget=60))
            times.append(wall)
            nodes.append(result.nodes)
            answers.append(type(result).__name__)
            ok = ok and isinstance(result, Linearizable)
        median = statistics.median(times)
        summary = ", ".join(f"{answers.count(a)} {a}" for a in sorted(set(answers)))
        print(
            f"{len(history):>6} {median:>9.3f} {max(times):>7.3f} "
            f"{len(history) / median:>9,.0f} {int(statistics.median(nodes)):>7}  {summary}"
        )
        if n == EXACT_TARGET_OPS:
            verdict = "PASS" if median < EXACT_TARGET_SECONDS else "MISS"
            print(f"  target: 200 ops decided in < {EXACT_TARGET_SECONDS:g} s median: {verdict}")
    if not ok:
        print("\nA valid history was flagged or not proven linearizable: a checker bug.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
