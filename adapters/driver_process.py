"""The ``exec:`` adapter's child process: starting it, keeping its stderr, ending and reaping it.

Responsibility: the parts of `mqspec.adapters.process` that deal with the operating system and
not with the driver protocol: start a driver in a process group of its own with non-blocking
pipes and a selector on stdout and stderr; keep the last lines of its stderr for messages;
end it politely (end of input, then SIGTERM, then SIGKILL) or at once, and always reap it.

Rule: standard library only. POSIX only (non-blocking pipes, process groups).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Sequence

__all__ = [
    "STDERR_LINES",
    "StderrTail",
    "end_process",
    "start_process",
    "wait_for",
    "why_not_started",
]

STDERR_LINES = 20  # the driver's last stderr lines kept for messages and reports
READ_SIZE = 1 << 16  # bytes read from a pipe at a time
_STDERR_LINE_MAX = 500  # characters kept of one stderr line
_GRACE = 1.0  # seconds end_process waits after closing stdin, and again after SIGTERM


def start_process(
    argv: Sequence[str], *, cwd: str | None, env: dict[str, str] | None, own_group: bool = True
) -> tuple[subprocess.Popen[bytes], selectors.BaseSelector]:
    """Start ``argv`` with pipes on all three streams, non-blocking, and a selector watching
    stdout and stderr for reading; in a process group of its own unless ``own_group`` is false
    (then in this process's group, so a kill of this process's group ends it too).

    Raises:
        OSError: the program cannot be started (`why_not_started` words it).
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        cwd=cwd,
        env=env,
        # Its own process group, so a driver's children are ended with it.
        start_new_session=own_group,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    selector.register(proc.stderr, selectors.EVENT_READ)
    return proc, selector


def why_not_started(program: str, err: OSError) -> str:
    """Why ``program`` did not start, in a user's words."""
    return {
        FileNotFoundError: f"{program!r} not found",
        PermissionError: f"{program!r} is not executable (permission denied)",
    }.get(type(err), str(err))


class StderrTail:
    """The last `STDERR_LINES` lines a driver wrote to stderr (each cut to 500 characters)."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=STDERR_LINES)
        self._partial = bytearray()  # an unfinished line

    def clear(self) -> None:
        """Forget every line (a new process starts)."""
        self.lines.clear()
        self._partial = bytearray()

    def read(self, proc: subprocess.Popen[bytes], selector: selectors.BaseSelector | None) -> bool:
        """Read what stderr has and keep its last lines; False at end of file or when empty.

        At end of file the unfinished line is kept and stderr leaves the selector.
        """
        assert proc.stderr is not None
        try:
            chunk = os.read(proc.stderr.fileno(), READ_SIZE)
        except (BlockingIOError, ValueError, OSError):
            return False
        if not chunk:
            if self._partial:
                self._keep(bytes(self._partial))
                self._partial.clear()
            if selector is not None and proc.stderr in selector.get_map():
                selector.unregister(proc.stderr)
            return False
        self._partial += chunk
        *lines, rest = self._partial.split(b"\n")
        for line in lines:
            self._keep(line)
        self._partial = bytearray(rest[-READ_SIZE:])
        return True

    def drain(
        self,
        proc: subprocess.Popen[bytes],
        selector: selectors.BaseSelector | None,
        seconds: float,
    ) -> None:
        """Read stderr until end of file, or for at most ``seconds`` (at least one read)."""
        if selector is None or proc.stderr is None:
            return
        deadline = time.monotonic() + seconds
        while proc.stderr in selector.get_map():
            ready = selector.select(max(0.0, deadline - time.monotonic()))
            if not any(key.fileobj is proc.stderr for key, _ in ready):
                return
            if not self.read(proc, selector) or time.monotonic() >= deadline:
                return

    def report(self) -> str:
        """The lines for a message: ``driver stderr (last N lines):`` and each line indented."""
        if not self.lines:
            return "driver stderr: (nothing)"
        lines = "\n".join(f"  | {line}" for line in self.lines)
        return f"driver stderr (last {len(self.lines)} lines):\n{lines}"

    def _keep(self, line: bytes | bytearray) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        if len(text) > _STDERR_LINE_MAX:
            text = text[:_STDERR_LINE_MAX] + "..."
        self.lines.append(text)


def end_process(
    proc: subprocess.Popen[bytes],
    selector: selectors.BaseSelector | None,
    stderr: StderrTail,
    *,
    graceful: bool,
) -> None:
    """End the process (politely, or at once with SIGKILL), reap it, keep the rest of its
    stderr, and close the selector and the pipes. Never raises.

    Politely: close its stdin (a driver exits at end of input) and wait `_GRACE` seconds,
    reading stderr meanwhile; then SIGTERM and `_GRACE` more; then SIGKILL.
    """
    assert proc.stdin is not None
    with contextlib.suppress(OSError):
        proc.stdin.close()  # end of input: a driver exits on it
    if graceful:
        limit = time.monotonic() + _GRACE
        stderr.drain(proc, selector, _GRACE)
        if not wait_for(proc, max(0.0, limit - time.monotonic())):
            _signal(proc, signal.SIGTERM)
            if not wait_for(proc, _GRACE):
                _signal(proc, signal.SIGKILL)
    else:
        _signal(proc, signal.SIGKILL)
    proc.wait()  # reap: no zombie, whatever happened before
    stderr.drain(proc, selector, 0)
    if selector is not None:
        selector.close()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def wait_for(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to exit; whether it did."""
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The process is not reaped yet (we reap only after signalling), so its pid, which is
    # also its group's id, cannot have been reused.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        # No group of that id: a driver started in its parent's group (``own_group`` false).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, sig)
    except PermissionError:
        pass
