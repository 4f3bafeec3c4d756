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

Rule: standard library plus ``mqspec.reference`` types and errors only; never the model or
the harness. One thread, no reader threads: every exchange is a ``selectors`` loop with a
deadline, so no call blocks forever, and every path that ends the driver reaps it. POSIX only
(non-blocking pipes, process groups).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, NoReturn

from mqspec.adapters.base import Task
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE",
    "PROTOCOL",
    "BackendError",
    "DriverDied",
    "ProcessQueue",
    "capabilities_from_json",
    "from_url",
]

PROTOCOL = 1
"""The protocol version this adapter speaks (the ``protocol`` of hello)."""

DEFAULT_DEADLINE = 10.0
"""Seconds a driver has to answer one request (hello included)."""

DEADLINE_ENV = "MQSPEC_DRIVER_DEADLINE"
"""Environment variable that overrides `DEFAULT_DEADLINE` (seconds, > 0)."""

STDERR_LINES = 20  # the driver's last stderr lines kept for messages and reports
_QUOTE = 200  # characters of an offending line quoted in a message
_STDERR_LINE_MAX = 500  # characters kept of one stderr line
_MAX_LINE = 64 * 1024 * 1024  # an answer line longer than this is a fault, not a buffer to grow
_READ = 1 << 16
_SAFE_INT = 2**53
_GRACE = 1.0  # seconds close() waits after closing stdin, and again after SIGTERM
_EXIT_WAIT = 0.5  # seconds to wait for an exit status once stdout reached end of file

_CAPABILITY_KEYS = tuple(Capabilities().to_json())
_BOOLEAN_KEYS = ("timeout_settable", "virtual_time", "durable", "reservation_tokens")


class BackendError(RuntimeError):
    """The driver answered push, reserve or delete with ``{"error": {"message": ...}}``.

    Not a fault: it is the backend's answer (like fn's Go ``error``), judged by the contract.
    """


class DriverDied(DriverError):
    """The driver died after a successful hello: it exited, was killed by a signal, closed
    its stdout, or did not answer a request within the deadline.

    A plain `DriverError` means the driver could not be driven at all (it did not start, its
    hello failed, it broke the protocol); this subclass means a backend that was serving went
    away mid-run, taking whatever it held with it. The message is the same as a plain
    `DriverError` would carry for that fault.

    Attributes:
        op: the op of the request the driver died on (the one it did not answer).
        stderr_tail: the driver's last stderr lines (at most `STDERR_LINES`), oldest first.
        exit_status: the driver's exit code, negative for the signal that killed it (-9 for
            SIGKILL), or None when it was still running when the harness gave up on it (it
            closed its stdout or missed the deadline; the harness then killed it).
    """

    def __init__(
        self, message: str, *, op: str, stderr_tail: Sequence[str], exit_status: int | None
    ) -> None:
        """Carry ``message`` and the three attributes; see the class docstring."""
        super().__init__(message)
        self.op = op
        self.stderr_tail = list(stderr_tail)
        self.exit_status = exit_status


