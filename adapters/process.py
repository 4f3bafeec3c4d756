"""The ``exec:`` adapter: a backend written in any language, driven as a child process.

Responsibility: speak the driver protocol (spec/driver-protocol.md, version 1) to one driver
process over JSON lines on its stdin and stdout, and turn every way a driver can misbehave
(it does not start, exits, hangs, writes garbage, answers out of turn) into a `DriverError`
whose message names the fault, quotes the offending line and shows the driver's last stderr
lines. A driver that was serving (its hello succeeded) and then exits, is killed, closes its
stdout or stops answering raises the subclass `DriverDied`: the backend died mid-run, with
whatever jobs it held, which the harness can tell apart from a driver that never started or
one that broke the protocol. A driver's ``{"error": ...}`` answer to push, reserve or delete is
not a fault: it is the backend's answer, raised as `BackendError` for the harness to judge.

The protocol's messages (encoding a request, checking an answer, a hello, a result) are in
`mqspec.adapters.driver_protocol`; starting, ending and reaping the child process and keeping
its stderr are in `mqspec.adapters.driver_process`. This module holds the exchange between them.

Rule: standard library plus ``mqspec.reference`` types and errors only; never the model or
the harness. One thread, no reader threads: every exchange is a ``selectors`` loop with a
deadline, so no call blocks forever, and every path that ends the driver reaps it. POSIX only
(non-blocking pipes, process groups).
"""

from __future__ import annotations

import os
import secrets
import selectors
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from mqspec.adapters.base import Task
from mqspec.adapters.driver_process import (
    READ_SIZE,
    StderrTail,
    end_process,
    start_process,
    wait_for,
    why_not_started,
)
from mqspec.adapters.driver_protocol import (
    DEADLINE_ENV,
    DEFAULT_DEADLINE,
    PROTOCOL,
    QUOTE_LENGTH,
    BackendError,
    DriverDied,
    ProtocolFault,
    capabilities_from_json,
    checked_hello,
    checked_result,
    encode_request,
    parse_answer,
    quote,
    request_deadline,
)
from mqspec.adapters.options import check_seconds
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE",
    "NAMESPACE_VARIABLE",
    "PROTOCOL",
    "BackendError",
    "DriverDied",
    "ProcessQueue",
    "capabilities_from_json",
    "from_url",
]

R = TypeVar("R")

_MAX_LINE = 64 * 1024 * 1024  # an answer line longer than this is a fault, not a buffer to grow
_EXIT_WAIT = 0.5  # seconds to wait for an exit status once stdout reached end of file


