"""Crash runs: kill the process that holds a durable queue, at random points, and judge it.

Responsibility: MQ-DURABLE-1 (a durable queue keeps every live job and pending reservation
across a restart, and brings back nothing acknowledged) and MQ-LOSS-2 (an operation cut by the
crash took full effect or none). `CrashingQueue` runs the adapter a URL names in a process of
its own (``python -m mqspec.adapters.host <url>``, over the ``exec:`` driver protocol) and can
kill it with SIGKILL between two operations (`CrashingQueue.restart`) or inside the next one
(`CrashingQueue.arm`, the host's ``arm_crash`` extension, spec/driver-protocol.md).
`CrashMachine` is the ordinary `QueueMachine` plus two rules that do that; the model judges
every answer after a restart, and the drain at the end of each case proves nothing was lost.
`restart_program` is the fixed case every crash phase runs first: three jobs pushed, one
reserved, a kill between operations, then a drain. A queue that forgets across a restart fails
it in a few seconds on either clock, whatever the random search goes on to draw.

Forbidden imports: click, pytest (front ends), the engine (it imports this module).
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from mqspec.adapters.base import OperationCut, Task
from mqspec.adapters.host import CRASH_MARK
from mqspec.adapters.process import NAMESPACE_VARIABLE, BackendError, ProcessQueue
from mqspec.conformance.core.machine_search import divergence_of
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.scenario_runs import run_case
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.statemachine import QueueMachine
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "RESTART_PROGRAM",
    "CrashMachine",
    "CrashingQueue",
    "crash_machine_for",
    "host_argv",
    "host_url",
    "restart_program",
]

MOST_LINES = 40
"""`CrashMachine` kills inside an operation before one of its first this many lines."""

MOST_WORLDS_TO_CRASH = 8
"""`CrashMachine` cuts no operation while more possible states than this explain the run.