def capabilities_from_json(raw: Any) -> Capabilities:
    """The `Capabilities` a hello declares; missing keys take the defaults, unknown ones are
    ignored.

    Raises:
        ValueError: ``raw`` is not an object, or a known key has a wrong type or value; the
            message names the key and repr's the value.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"capabilities must be a JSON object, got {raw!r}")
    fields: dict[str, Any] = {}
    for key in _CAPABILITY_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if key in _BOOLEAN_KEYS and not isinstance(value, bool):
            raise ValueError(f"capability {key} must be true or false, got {value!r}")
        if key == "duplicate_ids" and value not in ("reject", "distinct"):
            raise ValueError(
                f'capability duplicate_ids must be "reject" or "distinct", got {value!r}'
            )
        if (
            key == "max_jobs"
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        ):
            raise ValueError(f"capability max_jobs must be null or an integer >= 1, got {value!r}")
        fields[key] = value
    try:
        return Capabilities(**fields)
    except (TypeError, ValueError) as err:
        raise ValueError(f"capability {err}") from None


def _deadline(value: float | None) -> float:
    """The per-request deadline: ``value``, else $MQSPEC_DRIVER_DEADLINE, else the default."""
    source = "deadline"
    if value is None:
        text = os.environ.get(DEADLINE_ENV, "").strip()
        if not text:
            return DEFAULT_DEADLINE
        source = DEADLINE_ENV
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{DEADLINE_ENV}={text!r}: expected seconds") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{source} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{source} must be finite and > 0, got {value!r}")
    return float(value)


def _quote(line: bytes | str) -> str:
    """repr of an offending line, cut to a readable length."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if len(text) > _QUOTE:
        return f"{text[:_QUOTE]!r}... ({len(text)} characters)"
    return repr(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int | float:
    """An integer literal; beyond +-2^53 it is read as a double, as JavaScript reads it.

    Such a literal can only be a large float the driver printed without a fraction (JavaScript
    prints 7.125046441720807e16 as 71250464417208070): the harness never sends integers beyond
    +-2^53 (the portable range). Read exactly, it would differ from the float that was sent.
    """
    value = int(text)
    return value if -_SAFE_INT <= value <= _SAFE_INT else float(text)


class ProcessQueue:
    """The adapter contract over one driver process (see the module docstring).

    Args:
        argv: the driver's command line (no shell).
        deadline: seconds the driver has to answer each request; default
            $MQSPEC_DRIVER_DEADLINE, else 10.
        cwd, env: passed to the child process.
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
    ) -> None:
        """Start the driver and exchange hello; see the class docstring."""
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError(f"argv must be a non-empty list of strings, got {argv!r}")
        if reservation_timeout is not None and (
            isinstance(reservation_timeout, bool)
            or not isinstance(reservation_timeout, (int, float))
            or not math.isfinite(reservation_timeout)
            or reservation_timeout <= 0
        ):
            raise UsageError(
                f"reservation_timeout must be a finite number of seconds > 0, "
                f"got {reservation_timeout!r}"
            )
        self._timeout = reservation_timeout
        self._argv = list(argv)
        self._command = shlex.join(self._argv)
        self._deadline = _deadline(deadline)
        self._cwd = cwd
        self._env = env
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._failure: str | None = None
        self._died: DriverDied | None = None  # the fault that stopped it, when it was a death
        self._greeted = False  # hello succeeded on the running process: a fault is a death
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
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
        """The driver's last stderr lines (at most `STDERR_LINES`), oldest first."""
        return tuple(self._stderr)

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
        """Close the driver's stdin, give it `_GRACE` s to exit, then SIGTERM, then SIGKILL.

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
        self._err = bytearray()  # an unfinished stderr line
        try:
            proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=self._cwd,
                env=self._env,
                # Its own process group, so a driver's children are ended with it.
                start_new_session=True,
            )
        except OSError as err:
            why = {
                FileNotFoundError: f"{self._argv[0]!r} not found",
                PermissionError: f"{self._argv[0]!r} is not executable (permission denied)",
            }.get(type(err), str(err))
            self._failure = f"exec driver {self._command!r} cannot start: {why}"
            raise DriverError(self._failure) from None
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(proc.stdout, selectors.EVENT_READ)
        self._selector.register(proc.stderr, selectors.EVENT_READ)

        hello: dict[str, Any] = {"protocol": PROTOCOL}
        if self._timeout is not None:
            hello["reservation_timeout"] = self._timeout
        ok, result = self._exchange("hello", hello)
        if not ok:
            self._fail(f"refused hello: {result!r}")
        if not isinstance(result, dict):
            self._fail(f"answered hello with ok {_quote(json.dumps(result))}; expected an object")
        version = result.get("protocol")
        if isinstance(version, bool) or version != PROTOCOL:
            self._fail(f"speaks protocol {version!r}; mqspec speaks protocol {PROTOCOL}")
        name = result.get("name", self._argv[0])
        if not isinstance(name, str):
            self._fail(f"hello name must be a string, got {name!r}")
        self.name = name
        try:
            caps = capabilities_from_json(result.get("capabilities", {}))
        except ValueError as err:
            self._fail(f"hello declared bad capabilities: {err}")
        if (
            self._timeout is not None
            and caps.timeout_settable
            and caps.reservation_timeout != self._timeout
        ):
            # A settable driver that ignored the request would be judged against a T the
            # harness did not choose; a driver that cannot set T says so (timeout_settable
            # false) and keeps its own.
            self._fail(
                f"declared timeout_settable but reservation_timeout "
                f"{caps.reservation_timeout:g} after hello asked for {self._timeout:g}"
            )
        self._greeted = True
        return caps

    def _stop(self, *, graceful: bool) -> None:
        """End the process (politely, or at once with SIGKILL) and reap it. Never raises."""
        proc = self._proc
        if proc is None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()  # end of input: a driver exits on it
        if graceful:
            limit = time.monotonic() + _GRACE
            self._drain_stderr(proc, _GRACE)
            if not self._wait(proc, max(0.0, limit - time.monotonic())):
                self._signal(proc, signal.SIGTERM)
                if not self._wait(proc, _GRACE):
                    self._signal(proc, signal.SIGKILL)
        else:
            self._signal(proc, signal.SIGKILL)
        proc.wait()  # reap: no zombie, whatever happened before
        self._drain_stderr(proc, 0)
        self._proc = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    @staticmethod
    def _wait(proc: subprocess.Popen[bytes], seconds: float) -> bool:
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        # The process is not reaped yet (we reap only after signalling), so its pid, which is
        # also its group's id, cannot have been reused.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

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
            if op in ("push", "reserve"):
                if not isinstance(result, dict) or "task" not in result:
                    shown = _quote(json.dumps(result))
                    self._fail(f'answered {op} with ok {shown}; expected {{"task": ...}}')
                return result["task"]
            if result is not None:
                self._fail(f"answered {op} with ok {_quote(json.dumps(result))}; expected null")
            return None

    def _exchange(self, op: str, fields: dict[str, Any]) -> tuple[bool, Any]:
        """Write one request line, read one answer line; (True, ok) or (False, message)."""
        seq = self._seq
        self._seq += 1
        try:
            text = json.dumps(
                {"seq": seq, "op": op, **fields}, allow_nan=False, separators=(",", ":")
            )
        except (TypeError, ValueError) as err:
            raise UsageError(f"{op} request is not JSON: {err}") from None
        self._check_quiet(seq, op)
        line = self._roundtrip(text.encode("ascii") + b"\n", seq, op)
        return self._parse(line, seq, op)

    def _check_quiet(self, seq: int, op: str) -> None:
        """Fail if the driver wrote to stdout since its last answer (a line nobody asked for)."""
        assert self._selector is not None and self._proc is not None
        if not self._out:
            for key, _ in self._selector.select(0):
                if key.fileobj is self._proc.stdout:
                    self._read_stdout(seq, op, before=True)
                else:
                    self._read_stderr(self._proc)
        if self._out:
            extra = bytes(self._out).split(b"\n", 1)[0]
            if seq == 0:
                self._fail(f"wrote to stdout before hello: {_quote(extra)}")
            self._fail(
                f"sent more than one line for request seq {seq - 1}: extra stdout line "
                f"{self._lines + 1} {_quote(extra)} (stdout carries only answers; log to stderr)"
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
                            f"with stdout line {self._lines} {_quote(line)}"
                        )
                    return line
                if len(self._out) > _MAX_LINE:
                    self._fail(
                        f"wrote more than {_MAX_LINE} bytes without a newline for request "
                        f"seq {seq} ({op}): {_quote(bytes(self._out[:_QUOTE]))}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    partial = f"; unfinished line {_quote(bytes(self._out))}" if self._out else ""
                    self._fail(
                        f"did not answer request seq {seq} ({op}) within "
                        f"{self._deadline:g} s{partial}",
                        died_on=op,
                    )
                for key, _ in selector.select(remaining):
                    if key.fileobj is proc.stdout:
                        self._read_stdout(seq, op)
                    elif key.fileobj is proc.stderr:
                        self._read_stderr(proc)
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
            chunk = os.read(self._proc.stdout.fileno(), _READ)
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
        if self._wait(proc, _EXIT_WAIT):
            code = proc.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        else:
            how = "closed its stdout"
        self._drain_stderr(proc, _EXIT_WAIT)
        where = f"before answering request seq {seq} ({op})"
        if before and seq:
            where = f"after answering request seq {seq - 1}, before request seq {seq} ({op})"
        partial = f", leaving an unfinished line {_quote(bytes(self._out))}" if self._out else ""
        self._fail(f"{how} {where}{partial}", died_on=op, exit_status=code)

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> bool:
        """Read what stderr has and keep its last lines; False at end of file or when empty."""
        assert proc.stderr is not None
        try:
            chunk = os.read(proc.stderr.fileno(), _READ)
        except (BlockingIOError, ValueError, OSError):
            return False
        if not chunk:
            if self._err:
                self._keep_stderr(bytes(self._err))
                self._err.clear()
            if self._selector is not None and proc.stderr in self._selector.get_map():
                self._selector.unregister(proc.stderr)
            return False
        self._err += chunk
        *lines, rest = self._err.split(b"\n")
        for line in lines:
            self._keep_stderr(line)
        self._err = bytearray(rest[-_READ:])
        return True

    def _keep_stderr(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        if len(text) > _STDERR_LINE_MAX:
            text = text[:_STDERR_LINE_MAX] + "..."
        self._stderr.append(text)

    def _drain_stderr(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        """Read stderr until end of file, or for at most ``seconds`` (at least one read)."""
        selector = self._selector
        if selector is None or proc.stderr is None:
            return
        deadline = time.monotonic() + seconds
        while proc.stderr in selector.get_map():
            ready = selector.select(max(0.0, deadline - time.monotonic()))
            if not any(key.fileobj is proc.stderr for key, _ in ready):
                return
            if not self._read_stderr(proc) or time.monotonic() >= deadline:
                return

    # -- parsing --------------------------------------------------------------------------------

    def _parse(self, line: bytes, seq: int, op: str) -> tuple[bool, Any]:
        where = f"stdout line {self._lines} (the answer to request seq {seq}, {op})"
        try:
            answer = json.loads(
                line.decode("utf-8"), parse_int=_parse_int, parse_constant=_reject_constant
            )
        except UnicodeDecodeError:
            self._fail(f"{where} is not UTF-8: {_quote(line)}")
        except (ValueError, RecursionError):
            self._fail(
                f"{where} is not JSON: {_quote(line)} (stdout carries only answers; log to stderr)"
            )
        if not isinstance(answer, dict):
            self._fail(f"{where} is not a JSON object: {_quote(line)}")
        got = answer.get("seq")
        if isinstance(got, bool) or got != seq:
            if isinstance(got, int) and not isinstance(got, bool) and got < seq:
                self._fail(
                    f"sent more than one line for request seq {got}: stdout line "
                    f"{self._lines} {_quote(line)} came while waiting for the answer to seq "
                    f"{seq} ({op})"
                )
            if "seq" not in answer:
                self._fail(f"{where} has no seq: {_quote(line)}")
            self._fail(f"answered request seq {seq} ({op}) with seq {got!r}: {_quote(line)}")
        if ("ok" in answer) == ("error" in answer):
            self._fail(f'{where} must have exactly one of "ok" and "error": {_quote(line)}')
        if "ok" in answer:
            return True, answer["ok"]
        error = answer["error"]
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            self._fail(f'{where} has an error that is not {{"message": <text>}}: {_quote(line)}')
        return False, error["message"]

    # -- faults ---------------------------------------------------------------------------------

    def _fail(
        self, problem: str, *, died_on: str | None = None, exit_status: int | None = None
    ) -> NoReturn:
        """Stop the driver, remember the fault and raise `DriverError` naming it.

        ``died_on`` is the op of the request during which the process ended or went silent;
        after a successful hello that fault is raised as `DriverDied` (with ``exit_status``),
        before it as a plain `DriverError`: a driver that never served held no jobs to lose.
        """
        if self._proc is not None:
            self._drain_stderr(self._proc, 0)
        self._stop(graceful=False)
        message = f"exec driver {self._command!r} {problem}\n{self._stderr_report()}"
        self._failure = message
        if died_on is not None and self._greeted:
            self._died = DriverDied(
                message, op=died_on, stderr_tail=self._stderr, exit_status=exit_status
            )
            raise self._died
        raise DriverError(message)

    def _stderr_report(self) -> str:
        if not self._stderr:
            return "driver stderr: (nothing)"
        lines = "\n".join(f"  | {line}" for line in self._stderr)
        return f"driver stderr (last {len(self._stderr)} lines):\n{lines}"


def from_url(url: str, *, reservation_timeout: float | None = None) -> ProcessQueue:
    """Start the driver ``exec:<command line>`` names (split like a shell would, but no shell).

    Example: ``exec:node adapters/drivers/node/driver.js --tokens``. The whole text after
    ``exec:`` is the command line, so the URL has no options of its own; ``reservation_timeout``
    is passed to `ProcessQueue` (asked for in hello).

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
    return ProcessQueue(argv, reservation_timeout=reservation_timeout)
