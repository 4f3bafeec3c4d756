"""Record a concurrent history: N client threads issuing push, reserve and delete on ONE queue.

Responsibility: produce a `History` (spec/history-format.md) for the checkers in
`mqspec.conformance.concurrency.fastcheck` and `mqspec.conformance.concurrency.linearize`. Every
call is recorded with
its invocation and completion times read from `time.monotonic`, relative to one shared start,
so all clients share one clock.

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

Rule: imports the adapter protocol, the history values and the reference vocabulary only.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from mqspec.adapters.base import OperationCut, QueueAdapter, Task
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.reference.errors import DriverError, MqspecError, UsageError
from mqspec.reference.types import Failed, Ok, Outcome, Unknown

__all__ = [
    "CallClock",
    "call_once",
    "close_adapter",
    "drain_queue",
    "open_clients",
    "record",
    "serves_one_call_at_a_time",
    "switching",
]

Clock = Literal["virtual", "queue"]


class _Books:
    """The operations recorded so far, and the call each client has in flight."""

    def __init__(self, clients: int) -> None:
        self.lock = threading.Lock()
        self.done: list[Operation] = []
        self.in_flight: list[tuple[str, Any, float] | None] = [None] * clients
        self.closed = False  # set at the timeout: later answers are not recorded
        self.error: BaseException | None = None


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
    # A class is a factory too (its instances are adapters, and it has their attributes).
    owned = isinstance(target, type) or not isinstance(target, QueueAdapter)
    adapters = open_clients(target, clients) if owned else [target] * clients  # type: ignore[list-item]
    try:
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
        try:
            adapters[0].reset(0.0 if mode == "virtual" else None)
        except Exception as err:
            raise DriverError(f"the adapter failed to reset: {type(err).__name__}: {err}") from err
        books = _Books(clients)
        start = time.monotonic()
        calls = CallClock(start, mode == "virtual", serves_one_call_at_a_time(adapters[0]))
        weights = (mix[0], mix[0] + mix[1], sum(mix))
        gate = threading.Barrier(clients)
        threads = [
            threading.Thread(
                target=_client,
                args=(
                    c,
                    adapters[c],
                    books,
                    calls,
                    random.Random(f"{seed}:{c}"),
                    ops_per_client,
                    weights,
                    delay_rate,
                    abandon_rate,
                    barrier_every,
                    jitter,
                    gate,
                ),
                name=f"mqspec-client-{c}",
                daemon=True,
            )
            for c in range(clients)
        ]
        for thread in threads:
            thread.start()
        limit = start + timeout
        for thread in threads:
            thread.join(max(0.0, limit - time.monotonic()))
        with books.lock:
            books.closed = True
            gate.abort()
            for c, flight in enumerate(books.in_flight):
                if flight is not None:
                    kind, task, invoke = flight
                    books.done.append(
                        Operation(
                            client=c,
                            op=kind,
                            task=task,
                            invoke=invoke,
                            complete=None,  # type: ignore[arg-type]
                            result=Unknown(f"still running after the {timeout:g}s timeout"),
                        )
                    )
        if books.error is not None:
            raise books.error
        operations = books.done
        if drain:
            operations += drain_queue(adapters[0], operations, start, mode, horizon, clients)
    finally:
        if owned:
            for adapter in adapters:
                close_adapter(adapter)
    operations.sort(key=lambda o: (o.invoke, o.client))
    meta = {
        "clients": clients,
        "ops_per_client": ops_per_client,
        "seed": seed,
        "adapter": type(adapters[0]).__name__,
        "barrier_every": barrier_every,
    }
    return History(capabilities=caps, operations=operations, clock=mode, meta=meta)


def open_clients(factory: Callable[[], QueueAdapter], clients: int) -> list[QueueAdapter]:
    """One adapter per client from ``factory``; on a failure, close those opened and raise.

    Raises:
        DriverError: the factory raised (an `MqspecError` it raised passes through).
    """
    out: list[QueueAdapter] = []
    try:
        for _ in range(clients):
            out.append(factory())
    except Exception as err:
        for adapter in out:
            close_adapter(adapter)
        if isinstance(err, MqspecError):
            raise
        raise DriverError(f"the adapter factory failed: {type(err).__name__}: {err}") from err
    return out


def close_adapter(adapter: QueueAdapter) -> None:
    """Close ``adapter``; any exception becomes a `DriverError` naming it."""
    try:
        adapter.close()
    except Exception as err:
        raise DriverError(f"the adapter failed to close: {type(err).__name__}: {err}") from err


def serves_one_call_at_a_time(adapter: QueueAdapter) -> bool:
    """Whether ``adapter`` answers one call at a time (an ``exec:`` driver does: one process,
    requests answered in order), so the recorder can hand it ``now`` in that order."""
    return bool(getattr(adapter, "serves_one_call_at_a_time", False))


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
    `OperationCut` is an unknown outcome; an `MqspecError` is the harness's and propagates.
    """
    try:
        if kind == "push":
            return Ok(adapter.push(dict(task), now)), True
        if kind == "reserve":
            return Ok(adapter.reserve(now)), True
        adapter.delete(dict(task), now)
        return Ok(None), True
    except OperationCut as err:
        return Unknown(str(err) or "cut by a crash"), False
    except MqspecError:
        raise
    except Exception as err:  # the queue's error answer, judged by the checkers
        return Failed(f"{type(err).__name__}: {err}"), True


def _client(
    client: int,
    adapter: QueueAdapter,
    books: _Books,
    clock: CallClock,
    rng: random.Random,
    count: int,
    weights: tuple[float, float, float],
    delay_rate: float,
    abandon_rate: float,
    barrier_every: int | None,
    jitter: float,
    gate: threading.Barrier,
) -> None:
    held: list[Task] = []
    try:
        for k in range(count):
            if barrier_every and k and k % barrier_every == 0:
                gate.wait()
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
            with books.lock:
                if books.closed:
                    return
                invoke = clock.read()
                books.in_flight[client] = (kind, task, invoke)
            outcome, completed = clock.call(adapter, kind, task, invoke)
            complete = clock.read()
            with books.lock:
                if books.closed:
                    return
                books.in_flight[client] = None
                books.done.append(
                    Operation(
                        client=client,
                        op=kind,
                        task=task,
                        invoke=invoke,  # type: ignore[arg-type]
                        complete=complete if completed else None,
                        result=outcome,
                    )
                )
            value = outcome.value if isinstance(outcome, Ok) else None
            if kind == "reserve" and isinstance(value, dict) and keep:
                held.append(value)
    except threading.BrokenBarrierError:
        return
    except BaseException as err:  # a DriverError (or a bug): stop everyone, re-raise in record
        with books.lock:
            books.error = books.error or err
            books.closed = True
        gate.abort()


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
    for _ in range(pushes + 1):
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
        if not completed or not isinstance(outcome, Ok) or outcome.value is None:
            break
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