class ProcessQueue:
    """The adapter contract over one driver process (see the module docstring).

    Args:
        argv: the driver's command line (no shell).
        deadline: seconds the driver has to answer each request; default
            $MQSPEC_DRIVER_DEADLINE, else 10.
        cwd, env: passed to the child process.
        own_group: start the driver in a process group of its own (the default), so that its
            own children end with it; false starts it in this process's group, so that a kill
            of that group (a harness killing the host process that started this driver) ends
            the driver too.
        reservation_timeout: the reservation timeout T (seconds, > 0) to ask for: sent as
            hello's ``reservation_timeout``, at the start and after every `restart`. A driver
            that declares ``timeout_settable`` must adopt it and declare it back; one that does
            not declares its own T, which stands (`capabilities` shows it; whether the run can
            use it is the harness's decision). None: ask for nothing.

    Raises:
        UsageError: an empty command line, a bad deadline or a bad reservation timeout.
        DriverError: the driver did not start or its hello was wrong (a settable driver that
            declared another T than the one asked for included).
    """

    serves_one_call_at_a_time = True
    """One process answers one request at a time, in order: concurrent callers queue on a lock.
    The concurrency recorder reads this to hand ``now`` out in the order calls are served."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        deadline: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        reservation_timeout: float | None = None,
        own_group: bool = True,
    ) -> None:
        """Start the driver and exchange hello; see the class docstring."""
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError(f"argv must be a non-empty list of strings, got {argv!r}")
        if reservation_timeout is not None:
            check_seconds("reservation_timeout", reservation_timeout)
        self._timeout = reservation_timeout
        self._argv = list(argv)
        self._command = shlex.join(self._argv)
        self._deadline = request_deadline(deadline)
        self._cwd = cwd
        self._env = env
        self._own_group = own_group
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._failure: str | None = None
        self._died: DriverDied | None = None  # the fault that stopped it, when it was a death
        self._greeted = False  # hello succeeded on the running process: a fault is a death
        self._stderr = StderrTail()
        self.name = self._argv[0]
        with self._lock:
            try:
                self._caps = self._start()
            except BaseException:
                self._stop(graceful=False)  # e.g. Ctrl-C during hello: leave no process behind
                raise

    # -- the adapter contract ---------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What the driver declared in its hello."""
        return self._caps

    @property
    def pid(self) -> int | None:
        """The driver's process id while it runs, else None."""
        return None if self._proc is None else self._proc.pid

    @property
    def failure(self) -> str | None:
        """The message of the fault that stopped the driver, or None while it is healthy."""
        return self._failure

    @property
    def died(self) -> DriverDied | None:
        """The death that stopped a driver that was serving, or None (healthy, or stopped by
        another fault). `restart` brings such a driver back."""
        return self._died

    @property
    def reservation_timeout(self) -> float | None:
        """The reservation timeout asked for in hello, or None (see the class docstring)."""
        return self._timeout

    @property
    def stderr_tail(self) -> tuple[str, ...]:
        """The driver's last stderr lines (at most 20), oldest first."""
        return tuple(self._stderr.lines)

    def reset(self, now: float | None) -> None:
        """Empty the queue. Any fault, an error answer included, raises `DriverError`."""
        self._call("reset", now)

    def push(self, task: Task, now: float | None) -> Task:
        """Push ``task``; return the task the driver answered. An error answer raises
        `BackendError`, a fault `DriverError`."""
        return self._call("push", now, task=task)

    def reserve(self, now: float | None) -> Task | None:
        """Reserve; return the task, or None when the driver answered ``{"task": null}``."""
        return self._call("reserve", now)

    def delete(self, task: Task, now: float | None) -> None:
        """Delete ``task`` (as Reserve returned it, token included)."""
        self._call("delete", now, task=task)

    def tick(self, now: float | None) -> None:
        """Tell the driver that virtual time advanced to ``now``."""
        self._call("tick", now)

    def request(self, op: str, **fields: Any) -> Any:
        """Send a request of a protocol extension (an op this module does not know) and return
        its ``ok`` result as the driver sent it.

        Raises:
            BackendError: the driver answered with an error.
            DriverError: a fault (see the module docstring).
        """
        if op in ("hello", "reset", "push", "reserve", "delete", "tick"):
            raise UsageError(f"request() is for extension ops; use the method for {op!r}")
        return self._send(op, fields, checked=False)

    def close(self) -> None:
        """Close the driver's stdin, give it a second to exit, then SIGTERM, then SIGKILL.

        Idempotent; the process is always reaped. Never raises.
        """
        with self._lock:
            self._stop(graceful=True)

    def restart(self) -> None:
        """Crash the driver (SIGKILL), start it again and exchange hello.

        For crash-and-restart runs of durable drivers (MQ-DURABLE-1). Clears an earlier fault.
        The new hello asks for the same reservation timeout as the first.

        Raises:
            DriverError: the new process failed to start or declared other capabilities.
        """
        with self._lock:
            before = self._caps
            self._stop(graceful=False)
            self._failure = None
            self._died = None
            caps = self._start()
            if caps != before:
                self._fail(
                    f"declared other capabilities after a restart: {caps.to_json()} "
                    f"instead of {before.to_json()}"
                )

    def __enter__(self) -> ProcessQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProcessQueue({self._command!r}, pid={self.pid})"

    # -- the process --------------------------------------------------------------------------

    def _start(self) -> Capabilities:
        """Start the process and exchange hello. Called with the lock held."""
        self._greeted = False  # until hello succeeds, a fault is a failure to start
        self._stderr.clear()
        self._seq = 0  # the next request's seq
        self._lines = 0  # stdout lines read from this process
        self._out = bytearray()  # stdout bytes not yet consumed as a line
        try:
            self._proc, self._selector = start_process(
                self._argv, cwd=self._cwd, env=self._env, own_group=self._own_group
            )
        except OSError as err:
            why = why_not_started(self._argv[0], err)
            self._failure = f"exec driver {self._command!r} cannot start: {why}"
            raise DriverError(self._failure) from None

        hello: dict[str, Any] = {"protocol": PROTOCOL}
        if self._timeout is not None:
            hello["reservation_timeout"] = self._timeout
        ok, result = self._exchange("hello", hello)
        self.name, caps = self._checked(
            lambda: checked_hello(
                ok, result, default_name=self._argv[0], asked_timeout=self._timeout
            )
        )
        self._greeted = True
        return caps

    def _stop(self, *, graceful: bool) -> None:
        """End the process (politely, or at once with SIGKILL) and reap it. Never raises."""
        proc = self._proc
        if proc is None:
            return
        end_process(proc, self._selector, self._stderr, graceful=graceful)
        self._proc = None
        self._selector = None

    # -- one exchange ---------------------------------------------------------------------------

    def _call(self, op: str, now: float | None, **fields: Any) -> Any:
        """Send one request; return its result (the task, for push and reserve).

        An error answer to push, reserve, delete or an extension op raises `BackendError`;
        every fault, and an error answer to reset or tick, raises `DriverError`.
        """
        if now is not None and self._caps.virtual_time:
            fields["now"] = now
        return self._send(op, fields, checked=True)

    def _send(self, op: str, fields: dict[str, Any], *, checked: bool) -> Any:
        with self._lock:
            if self._failure is not None:
                again = f"{self._failure}\n(the driver failed earlier; it was stopped)"
                if self._died is not None:  # still a death, with the same particulars
                    raise DriverDied(
                        again,
                        op=self._died.op,
                        stderr_tail=self._died.stderr_tail,
                        exit_status=self._died.exit_status,
                    )
                raise DriverError(again)
            if self._proc is None:
                raise DriverError(f"exec driver {self._command!r} is closed")
            ok, result = self._exchange(op, fields)
            if not ok:
                if op in ("reset", "tick"):
                    self._fail(f"answered {op} with an error: {result!r}")
                raise BackendError(result)
            if not checked:
                return result
            return self._checked(lambda: checked_result(op, result))

    def _exchange(self, op: str, fields: dict[str, Any]) -> tuple[bool, Any]:
        """Write one request line, read one answer line; (True, ok) or (False, message)."""
        seq = self._seq
        self._seq += 1
        request = encode_request(seq, op, fields)
        self._check_quiet(seq, op)
        line = self._roundtrip(request, seq, op)
        return self._checked(lambda: parse_answer(line, seq, op, self._lines))

    def _check_quiet(self, seq: int, op: str) -> None:
        """Fail if the driver wrote to stdout since its last answer (a line nobody asked for)."""
        assert self._selector is not None and self._proc is not None
        if not self._out:
            for key, _ in self._selector.select(0):
                if key.fileobj is self._proc.stdout:
                    self._read_stdout(seq, op, before=True)
                else:
                    self._stderr.read(self._proc, self._selector)
        if self._out:
            extra = bytes(self._out).split(b"\n", 1)[0]
            if seq == 0:
                self._fail(f"wrote to stdout before hello: {quote(extra)}")
            self._fail(
                f"sent more than one line for request seq {seq - 1}: extra stdout line "
                f"{self._lines + 1} {quote(extra)} (stdout carries only answers; log to stderr)"
            )

    def _roundtrip(self, data: bytes, seq: int, op: str) -> bytes:
        """Write ``data`` and return the next stdout line, within the deadline."""
        proc, selector = self._proc, self._selector
        assert proc is not None and proc.stdin is not None and selector is not None
        deadline = time.monotonic() + self._deadline
        pending = self._write(memoryview(data), seq, op)
        if pending:
            selector.register(proc.stdin, selectors.EVENT_WRITE)
        try:
            while True:
                end = self._out.find(b"\n")
                if end >= 0:
                    line = bytes(self._out[:end])
                    del self._out[: end + 1]
                    self._lines += 1
                    if pending:
                        self._fail(
                            f"answered request seq {seq} ({op}) before reading all of it, "
                            f"with stdout line {self._lines} {quote(line)}"
                        )
                    return line
                if len(self._out) > _MAX_LINE:
                    self._fail(
                        f"wrote more than {_MAX_LINE} bytes without a newline for request "
                        f"seq {seq} ({op}): {quote(bytes(self._out[:QUOTE_LENGTH]))}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    partial = f"; unfinished line {quote(bytes(self._out))}" if self._out else ""
                    self._fail(
                        f"did not answer request seq {seq} ({op}) within "
                        f"{self._deadline:g} s{partial}",
                        died_on=op,
                    )
                for key, _ in selector.select(remaining):
                    if key.fileobj is proc.stdout:
                        self._read_stdout(seq, op)
                    elif key.fileobj is proc.stderr:
                        self._stderr.read(proc, self._selector)
                    elif pending:
                        pending = self._write(pending, seq, op)
                        if not pending:
                            selector.unregister(proc.stdin)
        finally:
            if pending and self._selector is not None:
                self._selector.unregister(proc.stdin)

    def _write(self, data: memoryview, seq: int, op: str) -> memoryview | None:
        """Write what the pipe takes now; return what is left (None when all is written)."""
        assert self._proc is not None and self._proc.stdin is not None
        try:
            while data:
                data = data[os.write(self._proc.stdin.fileno(), data) :]
        except BlockingIOError:
            return data
        except BrokenPipeError:
            # The driver closed its stdin or exited: keep reading stdout, whose end of file
            # reports the exit with its status.
            return None
        return None

    def _read_stdout(self, seq: int, op: str, *, before: bool = False) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            chunk = os.read(self._proc.stdout.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        if chunk:
            self._out += chunk
            return
        self._exited(seq, op, before)

    def _exited(self, seq: int, op: str, before: bool) -> NoReturn:
        """stdout reached end of file: report how the driver ended, with its status."""
        proc = self._proc
        assert proc is not None
        code: int | None = None
        if wait_for(proc, _EXIT_WAIT):
            code = proc.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        else:
            how = "closed its stdout"
        self._stderr.drain(proc, self._selector, _EXIT_WAIT)
        where = f"before answering request seq {seq} ({op})"
        if before and seq:
            where = f"after answering request seq {seq - 1}, before request seq {seq} ({op})"
        partial = f", leaving an unfinished line {quote(bytes(self._out))}" if self._out else ""
        self._fail(f"{how} {where}{partial}", died_on=op, exit_status=code)

    # -- faults ---------------------------------------------------------------------------------

    def _checked(self, check: Callable[[], R]) -> R:
        """``check()``'s value; a `ProtocolFault` it raises stops the driver (`_fail`)."""
        try:
            return check()
        except ProtocolFault as fault:
            problem = str(fault)
        self._fail(problem)

    def _fail(
        self, problem: str, *, died_on: str | None = None, exit_status: int | None = None
    ) -> NoReturn:
        """Stop the driver, remember the fault and raise `DriverError` naming it.

        ``died_on`` is the op of the request during which the process ended or went silent;
        after a successful hello that fault is raised as `DriverDied` (with ``exit_status``),
        before it as a plain `DriverError`: a driver that never served held no jobs to lose.
        """
        if self._proc is not None:
            self._stderr.drain(self._proc, self._selector, 0)
        self._stop(graceful=False)
        message = f"exec driver {self._command!r} {problem}\n{self._stderr.report()}"
        self._failure = message
        if died_on is not None and self._greeted:
            self._died = DriverDied(
                message, op=died_on, stderr_tail=self._stderr.lines, exit_status=exit_status
            )
            raise self._died
        raise DriverError(message)


NAMESPACE_VARIABLE = "MQSPEC_NAMESPACE"
"""The environment variable naming the queue a driver started by `from_url` serves."""


def from_url(
    url: str,
    *,
    reservation_timeout: float | None = None,
    namespace: str | None = None,
    own_group: bool = True,
) -> ProcessQueue:
    """Start the driver ``exec:<command line>`` names (split like a shell would, but no shell).

    Example: ``exec:node adapters/drivers/node/driver.js --tokens``. The whole text after
    ``exec:`` is the command line, so the URL has no options of its own; ``reservation_timeout``
    is passed to `ProcessQueue` (asked for in hello). The driver's environment is this
    process's with `NAMESPACE_VARIABLE` set to ``namespace``, or else to a name no other
    driver started here has. ``own_group`` is passed to `ProcessQueue`: the crash phase's host
    process, serving an ``exec:`` URL, starts its driver with its own namespace and in its own
    process group, so the driver keeps its queue across the host's restarts and a kill of the
    host kills the driver too (`mqspec.adapters.host`).

    Raises:
        UsageError: not an ``exec:`` URL, an empty or unsplittable command line, a bad
            $MQSPEC_DRIVER_DEADLINE or reservation timeout.
        DriverError: the driver did not start, or its hello was wrong.
    """
    scheme, sep, command = url.partition(":")
    if not sep or scheme.lower() != "exec":
        raise UsageError(f"not an exec: URL: {url!r}")
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise UsageError(f"exec: command line cannot be split ({err}): {command!r}") from None
    if not argv:
        raise UsageError(f"exec: URL names no command, e.g. 'exec:python3 driver.py': {url!r}")
    # Each driver the harness starts gets a name of its own, the same across its restarts: a
    # durable driver may keep each name's jobs apart, so parallel workers need not share them.
    name = namespace or f"mqspec-{secrets.token_hex(6)}"
    env = {**os.environ, NAMESPACE_VARIABLE: name}
    return ProcessQueue(
        argv, reservation_timeout=reservation_timeout, env=env, own_group=own_group
    )