Each cut operation multiplies them (it took full effect or none), and past the model's limit
the rest of the case goes unjudged; later answers narrow them again. Fault runs bound the same
count lower (`mqspec.conformance.faults.runs.MOST_WORLDS_TO_FAULT`): they arm faults by four
rules, crash runs kill inside an operation by one.
"""


def host_argv(url: str) -> list[str]:
    """The command line of a host process serving the adapter ``url`` names."""
    return [sys.executable, "-m", "mqspec.adapters.host", url]


def host_url(url: str) -> str:
    """The ``exec:`` URL of a host process serving ``url`` (replays restarts too)."""
    return "exec:" + shlex.join(host_argv(url))


class _Host(ProcessQueue):
    """The host process: the driver protocol plus its ``arm_crash`` extension."""

    def arm_crash(self, after: int) -> None:
        """Kill the process before the ``after``-th line of the next operation (0: disarm).

        Raises:
            DriverError: the host refused (it does not speak the extension) or failed.
        """
        # ProcessQueue has no public request method for protocol extensions: its one
        # exchange method answers None for an ``ok: null`` and raises BackendError for an error.
        try:
            self._call("arm_crash", None, after=after)
        except BackendError as err:
            raise DriverError(f"{self.name} refused arm_crash: {err}") from None


class CrashingQueue:
    """The adapter ``url`` names, in a host process this object can kill.

    Forwards every operation. When the process dies inside an armed operation, it starts the
    process again and raises `OperationCut` naming where the kill landed; the session then
    judges that operation as unknown and the queue as restarted.

    Args:
        url: the adapter's URL, exactly as the harness opened it (its ``queue=`` option
            included), so the host opens the same namespace.
        deadline: seconds the host has to answer one request (`ProcessQueue`'s default).
        env: the host's environment (default: this process's).

    Raises:
        DriverError: the host did not start (the URL cannot be opened there, for one).
    """

    def __init__(
        self, url: str, *, deadline: float | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.exec_url = host_url(url)
        # One queue name for the host's whole life, across its restarts: an exec: driver it
        # serves keys a durable store by it (spec/driver-protocol.md), and a new name at each
        # restart would open an empty store and look like a queue that forgot its jobs.
        host_env = {**os.environ, NAMESPACE_VARIABLE: f"mqspec-{secrets.token_hex(6)}"}
        if env is not None:
            host_env = {NAMESPACE_VARIABLE: host_env[NAMESPACE_VARIABLE], **env}
        self._host = _Host(host_argv(url), deadline=deadline, env=host_env)
        self._armed = False
        self.restarts = 0  # every kill: between operations and inside them
        self.cuts = 0  # kills that landed inside an operation

    @property
    def capabilities(self) -> Capabilities:
        """What the adapter declares (through the host's hello)."""
        return self._host.capabilities

    @property
    def pid(self) -> int | None:
        """The host's process id while it runs."""
        return self._host.pid

    @property
    def armed(self) -> bool:
        """Whether the next push, reserve or delete is set to be killed."""
        return self._armed

    def arm(self, after: int) -> None:
        """Kill the host before the ``after``-th line (>= 1) the adapter runs in the next
        push, reserve or delete; an operation that runs fewer lines completes normally.

        Raises:
            UsageError: ``after`` is not an integer >= 1.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 1:
            raise UsageError(f"arm needs an integer after >= 1, got {after!r}")
        self._host.arm_crash(after)
        self._armed = True

    def restart(self) -> None:
        """Kill the host (SIGKILL) between operations and start it again on the same data."""
        self._host.restart()
        self._armed = False
        self.restarts += 1

    # -- the adapter contract ---------------------------------------------------------------

    def reset(self, now: float | None) -> None:
        """Disarm (a new case starts clean) and empty the queue."""
        if self._armed:
            self._host.arm_crash(0)
            self._armed = False
        self._host.reset(now)

    def push(self, task: Task, now: float | None) -> Task:
        """Push; raises `OperationCut` when an armed kill lands inside it."""
        return self._operation("push", lambda: self._host.push(task, now))

    def reserve(self, now: float | None) -> Task | None:
        """Reserve; raises `OperationCut` when an armed kill lands inside it."""
        return self._operation("reserve", lambda: self._host.reserve(now))

    def delete(self, task: Task, now: float | None) -> None:
        """Delete; raises `OperationCut` when an armed kill lands inside it."""
        self._operation("delete", lambda: self._host.delete(task, now))

    def tick(self, now: float | None) -> None:
        """Forward the tick (never killed: only push, reserve and delete are)."""
        self._host.tick(now)

    def close(self) -> None:
        """End the host process (politely: close is not a crash)."""
        self._host.close()

    def __repr__(self) -> str:
        return f"CrashingQueue({self.url!r}, pid={self.pid})"

    # -- internals --------------------------------------------------------------------------

    def _operation(self, op: str, action: Callable[[], Any]) -> Any:
        armed, self._armed = self._armed, False  # the host disarms after one operation
        try:
            return action()
        except DriverError:
            where = self._crash_mark() if armed else None
            if where is None:
                raise  # not our kill: the host failed
        self._host.restart()
        self.restarts += 1
        self.cuts += 1
        raise OperationCut(f"killed inside {where}")

    def _crash_mark(self) -> str | None:
        """Where the host said it killed itself (``push, before sqlite.py:215``), if it did."""
        for line in reversed(self._host.stderr_tail):
            if line.startswith(CRASH_MARK):
                return line[len(CRASH_MARK) :].strip()
        return None


class CrashMachine(QueueMachine):
    """`QueueMachine` on a `CrashingQueue`, with crashes between and inside operations."""

    adapter: CrashingQueue

    @precondition(lambda self: self.session.capabilities.durable)
    @rule()
    def crash_between_operations(self) -> None:
        """SIGKILL and restart: every live job and pending reservation must survive."""
        self.session.restart()

    @precondition(
        lambda self: (
            self.session.capabilities.durable
            and not self.adapter.armed
            and self.session.model.worlds <= MOST_WORLDS_TO_CRASH
            and not self.session.model.inconclusive
        )
    )
    @rule(after=st.integers(1, MOST_LINES))
    def crash_inside_next_operation(self, after: int) -> None:
        """The next push, reserve or delete is killed before its ``after``-th line: it takes
        full effect or none (MQ-LOSS-2), and the queue comes back as it was (MQ-DURABLE-1)."""
        self.adapter.arm(after)


def crash_machine_for(queue: CrashingQueue, *, strict: bool = False) -> type[CrashMachine]:
    """A `CrashMachine` subclass bound to ``queue``; its transcripts name the host's URL."""
    return type(
        "CrashMachine",
        (CrashMachine,),
        {"adapter": queue, "strict": strict, "url": queue.exec_url, "findings": []},
    )


RESTART_PROGRAM = "crash: the fixed restart program"
"""The source `restart_program` names its divergence by."""


def restart_program(queue: CrashingQueue, *, strict: bool, realtime: bool) -> Divergence | None:
    """The fixed first crash case: push A and B (priority 1) and C (priority 2, delayed 1 s),
    reserve (A), kill the host between operations and restart it, then drain. The model
    judges every answer: a durable queue must still hold A's reservation, B, and C's delay,
    and serve C, then A in its old place, then B (MQ-DURABLE-1).

    Why fixed: the random crash search spends its budget on restarts and, on the real clock,
    on sleeps; on a queue reopened by ``exec:`` or ``py:`` it runs one case at a time, and a
    whole budget could pass without a case that pushes, kills and then reserves. This case
    always does, in about T + 1 s on the real clock. Returns its divergence, or None.

    On the real clock a call slower than the margin starts the program again on an empty
    queue, as a scenario case does (`run_case`).

    Raises:
        DriverError: the queue could not be driven or restarted (`SlowCall`: every attempt
            met a call slower than the margin).
    """
    outcome = run_case(queue, _push_reserve_restart_drain, queue.exec_url, strict, realtime)
    if isinstance(outcome, ContractViolation):
        return divergence_of(outcome, RESTART_PROGRAM)
    return None


def _push_reserve_restart_drain(session: Session) -> None:
    session.push({"id": "durable-a", "priority": 1})
    session.push({"id": "durable-b", "priority": 1})
    session.push({"id": "durable-c", "priority": 2, "delay": 1})
    session.reserve()
    session.restart()
    session.drain()
