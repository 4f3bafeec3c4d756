"""The recorder hands a serial adapter ``now`` in the order it serves calls (MQ-READY-1).

An ``exec:`` driver answers one request at a time; concurrent clients queue on its lock. If
each call carried its own invocation time, a call that waited would bring the queue a ``now``
older than one it already decided at: the queue clock would run backwards, and a correct queue
that decides at the ``now`` it is handed would answer in a way no order explains.
"""

from __future__ import annotations

import threading
import time

from mqspec.conformance.concurrency import linearize
from mqspec.conformance.concurrency.parallel import judge
from mqspec.conformance.concurrency.recorder import record
from tests.conformance.outsider import OutsiderQueue


class SerialQueue(OutsiderQueue):
    """The outsider's queue behind one lock held across each call, as an exec: driver is, and
    a record of every ``now`` it was handed in the order it served them."""

    serves_one_call_at_a_time = True

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.serving = threading.Lock()
        self.seen: list[float] = []

    def _serve(self, now: float | None) -> None:
        assert now is not None
        self.seen.append(now)
        time.sleep(0.0005)  # long enough that other clients queue up behind this call

    def push(self, task, now):  # type: ignore[no-untyped-def]
        with self.serving:
            self._serve(now)
            return super().push(task, now)

    def reserve(self, now):  # type: ignore[no-untyped-def]
        with self.serving:
            self._serve(now)
            return super().reserve(now)

    def delete(self, task, now):  # type: ignore[no-untyped-def]
        with self.serving:
            self._serve(now)
            return super().delete(task, now)


def test_a_serial_queue_sees_time_that_never_runs_backwards() -> None:
    queue = SerialQueue()
    history = record(queue, clients=4, ops_per_client=30, seed=1, drain=False)
    assert len(queue.seen) == len(history) == 120
    assert queue.seen == sorted(queue.seen)
    # Each now lies inside its call's window, so the checkers may judge the call at it.
    found, verdict = judge(history, 2.0)
    assert found == (), [a.render(history) for a in found]
    assert not isinstance(verdict, linearize.NotLinearizable), verdict
