#!/usr/bin/env python3
"""A durable work queue behind mqspec's ``exec:`` driver protocol, from the public documents only.

Written from ``spec/driver-protocol.md``, ``spec/contract.md`` and the README alone, as an
independent implementation (no code of ``adapters/``, ``conformance/`` or ``reference/`` read).

Usage::

    mqspec check "exec:python3 tests/conformance/durable_outsider_driver.py --dir /tmp/q"

Design
------
* Real clock: declares ``virtual_time: false`` and ignores any ``now``; every time decision uses
  ``time.monotonic()`` (CLOCK_MONOTONIC, system-wide on Linux, so deadlines and ready times
  stored as absolute readings stay valid across a restart of this process on the same machine).
* Durable: the whole state (jobs in the order they were pushed, their ready times, enqueue keys,
  reservation deadlines, the push counter) lives in ``DIR/queue-<MQSPEC_NAMESPACE>.json``
  (namespace default ``default``). Every operation that changes state writes the file atomically
  (temp file, flush, ``os.fsync``, ``os.replace``, fsync of the directory) *before* it answers,
  and the file is loaded at startup, so a SIGKILL at any moment loses nothing acknowledged and an
  operation cut by the kill took full effect or none.
* Lease design: nothing happens in the background; a reservation is pending while
  ``now < deadline`` and an expired one is simply ready again, in its old place (its enqueue key is
  never changed), so restore is exact at the deadline. ``tick`` does nothing.
* Reservation timeout T: 1 s by default (``--timeout`` changes it), ``timeout_settable: true``:
  hello's ``reservation_timeout`` is adopted and declared back.
* ``arm_crash`` (the optional extension) is spoken: with ``after`` = k >= 1 the next push, reserve
  or delete SIGKILLs the process just before the k-th line of this file that the operation runs
  (counted with ``sys.settrace``), after writing ``mqspec-host: SIGKILL inside <op>, before
  <file>:<line>`` to stderr.
* Diagnostics: each start appends one line (monotonic time, pid, ppid, ``MQSPEC_NAMESPACE``, the
  store loaded and its job count) to ``DIR/starts.log`` and to stderr.

Allowed choices (where the contract leaves freedom), some deliberately not the obvious one
-----------------------------------------------------------------------------------------
1. ``duplicate_ids: "reject"`` (MQ-PUSH-2): a push of a live id (ready, delayed or reserved) is
   refused and queues nothing; the id is free again once its job is deleted.
2. ``slack: 0.1`` with quantised promotion (MQ-READY-3, MQ-ORDER-3): a delayed job pushed at p
   with delay d becomes ready at p + d rounded *up* to the next multiple of 0.1 s of the monotonic
   clock, always within [p + d, p + d + 0.1]. Its enqueue instant is that promotion instant.
3. Order among jobs that became ready at the same instant (MQ-ORDER-3): delayed jobs promoted in
   the same 0.1 s slot come out in *reverse* push order (LIFO: the last pushed first), and at an
   exactly equal enqueue instant a delayed job comes before an immediate one. Immediate pushes
   always keep push order (MQ-ORDER-2), even at an equal clock reading.
4. Restore (MQ-RESTORE-1, MQ-DELETE-4): exact at the deadline, not late by the declared slack; a
   Delete at or after the deadline is refused (the job counts as restored).
5. Validation (MQ-TASK-1): floats are never integers here (``"priority": 1.0`` and
   ``"delay": 2.0`` are refused, a choice the contract leaves open); ``"delay": null`` is refused
   as not an integer; ``_mq_token`` is an opaque field (no tokens declared).
6. Delete (MQ-DELETE-1..3) finds the job by ``id`` alone (with ``reject`` there is at most one
   live job per id): pending reservation -> removed, ok; live without a pending reservation ->
   error, unchanged; no live job with that id -> ok.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import tempfile
import time
from typing import Any

NAME = "durable-outsider"
GRID = 0.1  # promotion grid for delayed jobs = declared slack, seconds


class TaskError(Exception):
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(task: Any) -> None:
    if not isinstance(task, dict):
        raise TaskError(
            f"task must be a JSON object, got {type(task).__name__}: {json.dumps(task)[:80]}"
        )
    if "id" not in task:
        raise TaskError("task has no id")
    if not isinstance(task["id"], str):
        raise TaskError(f"task id must be a string, got {json.dumps(task['id'])[:80]}")
    if task["id"] == "":
        raise TaskError("task id must not be empty")
    if "priority" not in task:
        raise TaskError("task has no priority")
    prio = task["priority"]
    if not _is_int(prio) or prio not in (0, 1, 2):
        raise TaskError(f"task priority must be the integer 0, 1 or 2, got {json.dumps(prio)[:80]}")
    if "delay" in task:
        delay = task["delay"]
        if not _is_int(delay):
            raise TaskError(
                f"task delay must be an integer number of seconds, got {json.dumps(delay)[:80]}"
            )
        if delay < 0:
            raise TaskError(f"task delay must be at least 0, got {delay}")


class Store:
    """The queue state and its file. Every mutation is followed by save() before the answer."""

    def __init__(self, directory: str, namespace: str) -> None:
        os.makedirs(directory, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", namespace) or "default"
        self.dir = directory
        self.path = os.path.join(directory, f"queue-{safe}.json")
        self.counter = 0
        # each job: {"n": push number, "task": {...}, "ready": float, "enq": float,
        #            "delayed": bool, "deadline": float | None}
        self.jobs: list[dict[str, Any]] = []
        self.load()

    def load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                state = json.load(fh)
        except FileNotFoundError:
            self.counter, self.jobs = 0, []
            return
        self.counter = state["counter"]
        self.jobs = state["jobs"]

    def save(self) -> None:
        data = json.dumps({"counter": self.counter, "jobs": self.jobs}, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class Queue:
    def __init__(self, store: Store, timeout: float) -> None:
        self.store = store
        self.timeout = timeout

    @staticmethod
    def _live_with_id(jobs: list[dict[str, Any]], job_id: str) -> dict[str, Any] | None:
        for job in jobs:
            if job["task"]["id"] == job_id:
                return job
        return None

    def reset(self) -> None:
        self.store.jobs = []
        self.store.save()

    def push(self, task: Any) -> dict[str, Any]:
        now = time.monotonic()
        validate(task)
        if self._live_with_id(self.store.jobs, task["id"]) is not None:
            raise TaskError(f"job {json.dumps(task['id'])} is live: duplicate ids are rejected")
        delay = task.get("delay", 0)
        if delay > 0:
            ready = math.ceil((now + delay) / GRID) * GRID
            if ready < now + delay:  # float rounding: never before p + d
                ready += GRID
            enq = ready
        else:
            ready = now
            enq = now
        self.store.counter += 1
        self.store.jobs.append(
            {
                "n": self.store.counter,
                "task": task,
                "ready": ready,
                "enq": enq,
                "delayed": delay > 0,
                "deadline": None,
            }
        )
        self.store.save()
        return task

    @staticmethod
    def _key(job: dict[str, Any]) -> tuple[int, float, int, int]:
        # higher priority first; then earlier enqueue instant; at an equal instant delayed jobs
        # first; immediate jobs in push order, delayed jobs in reverse push order (LIFO)
        if job["delayed"]:
            return (-job["task"]["priority"], job["enq"], 0, -job["n"])
        return (-job["task"]["priority"], job["enq"], 1, job["n"])

    def reserve(self) -> dict[str, Any] | None:
        now = time.monotonic()
        ready = [
            j
            for j in self.store.jobs
            if now >= j["ready"] and (j["deadline"] is None or now >= j["deadline"])
        ]
        if not ready:
            return None
        job = min(ready, key=self._key)
        job["deadline"] = now + self.timeout
        self.store.save()
        return job["task"]

    def delete(self, task: Any) -> None:
        now = time.monotonic()
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise TaskError("delete needs a task with a string id")
        job = self._live_with_id(self.store.jobs, task["id"])
        if job is None:
            return  # not live: idempotent success (MQ-DELETE-3)
        if job["deadline"] is not None and now < job["deadline"]:
            self.store.jobs.remove(job)
            self.store.save()
            return
        if now < job["ready"]:
            raise TaskError(f"job {json.dumps(task['id'])} is delayed, not reserved")
        if job["deadline"] is not None:
            raise TaskError(
                f"job {json.dumps(task['id'])} is not reserved: its reservation expired"
            )
        raise TaskError(f"job {json.dumps(task['id'])} is not reserved")


class CrashArm:
    """arm_crash: SIGKILL just before the k-th line of this file that the next operation runs."""

    def __init__(self) -> None:
        self.after = 0
        self.count = 0
        self.op = ""
        self.file = os.path.abspath(__file__)

    def run(self, op: str, fn: Any, *args: Any) -> Any:
        if self.after <= 0:
            return fn(*args)
        self.count = 0
        self.op = op
        sys.settrace(self._global)
        try:
            return fn(*args)
        finally:
            sys.settrace(None)
            self.after = 0

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        if os.path.abspath(frame.f_code.co_filename) == self.file:
            return self._local
        return None

    def _local(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.count += 1
            if self.count >= self.after:
                sys.stderr.write(
                    f"mqspec-host: SIGKILL inside {self.op}, before "
                    f"{os.path.basename(self.file)}:{frame.f_lineno}\n"
                )
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return self._local


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="directory of the queue's JSON files")
    parser.add_argument("--timeout", type=float, default=1.0, help="reservation timeout, seconds")
    args = parser.parse_args()

    namespace = os.environ.get("MQSPEC_NAMESPACE") or "default"
    store = Store(args.dir, namespace)
    queue = Queue(store, args.timeout)
    arm = CrashArm()
    start_line = (
        f"{time.monotonic():.6f} pid={os.getpid()} ppid={os.getppid()} "
        f"MQSPEC_NAMESPACE={os.environ.get('MQSPEC_NAMESPACE')!r} "
        f"store={os.path.basename(store.path)} "
        f"counter={store.counter} jobs={len(store.jobs)}"
    )
    print(f"{NAME}: start {start_line}", file=sys.stderr, flush=True)
    with open(
        os.path.join(args.dir, "starts.log"), "a", encoding="utf-8"
    ) as log:  # diagnostics only
        log.write(start_line + "\n")

    out = sys.stdout
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        seq: Any = None
        try:
            req = json.loads(line)
            seq = req.get("seq") if isinstance(req, dict) else None
            if not isinstance(req, dict):
                raise TaskError("request is not a JSON object")
            op = req.get("op")
            if op == "hello":
                if "reservation_timeout" in req:
                    t = req["reservation_timeout"]
                    if (
                        isinstance(t, bool)
                        or not isinstance(t, (int, float))
                        or not (t > 0)
                        or math.isinf(t)
                    ):
                        raise TaskError(
                            f"reservation_timeout must be a number > 0, got {json.dumps(t)}"
                        )
                    queue.timeout = t
                result: Any = {
                    "protocol": 1,
                    "name": NAME,
                    "capabilities": {
                        "reservation_timeout": queue.timeout,
                        "timeout_settable": True,
                        "slack": GRID,
                        "virtual_time": False,
                        "durable": True,
                        "reservation_tokens": False,
                        "duplicate_ids": "reject",
                        "max_jobs": None,
                    },
                }
                if req.get("protocol") != 1:
                    raise TaskError(f"this driver speaks protocol 1, not {req.get('protocol')!r}")
            elif op == "reset":
                queue.reset()
                result = None
            elif op == "tick":
                result = None
            elif op == "push":
                result = {"task": arm.run("push", queue.push, req.get("task"))}
            elif op == "reserve":
                result = {"task": arm.run("reserve", queue.reserve)}
            elif op == "delete":
                arm.run("delete", queue.delete, req.get("task"))
                result = None
            elif op == "arm_crash":
                after = req.get("after")
                if not _is_int(after) or after < 0:
                    raise TaskError(
                        f"arm_crash needs an integer after >= 0, got {json.dumps(after)}"
                    )
                arm.after = after
                result = None
            else:
                raise TaskError(f"unknown op {op!r}")
            answer = {"seq": seq, "ok": result}
        except TaskError as exc:
            answer = {"seq": seq, "error": {"message": str(exc)}}
        except Exception as exc:  # a bug or I/O failure: answer with an error, keep serving
            print(f"{NAME}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            with contextlib.suppress(Exception):
                store.load()  # drop any change made in memory but not written
            answer = {"seq": seq, "error": {"message": f"{type(exc).__name__}: {exc}"}}
        out.write(json.dumps(answer, separators=(",", ":")) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
