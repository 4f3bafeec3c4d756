"""A generic ``exec:`` driver: any Python adapter served over the driver protocol, version 1.

Run ``python -m mqspec.adapters.host <URL>``: the host opens the adapter ``URL`` names through
the registry (exactly that URL: a ``queue=`` option names the same namespace as in the
harness), answers hello with the adapter's capabilities, and answers every request line with
one answer line, as `mqspec.adapters.process.ProcessQueue` expects, until end of input.

Why: crash runs (MQ-DURABLE-1) need the queue in a process the harness can kill, and any
Python adapter gets one this way, with no driver of its own.

One optional protocol extension (spec/driver-protocol.md, "Optional extensions"):
``{"seq": n, "op": "arm_crash", "after": k}`` answers ``{"seq": n, "ok": null}`` and makes the
host kill itself with SIGKILL during the next push, reserve or delete, just before the k-th line
of the adapter's own code runs (its class's modules; a `sys.settrace` tracer counts the lines).
So the kill lands between two statements of the operation, e.g. between ``BEGIN IMMEDIATE`` and
``COMMIT``. An operation that runs fewer lines completes and disarms; ``after: 0`` disarms.
Before the kill the host writes one stderr line starting with `CRASH_MARK` that names the
operation and the line.

Rule: standard library, the registry (and `mqspec.adapters.process` for an ``exec:`` URL) and
``mqspec.reference`` types and errors only; never the model or the harness.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, BinaryIO

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_adapter
from mqspec.reference.errors import MqspecError

__all__ = ["CRASH_MARK", "PROTOCOL", "Tripwire", "main", "serve"]

PROTOCOL = 1
"""The driver protocol version the host speaks."""

CRASH_MARK = "mqspec-host: SIGKILL inside"
"""How the stderr line the host writes just before it kills itself starts."""

EXIT_CANNOT_OPEN = 2  # the URL is bad or the adapter failed to open
EXIT_CANNOT_DRIVE = 3  # the adapter raised MqspecError, or a request was not protocol

_OPERATIONS = ("push", "reserve", "delete")  # the operations a crash can be armed for


class Tripwire:
    """Kills this process inside an operation, at the k-th line the adapter's code runs.

    Args:
        files: the source files whose lines count (the ``co_filename`` of their code).
    """

    def __init__(self, files: frozenset[str]) -> None:
        self.files = files
        self.left = 0  # lines to go; 0 when disarmed
        self._op = ""

    @classmethod
    def for_adapter(cls, adapter: object) -> Tripwire:
        """A tripwire counting the lines of the modules that define ``adapter``'s class and
        its bases (a subclass's inherited methods live in its base's module)."""
        files: set[str] = set()
        for klass in type(adapter).__mro__:
            top = klass.__module__.partition(".")[0]
            if top == "builtins" or top in sys.stdlib_module_names:
                continue
            path = getattr(sys.modules.get(klass.__module__), "__file__", None)
            if path:
                files.add(path)
        return cls(frozenset(files))

    def arm(self, after: int) -> None:
        """Crash at the ``after``-th line of the next operation; 0 disarms."""
        self.left = after

    def run(self, op: str, action: Callable[[], Any]) -> Any:
        """Run ``action`` (operation ``op``), dying inside it if armed; always disarms."""
        if self.left <= 0:
            return action()
        self._op = op
        sys.settrace(self._on_call)
        try:
            return action()
        finally:
            sys.settrace(None)
            self.left = 0

    def _on_call(self, frame: FrameType, event: str, arg: Any) -> Any:
        # Trace only the adapter's own frames: lines of json or sqlite3 internals don't count.
        return self._on_line if frame.f_code.co_filename in self.files else None

    def _on_line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.left -= 1
            if self.left == 0:
                where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
                sys.stderr.write(f"{CRASH_MARK} {self._op}, before {where}\n")
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return self._on_line


class _Refused(Exception):
    """An error answer: the request is understood but refused (or the backend refused it)."""


def _handle(adapter: QueueAdapter, tripwire: Tripwire, url: str, request: dict[str, Any]) -> Any:
    """Run one request and return its ``ok`` result; raise `_Refused` for an error answer."""
    op = request.get("op")
    now = request.get("now")  # absent when the adapter runs on its own clock
    if op == "hello":
        if request.get("protocol") != PROTOCOL:
            raise _Refused(f"this driver speaks protocol {PROTOCOL}")
        return {
            "protocol": PROTOCOL,
            "name": f"mqspec host {type(adapter).__name__} ({url})",
            "capabilities": adapter.capabilities.to_json(),
        }
    if op == "arm_crash":
        after = request.get("after")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise _Refused(f"arm_crash needs an integer after >= 0, got {after!r}")
        tripwire.arm(after)
        return None
    if op == "reset":
        adapter.reset(now)
        return None
    if op == "tick":
        adapter.tick(now)
        return None
    if op not in _OPERATIONS:
        raise _Refused(f"unknown op {op!r}")
    if op != "reserve" and "task" not in request:
        raise _Refused(f"{op} needs a task")
    try:
        if op == "push":
            return {"task": tripwire.run(op, lambda: adapter.push(request["task"], now))}
        if op == "reserve":
            return {"task": tripwire.run(op, lambda: adapter.reserve(now))}
        tripwire.run(op, lambda: adapter.delete(request["task"], now))
        return None
    except MqspecError:
        raise  # the adapter cannot be driven: not the backend's answer
    except Exception as err:  # the backend's error answer, judged by the contract
        raise _Refused(f"{type(err).__name__}: {err}") from None


def serve(adapter: QueueAdapter, url: str, requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer every request line with exactly one answer line, in order, until end of input.

    Raises:
        MqspecError: the adapter could not be driven (a reset, tick or operation raised it).
        ValueError: a request line is not a JSON object with an integer seq.
    """
    tripwire = Tripwire.for_adapter(adapter)
    for line in requests:
        request = json.loads(line)
        if not isinstance(request, dict) or type(request.get("seq")) is not int:
            raise ValueError(f"not a request: {line[:200]!r}")
        answer: dict[str, Any] = {"seq": request["seq"]}
        try:
            answer["ok"] = _handle(adapter, tripwire, url, request)
        except _Refused as err:
            answer["error"] = {"message": str(err)}
        except MqspecError:
            raise
        except Exception as err:  # reset or tick refused: ProcessQueue makes it a fault
            answer["error"] = {"message": f"{type(err).__name__}: {err}"}
        try:
            text = json.dumps(answer, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as err:
            text = json.dumps({"seq": request["seq"], "error": {"message": f"not JSON: {err}"}})
        # One line per answer, flushed at once: the harness waits for it.
        answers.write(text.encode("ascii") + b"\n")
        answers.flush()


def _open(url: str) -> QueueAdapter:
    """The adapter ``url`` names. An ``exec:`` driver is this host's part: it serves the
    namespace the harness gave the host (the same across the host's restarts, so a durable
    driver finds its queue again) and runs in the host's process group (the harness's SIGKILL
    of the host's group kills the driver too, as a crash must)."""
    if url.split(":", 1)[0].lower() == "exec":
        from mqspec.adapters.process import NAMESPACE_VARIABLE, from_url

        return from_url(url, namespace=os.environ.get(NAMESPACE_VARIABLE), own_group=False)
    return open_adapter(url)


def main(argv: list[str] | None = None) -> int:
    """Open the adapter the URL argument names and serve it on stdin and stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m mqspec.adapters.host",
        description="Serve a Python queue adapter over the mqspec exec: driver protocol 1.",
    )
    parser.add_argument("url", help="the adapter's URL, e.g. sqlite:///q.db?queue=jobs")
    args = parser.parse_args(argv)
    try:
        adapter = _open(args.url)
    except MqspecError as err:
        print(f"mqspec host: cannot open {args.url}: {err}", file=sys.stderr)
        return EXIT_CANNOT_OPEN
    try:
        serve(adapter, args.url, sys.stdin.buffer, sys.stdout.buffer)
    except (MqspecError, ValueError) as err:
        print(f"mqspec host: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_CANNOT_DRIVE
    finally:
        adapter.close()
    return 0  # end of input: the harness is done with us


if __name__ == "__main__":
    sys.exit(main())
