"""The template driver (adapters/drivers/python/driver.py) with one contract clause broken.

Usage: ``broken.py BUG [--real-clock]``. Each bug is a small subclass of the template's
`Queue`, named for the clause the suite must name when it catches it
(tests/adapters/test_process.py).
"""

from __future__ import annotations

import heapq
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "adapters" / "drivers" / "python"))

import driver  # the template, found through the path set just above


class Lifo(driver.Queue):
    """MQ-ORDER-2: newest first within a priority (a stack where a queue was meant)."""

    def position(self, priority, ready_at, number):
        return (-priority, -number)


class NeverRestores(driver.Queue):
    """MQ-RESTORE-1: a reservation that times out is dropped instead of restored."""

    def advance(self, now):
        while self.hidden and self.hidden[0][0] <= now:
            _, number = heapq.heappop(self.hidden)
            job = self.jobs.get(number)
            if job is None:
                continue
            if job.token is not None:  # an expired reservation: the job is lost
                continue
            heapq.heappush(self.ready, (job.key, number))


class DeleteAbsentFails(driver.Queue):
    """MQ-DELETE-3: deleting an id that is not live answers with an error."""

    def delete(self, task, now):
        if task.get("id") not in self.by_id:
            raise driver.QueueError(f"no job {task.get('id')!r}")
        super().delete(task, now)


class Crashes(driver.Queue):
    """Not a contract bug: the process dies mid-run (exit code 5) at its 40th push."""

    total = 0

    def push(self, task, now):
        Crashes.total += 1
        if Crashes.total >= 40:
            print("broken: out of memory, crashing", file=sys.stderr, flush=True)
            os._exit(5)
        return super().push(task, now)


BUGS = {
    "lifo": Lifo,
    "never-restores": NeverRestores,
    "delete-absent-fails": DeleteAbsentFails,
    "crashes": Crashes,
}


def main():
    # ``--real-clock``: the queue reads its own clock, with a 1 s reservation timeout.
    real = "--real-clock" in sys.argv[2:]
    queue = BUGS[sys.argv[1]](timeout=1 if real else 30, tokens=False, real_clock=real)
    driver.serve(queue, sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
