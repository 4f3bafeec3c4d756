#!/usr/bin/env python3
"""A queue driver for mqspec's ``exec:`` adapter: the template to copy for your own backend.

mqspec starts this program, writes one JSON request per line to its stdin and reads exactly one
JSON answer per line from its stdout (spec/driver-protocol.md, protocol version 1). stderr is
yours: mqspec shows its last lines when something goes wrong. Standard library only.

The queue below is a correct in-memory lease design, so the file passes the suite as it is:

    mqspec check "exec:python3 adapters/drivers/python/driver.py"
    mqspec check "exec:python3 adapters/drivers/python/driver.py --tokens --timeout 30"
    mqspec check --profile realtime \
        "exec:python3 adapters/drivers/python/driver.py --real-clock --timeout 1"

To check your own backend, keep `serve` and `main`, and make `Queue` call your backend
instead (its methods are the contract's operations; each docstring says what the contract
wants). Declare what your backend does in `Queue.capabilities`.

How the queue works: every job gets a position key ``(-priority, ready_at, seq)`` when it is
pushed, and the key never changes, so a reservation that times out puts the job back in its
old place (MQ-RESTORE-2, MQ-RESTORE-3). A job is hidden (delayed, or reserved) until its
``visible_at``; reserving sets ``visible_at`` to the reservation deadline. Two heaps:
``hidden`` ordered by ``visible_at``, and ``ready`` ordered by the position key. Every
operation first moves the jobs whose time has come from ``hidden`` to ``ready``: a lease
design checks the time on every operation, so it needs no ticker and declares slack 0.

Time: by default the driver declares ``virtual_time`` and takes every time decision from the
``now`` of each request, which is what lets the suite check a 60 s timeout in no time. With
``--real-clock`` it ignores ``now``, reads its own monotonic clock, as a production backend
does, and declares ``virtual_time`` false; mqspec then judges it on the real clock whatever
the profile (the scenarios, as ``--profile realtime`` runs them), so give it a short timeout.

The reservation timeout T is ``--timeout`` (default 60) unless the harness asks for another in
hello (``reservation_timeout``): the driver declares ``timeout_settable``, so it adopts the T it
is asked for, in both time modes, and declares it back.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

PROTOCOL = 1
TOKEN_KEY = "_mq_token"


class QueueError(Exception):
    """Raise this to answer an operation with ``{"error": {"message": ...}}``.

    That is the backend's answer (a refused push, a delete of a job that is not reserved),
    which the contract judges. Any other exception is a bug: the driver crashes with a
    traceback on stderr, and mqspec reports it.
    """


@dataclass
class Job:
    """One live job and its lease."""

    number: int  # unique per push; the last part of the position key
    task: dict[str, Any]
    key: tuple[Any, ...]  # its place in line, fixed forever: see Queue.position
    visible_at: float  # when the job becomes (or became) reservable
    token: str | None = None  # set while a reservation is pending


def task_problem(task: Any) -> str | None:
    """What makes ``task`` invalid (MQ-TASK-1), or None when it is a valid task."""
    if not isinstance(task, dict):
        return f"task is not a JSON object: {json.dumps(task)}"
    ident = task.get("id")
    if not isinstance(ident, str) or not ident:
        return f"task id must be a non-empty string, got {json.dumps(ident)}"
    priority = task.get("priority")
    # bool is a subclass of int in Python, but true and false are not numbers in JSON.
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in (0, 1, 2):
        return f"task priority must be 0, 1 or 2, got {json.dumps(priority)}"
    delay = task.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        return f"task delay must be an integer >= 0, got {json.dumps(delay)}"
    if TOKEN_KEY in task:
        return f"task carries the reserved key {TOKEN_KEY}"
    return None


class Queue:
    """The backend. Replace the bodies with calls into yours.

    Every method gets ``now``, in seconds, never decreasing: the harness's virtual time when
    the driver declares ``virtual_time`` (so a 60 s reservation timeout costs nothing to
    test), else the driver's own monotonic clock (see `clock`). Take every time decision
    from it.
    """

    def __init__(self, timeout: float, tokens: bool, real_clock: bool = False) -> None:
        self.timeout = timeout
        self.tokens = tokens
        self.real_clock = real_clock
        self.reservations = 0  # numbers the tokens; never reset, so a token is never reused
        self.reset(0)

    def set_timeout(self, timeout: Any) -> None:
        """Adopt the reservation timeout the harness asked for in hello.

        T is configuration, not state: it holds for every later reset. A backend whose T is
        fixed would skip this and declare ``timeout_settable`` false instead.
        """
        # bool is a subclass of int in Python, but true and false are not numbers in JSON.
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise QueueError(f"reservation_timeout must be a number > 0, got {json.dumps(timeout)}")
        self.timeout = timeout

    def capabilities(self) -> dict[str, Any]:
        """What this queue declares (spec/contract.md, Capabilities). Omitted keys default."""
        return {
            "reservation_timeout": self.timeout,
            "timeout_settable": True,  # hello's reservation_timeout (or --timeout)
            "slack": 0,  # a lease design: restores exactly at the deadline
            # With --real-clock we read our own clock and the harness sends no "now".
            "virtual_time": not self.real_clock,
            "durable": False,
            "reservation_tokens": self.tokens,
            "duplicate_ids": "distinct",  # a push of a live id queues a second job
            "max_jobs": None,  # no capacity limit
        }

    def reset(self, now: float) -> None:
        """Empty the queue: the start of a test case."""
        self.jobs: dict[int, Job] = {}  # live jobs by number
        self.by_id: dict[str, list[int]] = {}  # live job numbers by task id, in push order
        self.ready: list[tuple[tuple[Any, ...], int]] = []  # (key, number)
        self.hidden: list[tuple[float, int]] = []  # (visible_at, number)
        self.pushes = 0

    def push(self, task: dict[str, Any], now: float) -> dict[str, Any]:
        """Queue ``task`` and return it as queued (MQ-PUSH-1); refuse an invalid one
        (MQ-TASK-1)."""
        problem = task_problem(task)
        if problem is not None:
            raise QueueError(problem)
        self.advance(now)
        number = self.pushes
        self.pushes += 1
        ready_at = now + task.get("delay", 0)
        job = Job(number, task, self.position(task["priority"], ready_at, number), ready_at)
        self.jobs[number] = job
        self.by_id.setdefault(task["id"], []).append(number)
        if ready_at <= now:
            heapq.heappush(self.ready, (job.key, number))
        else:
            heapq.heappush(self.hidden, (ready_at, number))
        return task

    def position(self, priority: int, ready_at: float, number: int) -> tuple[Any, ...]:
        """A job's place in line; smaller is reserved first. Higher priority first
        (MQ-ORDER-1), then earlier enqueue instant (MQ-ORDER-2), then push order."""
        return (-priority, ready_at, number)

    def reserve(self, now: float) -> dict[str, Any] | None:
        """Take the first ready job and hold it for ``timeout`` seconds; None when there is
        none (MQ-RESERVE-1, MQ-ORDER-1, MQ-ORDER-2)."""
        self.advance(now)
        if not self.ready:
            return None
        _, number = heapq.heappop(self.ready)
        job = self.jobs[number]
        self.reservations += 1
        job.token = f"r{self.reservations}"
        job.visible_at = now + self.timeout
        heapq.heappush(self.hidden, (job.visible_at, number))
        if self.tokens:
            return {**job.task, TOKEN_KEY: job.token}
        return job.task

    def delete(self, task: dict[str, Any], now: float) -> None:
        """Acknowledge a pending reservation of ``task``'s id and remove that job for good.

        No live job with the id: success (MQ-DELETE-3). Live jobs but no pending reservation
        (with tokens: none with this token): an error, and nothing changes (MQ-DELETE-2,
        MQ-DELETE-5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise QueueError("delete needs a task object with a string id")
        self.advance(now)
        numbers = self.by_id.get(task["id"], [])
        if not numbers:
            return
        for number in numbers:
            job = self.jobs[number]
            # After advance(), a job still holding a token has a pending reservation.
            if job.token is not None and (not self.tokens or job.token == task.get(TOKEN_KEY)):
                numbers.remove(number)
                if not numbers:
                    del self.by_id[task["id"]]
                # Its entry in `hidden` stays behind; advance() skips entries of gone jobs.
                del self.jobs[number]
                return
        why = "not reserved by this token" if self.tokens else "not reserved"
        raise QueueError(f"job {json.dumps(task['id'])} is {why}")

    def tick(self, now: float) -> None:
        """Time advanced to ``now``. A lease design has nothing to do; a ticker design would
        restore expired reservations here."""

    def advance(self, now: float) -> None:
        """Make every hidden job whose time has come reservable again (MQ-READY-2,
        MQ-RESTORE-1)."""
        while self.hidden and self.hidden[0][0] <= now:
            _, number = heapq.heappop(self.hidden)
            job = self.jobs.get(number)
            if job is None:
                continue  # deleted while reserved
            job.token = None  # an expired reservation is no longer pending
            heapq.heappush(self.ready, (job.key, number))


def clock(queue: Queue, request: dict[str, Any]) -> float:
    """The time to decide ``request`` at, in seconds.

    With ``--real-clock``: our own monotonic clock, whatever the request says (a production
    backend reads its clock, never the caller's). Otherwise the harness's ``now``, which it
    sends while we declare ``virtual_time``; the real-time profile runs even a virtual-time
    driver on the real clock by sending no ``now``, and then our clock is the only one there
    is. ``time.monotonic`` never goes back, unlike the wall clock.
    """
    if queue.real_clock:
        return time.monotonic()
    now = request.get("now")
    return time.monotonic() if now is None else now


def handle(queue: Queue, request: dict[str, Any]) -> Any:
    """Run one request; return the ``ok`` result. Raise QueueError for an error answer."""
    op = request["op"]
    now = clock(queue, request)
    if op == "hello":
        if request.get("protocol") != PROTOCOL:
            raise QueueError(f"this driver speaks protocol {PROTOCOL}")
        # The harness may choose T; hello comes again after a restart, so it is set again.
        if "reservation_timeout" in request:
            queue.set_timeout(request["reservation_timeout"])
            print(f"python driver: timeout {queue.timeout:g} s from hello", file=sys.stderr)
        caps = queue.capabilities()
        return {"protocol": PROTOCOL, "name": "python-template", "capabilities": caps}
    if op == "reset":
        queue.reset(now)
        return None
    if op == "push":
        return {"task": queue.push(request["task"], now)}
    if op == "reserve":
        return {"task": queue.reserve(now)}
    if op == "delete":
        queue.delete(request["task"], now)
        return None
    if op == "tick":
        queue.tick(now)
        return None
    raise QueueError(f"unknown op {op!r}")


def serve(queue: Queue, requests: Any, answers: Any) -> None:
    """Answer every request line with exactly one answer line, in order, until end of input."""
    for line in requests:
        request = json.loads(line)
        answer: dict[str, Any] = {"seq": request["seq"]}
        try:
            answer["ok"] = handle(queue, request)
        except QueueError as err:
            answer["error"] = {"message": str(err)}
        # One line per answer, flushed at once: mqspec waits for it.
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="An mqspec exec: driver (protocol 1).")
    parser.add_argument("--timeout", type=float, default=60, help="reservation timeout, s")
    parser.add_argument("--tokens", action="store_true", help="issue reservation tokens")
    parser.add_argument(
        "--real-clock",
        action="store_true",
        help="ignore the harness's now and use our own monotonic clock (virtual_time false)",
    )
    args = parser.parse_args(argv)
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        parser.error("--timeout must be > 0")
    mode = ", real clock" if args.real_clock else ""
    print(f"python driver ready (timeout {args.timeout:g} s{mode})", file=sys.stderr)
    serve(Queue(args.timeout, args.tokens, args.real_clock), sys.stdin, sys.stdout)
    return 0  # end of input: the harness is done with us


if __name__ == "__main__":
    sys.exit(main())
