"""Record a concurrent history: N client threads issuing push, reserve and delete on ONE queue.

Responsibility: produce a `History` (spec/history-format.md) for the checkers in
`mqspec.conformance.concurrency.fastcheck` and `mqspec.conformance.concurrency.linearize`.
Every call is recorded with its invocation and completion times read from `time.monotonic`,
relative to one shared start, so all clients share one clock.

Clock. ``clock="virtual"`` (the default for a queue that declares ``virtual_time``): each call
gets ``now`` = its own invocation time, so the queue clock *is* the history's clock. Threads
reach the queue's critical section in an order the recorder cannot see, so the queue may be
handed a ``now`` slightly older than one it already saw; the queue must then decide at a time
no older than one it already committed (spec/history-format.md), and ready times or deadlines
within one call's duration of another call are ruled out by the defaults (T and delays of
seconds, a recording of milliseconds; the exact checker reports such histories as not
time-separated). The final drain jumps the clock past every deadline and ready time.
``clock="queue"`` passes ``now=None``: the queue reads its own clock (it must be
`time.monotonic`, or agree with it) inside each call; the drain then really waits, so it is
refused up front when it would wait longer than ``max_drain_wait``.

Bounded: ``clients * ops_per_client`` calls plus a drain of at most one Reserve per Push plus
one; no sleeps besides the optional ``jitter``; a call still running after ``timeout`` seconds
is recorded as unknown (it may still take effect) and its client stops.

The parallel programs (`mqspec.conformance.concurrency.parallel`) record through the same
`Recorder`, clients and drain.

Rule: imports the adapter protocol, the history values, the clients' adapter helpers
(`mqspec.conformance.concurrency.clients`), the harness's call helpers
(`mqspec.conformance.core.calls`) and the reference vocabulary only.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.conformance.concurrency.clients import (
    client_adapters,
    close_adapter,
    open_clients,
    reset_queue,
    serves_one_call_at_a_time,
)
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.core.calls import drain_answers, outcome_of
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Ok, Outcome, Unknown

__all__ = [
    "CallClock",
    "Recorder",
    "Stopped",
    "call_once",
    "client_adapters",
    "close_adapter",
    "drain_queue",
    "open_clients",
    "record",
    "reset_queue",
    "serves_one_call_at_a_time",
    "switching",
]

Clock = Literal["virtual", "queue"]


class Stopped(Exception):
    """The recording was closed (its timeout passed, or a client failed): the client stops
    without recording the call it was making."""


class Recorder:
    """The operations recorded so far, the call each client has in flight, and their clock.

    Every client thread makes its calls through `call`; `run` starts the threads and, at the
    timeout, records every call still in flight as unknown. ``gate`` is a barrier of all the
    clients, aborted when the recording closes so that no client waits on it for ever.
    """

    def __init__(self, clients: int, clock: CallClock) -> None:
        self.lock = threading.Lock()
        self.done: list[Operation] = []
        self.in_flight: list[tuple[str, Any, float] | None] = [None] * clients
        self.clock = clock
        self.gate = threading.Barrier(clients)
        self.closed = False  # set at the timeout: later answers are not recorded
        self.error: BaseException | None = None

    def call(self, client: int, adapter: QueueAdapter, kind: str, task: Any) -> Outcome:
        """Make one call for ``client``, record it, and return its outcome.

        Raises:
            Stopped: the recording closed before the call started or while it ran.
        """
        with self.lock:
            if self.closed:
                raise Stopped
            invoke = self.clock.read()
            self.in_flight[client] = (kind, task, invoke)
        outcome, completed = self.clock.call(adapter, kind, task, invoke)
        complete = self.clock.read()
        with self.lock:
            if self.closed:
                raise Stopped
            self.in_flight[client] = None
            self._add(client, kind, task, invoke, complete if completed else None, outcome)
        return outcome

    def run(
        self,
        work: Callable[[int], None],
        name: str,
        timeout: float,
        deadline: float | None = None,
    ) -> list[Operation]:
        """Run ``work(client)`` in one thread per client and return the operations recorded.

        The threads are joined until ``deadline`` (a `time.monotonic` time; default
        ``timeout`` seconds after they started); then the recording closes, and every call
        still in flight is recorded as unknown: it may still take effect.

        Raises:
            BaseException: the first error a client raised (a `DriverError`, or a bug).
        """
        threads = [
            threading.Thread(target=self._client, args=(work, c), name=f"{name}-{c}", daemon=True)
            for c in range(len(self.in_flight))
        ]
        for thread in threads:
            thread.start()
        limit = time.monotonic() + timeout if deadline is None else deadline
        for thread in threads:
            thread.join(max(0.0, limit - time.monotonic()))
        with self.lock:
            self.closed = True
            self.gate.abort()
            for c, flight in enumerate(self.in_flight):
                if flight is not None:
                    kind, task, invoke = flight
                    reason = f"still running after the {timeout:g}s timeout"
                    self._add(c, kind, task, invoke, None, Unknown(reason))
        if self.error is not None:
            raise self.error
        return self.done

    def _client(self, work: Callable[[int], None], client: int) -> None:
        try:
            work(client)
        except (Stopped, threading.BrokenBarrierError):
            return
        except BaseException as err:  # a DriverError (or a bug): stop everyone, re-raise in run
            with self.lock:
                self.error = self.error or err
                self.closed = True
            self.gate.abort()

    def _add(
        self,
        client: int,
        kind: str,
        task: Any,
        invoke: float,
        complete: float | None,
        result: Outcome,
    ) -> None:
        self.done.append(
            Operation(
                client=client,
                op=kind,  # type: ignore[arg-type]
                task=task,
                invoke=invoke,
                complete=complete,
                result=result,
            )
        )


def record(
    target: QueueAdapter | Callable[[], QueueAdapter],
    *,
    clients: int = 4,
    ops_per_client: int = 50,
    seed: int = 0,
    timeout: float = 60.0,
    mix: tuple[float, float, float] = (0.4, 0.4, 0.2),
    delay_rate: float = 0.0,
    abandon_rate: float = 0.2,
    clock: Clock | None = None,
    drain: bool = True,
    barrier_every: int | None = None,
    jitter: float = 0.0,
    max_drain_wait: float = 2.0,
) -> History:
    """Run ``clients`` threads against one queue and return what they saw.

    Args:
        target: a thread-safe adapter shared by every client, or a factory called once per
            client for adapters on one shared queue (the first is reset, all are closed).
        clients: the number of threads.
        ops_per_client: calls each client makes.
        seed: seeds each client's draws (``random.Random(f"{seed}:{client}")``): the same
            draws for every call, so what a client pushes depends only on the seed (whether it
            deletes also depends on whether it holds a reserved task).
        timeout: seconds the concurrent section may take; calls still running are unknown.
        mix: weights of push, reserve and delete (a delete takes back a task this client
            reserved; with none held, the client reserves instead).
        delay_rate: the share of pushes with a delay of 1 to 3 seconds.
        abandon_rate: the share of reserved tasks never deleted (they come back in the drain).
        clock: ``virtual`` or ``queue``; default from the queue's ``virtual_time``.
        drain: end with a drain (reserve until null) past every deadline (MQ-LOSS-1).
        barrier_every: make every client wait for the others after this many calls, which
            makes quiescent points the exact checker can cut at.
        jitter: the most seconds a client sleeps, at random, before each call.
        max_drain_wait: with ``clock="queue"``, the longest the drain may wait for time to pass.

    Raises:
        UsageError: a bad argument, or a drain that would wait longer than ``max_drain_wait``.
        DriverError: the adapter could not be opened, reset or closed, or raised one.
    """
    if clients < 1 or ops_per_client < 0:
        raise UsageError(
            f"need clients >= 1 and ops_per_client >= 0, got {clients}, {ops_per_client}"
        )
    if len(mix) != 3 or min(mix) < 0 or sum(mix) <= 0:
        raise UsageError(f"mix must be three weights >= 0 (push, reserve, delete), got {mix!r}")
    if barrier_every is not None and barrier_every < 1:
        raise UsageError(f"barrier_every must be >= 1 or None, got {barrier_every!r}")
    with client_adapters(target, clients) as adapters:
        caps = adapters[0].capabilities
        mode: Clock = clock or ("virtual" if caps.virtual_time else "queue")
        if mode not in ("virtual", "queue"):
            raise UsageError(f"clock must be 'virtual' or 'queue', got {clock!r}")
        if mode == "virtual" and not caps.virtual_time:
            raise UsageError("clock='virtual' needs a queue that declares virtual_time")
        horizon = caps.reservation_timeout + (3 if delay_rate > 0 else 0) + caps.slack
        if drain and mode == "queue" and horizon > max_drain_wait:
            raise UsageError(
                f"a queue-clock drain would wait {horizon:g}s for deadlines and "
                f"delays to pass, more than max_drain_wait={max_drain_wait:g}s"
            )
        reset_queue(adapters[0], 0.0 if mode == "virtual" else None)
        start = time.monotonic()
        calls = CallClock(start, mode == "virtual", serves_one_call_at_a_time(adapters[0]))
        recorder = Recorder(clients, calls)
        weights = (mix[0], mix[0] + mix[1], sum(mix))

        def work(c: int) -> None:
            _client(
                c,
                adapters[c],
                recorder,
                random.Random(f"{seed}:{c}"),
                ops_per_client,
                weights,
                delay_rate,
                abandon_rate,
                barrier_every,
                jitter,
            )

        operations = recorder.run(work, "mqspec-client", timeout, deadline=start + timeout)
        if drain:
            operations += drain_queue(adapters[0], operations, start, mode, horizon, clients)
    operations.sort(key=lambda o: (o.invoke, o.client))
    meta = {
        "clients": clients,
        "ops_per_client": ops_per_client,
        "seed": seed,
        "adapter": type(adapters[0]).__name__,
        "barrier_every": barrier_every,
    }
    return History(capabilities=caps, operations=operations, clock=mode, meta=meta)


class CallClock:
    """The recorder's clock, and what ``now`` each call is given.

    Times are seconds of `time.monotonic` since ``start``, shared by every client. On the
    queue clock a call gets ``now=None``. In virtual time a call gets its invocation time, or,
    for an adapter that serves one call at a time, the time it is dispatched, read under a lock
    held across the call: the ``now`` values then reach the queue in the order it serves them
    and never run backwards (the contract's queue clock), while each still lies inside the
    call's [invoke, complete] window. Handing a serial queue its callers' invocation times
    instead would make it see time run backwards whenever a call waited for another, and a
    queue that decides at the ``now`` it is handed, as it may, would then answer in a way no
    order of the calls explains: a false alarm.
    """

    def __init__(self, start: float, virtual: bool, serial: bool = False) -> None:
        self.start = start
        self.virtual = virtual
        self._serial = threading.Lock() if virtual and serial else None

    def read(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def call(
        self, adapter: QueueAdapter, kind: str, task: Any, invoke: float
    ) -> tuple[Outcome, bool]:
        """Make one call that was invoked at ``invoke``; as `call_once`."""
        if not self.virtual:
            return call_once(adapter, kind, task, None)
        if self._serial is None:
            return call_once(adapter, kind, task, invoke)
        with self._serial:
            return call_once(adapter, kind, task, max(invoke, self.read()))


def call_once(
    adapter: QueueAdapter, kind: str, task: Any, now: float | None
) -> tuple[Outcome, bool]:
    """One call; returns the outcome and whether it completed (False: cut by a crash).

    An exception from the queue is its error answer (`Failed`), judged like any answer; an
    `OperationCut` is an unknown outcome; an `MqspecError` is the harness's and propagates
    (`mqspec.conformance.core.calls.outcome_of`).
    """
    if kind == "push":
        return outcome_of(lambda: adapter.push(dict(task), now))
    if kind == "reserve":
        return outcome_of(lambda: adapter.reserve(now))

    def delete() -> None:
        adapter.delete(dict(task), now)

    return outcome_of(delete)


def _client(
    client: int,
    adapter: QueueAdapter,
    recorder: Recorder,
    rng: random.Random,
    count: int,
    weights: tuple[float, float, float],
    delay_rate: float,
    abandon_rate: float,
    barrier_every: int | None,
    jitter: float,
) -> None:
    held: list[Task] = []
    for k in range(count):
        if barrier_every and k and k % barrier_every == 0:
            recorder.gate.wait()
        if jitter:
            time.sleep(rng.uniform(0, jitter))
        # The same draws for every call, whatever the queue answered before.
        pick, priority, delayed, delay, which, keep = (
            rng.uniform(0, weights[2]),
            rng.randrange(3),
            rng.random() < delay_rate,
            rng.randint(1, 3),
            rng.random(),
            rng.random() >= abandon_rate,
        )
        task: Any = None
        if pick < weights[0]:
            kind = "push"
            task = {"id": f"c{client}-{k}", "priority": priority}
            if delayed:
                task["delay"] = delay
        elif pick < weights[1] or not held:
            kind = "reserve"
        else:
            kind = "delete"
            task = held.pop(int(which * len(held)))
        outcome = recorder.call(client, adapter, kind, task)
        value = outcome.value if isinstance(outcome, Ok) else None
        if kind == "reserve" and isinstance(value, dict) and keep:
            held.append(value)


def drain_queue(
    adapter: QueueAdapter,
    operations: list[Operation],
    start: float,
    mode: Clock,
    horizon: float,
    clients: int,
) -> list[Operation]:
    """Reserve until null, deleting nothing, once every deadline and delay has passed.

    The drain of spec/history-format.md (MQ-LOSS-1): ``horizon`` is T plus the longest delay
    plus slack; the virtual clock jumps past it, the queue clock is waited for. The drain's
    calls are made by client ``clients`` (one past the last), at most one per Push plus one.
    """
    last = max((op.complete for op in operations if op.complete is not None), default=0.0)
    pushes = sum(1 for op in operations if op.op == "push")
    if mode == "virtual":
        offset = max(0.0, last + horizon + 1.0 - (time.monotonic() - start))
    else:
        offset = 0.0
        wait = start + last + horizon + 0.001 - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def clock() -> float:
        return time.monotonic() - start + offset

    if mode == "virtual":
        try:
            adapter.tick(clock())
        except Exception as err:
            raise DriverError(f"the adapter's tick failed: {type(err).__name__}: {err}") from err
    out: list[Operation] = []

    def reserve() -> Outcome:
        invoke = clock()
        outcome, completed = call_once(
            adapter, "reserve", None, invoke if mode == "virtual" else None
        )
        out.append(
            Operation(
                client=clients,
                op="reserve",
                invoke=invoke,
                complete=clock() if completed else None,
                result=outcome,
                drain=True,
            )
        )
        return outcome

    # An error or unknown answer ends the drain: it is in the history, for the checkers.
    for _ in drain_answers(reserve, pushes):
        pass
    return out


@contextmanager
def switching(interval: float = 1e-5) -> Iterator[None]:
    """Make the interpreter switch threads every ``interval`` seconds inside the block.

    Why: a race in a Python queue (a gap between check and act) shows only when another
    thread runs inside the gap; the default 5 ms switch interval lets nearly every call run to
    its end first. The setting is process-wide, so the old value is put back on the way out.
    """
    saved = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)
