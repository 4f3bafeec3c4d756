"""A `Session` drives one backend and the reference model side by side, for one test case.

Every operation goes to the adapter with the harness's virtual ``now``; its answer becomes an
outcome value (an exception is the backend's error answer) and is judged by the model. A MUST
finding raises `ContractViolation` carrying the clause and the minimal program so far; a SHOULD
finding is kept as a warning (raised too in strict mode). Every front end (the Hypothesis
machine, the scenarios, replay, a user's own test) goes through this one class.

Crashes (MQ-DURABLE-1): `Session.restart` kills the process holding a durable queue between two
operations; an adapter that was killed *inside* an operation raises `OperationCut` once it is
back, and that operation is judged as unknown (MQ-LOSS-2) before the model restarts too.

Faults (MQ-LOSS-2, MQ-LOSS-3): ``fault_outcome``, when set, is asked after an operation raised
whether a fault hit that operation; if so its error is no trustworthy answer and is judged as
the `Unknown` the hook returns (with ``reported_failure`` when the fault stopped the request
before the queue acted, MQ-LOSS-3). An error with no fault active stays `Failed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from mqspec.adapters.base import OperationCut, QueueAdapter, Task
from mqspec.adapters.process import DriverDied
from mqspec.conformance.core.calls import drain_answers, outcome_of
from mqspec.conformance.core.clock import RealClock, VirtualClock
from mqspec.conformance.core.passed_over import root_cause_of
from mqspec.conformance.core.progress import PROGRESS
from mqspec.conformance.core.transcript import Step, Transcript
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.clauses import clause
from mqspec.reference.errors import DriverError, MqspecError, UsageError
from mqspec.reference.jsonvalue import copy_json
from mqspec.reference.model import Model
from mqspec.reference.types import Finding, Ok, Outcome, Unknown, Verdict

__all__ = ["OperationCut", "Session", "violation_type"]

LOSS_DRAIN = clause("MQ-LOSS-1")


_SCRIBBLE = "__mqspec_scribble__"


def _scribble(value: Any) -> None:
    """Change every dict and list inside ``value`` in place, once the adapter has answered.

    A caller owns the task it pushed and the task Reserve returned, and may reuse or change
    them. An in-process queue that kept a reference instead of a copy would see the change in
    its stored job, and hand it out later with the mark in it (MQ-TASK-2). So the harness
    changes both, as a careless caller would, and the model flags the aliasing.
    """
    kind = type(value)
    if kind is dict:
        for item in list(value.values()):
            _scribble(item)
        value[_SCRIBBLE] = True
    elif kind is list:
        for item in list(value):
            _scribble(item)
        value.append(_SCRIBBLE)


def _revive(adapter: QueueAdapter) -> None:
    """Start again a backend that died in an earlier case, so the next case (a shrink of the
    program that killed it, say) can run; a driver stopped by any other fault stays stopped."""
    if getattr(adapter, "died", None) is not None:
        adapter.restart()  # type: ignore[attr-defined]


_VIOLATION_TYPES: dict[str, type[ContractViolation]] = {}


def violation_type(clause_id: str) -> type[ContractViolation]:
    """The `ContractViolation` subclass raised for ``clause_id``, one class per clause.

    Why: Hypothesis tells failures apart by exception type and place; with a class per clause
    it shrinks a minimal program for each clause broken, so one bug does not hide another.
    """
    kind = _VIOLATION_TYPES.get(clause_id)
    if kind is None:
        name = "ContractViolation_" + clause_id.replace("-", "_")
        kind = type(name, (ContractViolation,), {"__module__": __name__})
        _VIOLATION_TYPES[clause_id] = kind
    return kind


class SlowCall(DriverError):
    """Real time: a call took longer than the margin, so its answer cannot be judged fairly.

    Never a divergence. A scenario case and the crash phases' fixed restart program run again
    (`mqspec.conformance.core.scenario_runs.run_case`); the real-clock search drops the case
    (`Session.on_slow_call`); anything else ends the run.
    """


class Session:
    """One test case against one adapter: reset it, drive it, judge every answer.

    Args:
        adapter: the backend, already open. The session resets it (empties its namespace).
        strict: raise on SHOULD findings too.
        start: the virtual time the case starts at.
        url: how the adapter was opened, written into reproducers.
        realtime: run on the real clock: the adapter gets ``now=None`` and uses its own clock
            (forced for adapters that declare ``virtual_time=False``).
        margin: real time only: the most one operation may take. The model widens every
            slack window by it, and the session never starts an operation within ``margin``
            before a ready time or deadline, so the answer cannot straddle the boundary.
        fault_outcome: asked after an operation raised: the `Unknown` to judge it as when an
            injected fault hit it, else None (the faults profile,
            `mqspec.conformance.faults.runs`); also settable as an attribute.
    """

    def __init__(
        self,
        adapter: QueueAdapter,
        *,
        strict: bool = False,
        start: float = 0.0,
        url: str = "memory://",
        realtime: bool = False,
        margin: float = 0.25,
        fault_outcome: Callable[[], Unknown | None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.capabilities = adapter.capabilities
        self.realtime = realtime or not self.capabilities.virtual_time
        self.margin = margin
        self.strict = strict
        judged = self.capabilities
        if self.realtime:
            self.clock: VirtualClock | RealClock = RealClock(start)
            # The queue reads its own clock somewhere inside each call: widen every window.
            judged = attrs.evolve(judged, slack=judged.slack + margin)
        else:
            self.clock = VirtualClock(start)
        self.model = Model(judged, start)
        self.transcript = Transcript(
            self.capabilities, url=url, clock="real" if self.realtime else "virtual"
        )
        self.warnings: list[Finding] = []
        # The first finding raised, if any: a case that already failed is not drained.
        self.violation: ContractViolation | None = None
        self._cut = False  # the operation in flight was cut by a crash (OperationCut)
        self._death: DriverDied | None = None  # the backend died inside the operation in flight
        self.fault_outcome = fault_outcome
        # Real time: called with the reason when a call took longer than the margin, before
        # the session raises `SlowCall`; it may end the case its own way instead (the
        # real-clock search drops the case). `dropped` then holds the reason.
        self.on_slow_call: Callable[[str], None] | None = None
        self.dropped = ""
        self.dropped_span: tuple[float, float] | None = None  # the slow call, in monotonic time
        _revive(adapter)
        try:
            adapter.reset(self._adapter_now())
        except Exception as err:
            raise DriverError(f"the adapter failed to reset: {type(err).__name__}: {err}") from err

    @property
    def now(self) -> float:
        """The current virtual time."""
        return self.clock.now()

    # ---------------------------------------------------------------- time

    def advance_to(self, when: float) -> None:
        """Move time to ``when`` (sleeping, in real time) and let the adapter's ticker run."""
        if when == self.now or (self.realtime and when < self.now):
            return  # in real time, "when" may simply have passed already
        when = self.clock.advance_to(when)
        self.model.advance(when)
        self.transcript.add(Step(when, "advance"))
        try:
            self.adapter.tick(self._adapter_now())
        except DriverDied as death:
            self._death = death
            self._after_cut()
        except Exception as err:
            raise DriverError(
                f"the adapter's tick({when!r}) failed: {type(err).__name__}: {err}"
            ) from err

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds``."""
        self.advance_to(self.now + seconds)

    # ---------------------------------------------------------------- operations

    def push(self, task: Any) -> Outcome:
        """Push ``task`` and judge the answer. Returns the outcome."""
        mine = copy_json(task)
        sent = copy_json(task)
        at, outcome = self._timed("push", lambda now: self.adapter.push(sent, now))
        if isinstance(outcome, Ok):
            returned = outcome.value
            outcome = Ok(copy_json(returned))
            _scribble(returned)
        _scribble(sent)
        self._judge(Step(at, "push", mine, outcome), self.model.push(mine, at, outcome))
        self._after_cut()
        return outcome

    def reserve(self, *, final: bool = False) -> Outcome:
        """Reserve and judge the answer; ``final`` marks the drain (MQ-LOSS-1)."""
        at, outcome = self._timed("reserve", self.adapter.reserve)
        if isinstance(outcome, Ok) and outcome.value is not None:
            returned = outcome.value
            outcome = Ok(copy_json(returned))
            _scribble(returned)
        step = Step(at, "drain" if final else "reserve", None, outcome)
        self._judge(step, self.model.reserve(at, outcome, final=final))
        self._after_cut()
        return outcome

    def delete(self, task: Task) -> Outcome:
        """Delete ``task`` (as Reserve returned it, token included) and judge the answer."""
        mine = copy_json(task)
        at, outcome = self._timed("delete", lambda now: self.adapter.delete(copy_json(task), now))
        if isinstance(outcome, Ok):
            outcome = Ok(None)
        self._judge(Step(at, "delete", mine, outcome), self.model.delete(mine, at, outcome))
        self._after_cut()
        return outcome

    def restart(self) -> None:
        """Kill the process holding the queue and start it again, between two operations.

        A durable queue must come back unchanged (MQ-DURABLE-1); later answers are judged so.

        Raises:
            UsageError: the adapter has no ``restart()``, or does not declare ``durable``.
            DriverError: the restart failed.
        """
        restart = getattr(self.adapter, "restart", None)
        if not callable(restart):
            raise UsageError(f"{type(self.adapter).__name__} cannot be restarted (no restart())")
        if not self.capabilities.durable:
            raise UsageError("restart() needs a queue that declares durable=True")
        try:
            restart()
        except MqspecError:
            raise
        except Exception as err:
            raise DriverError(
                f"the adapter failed to restart: {type(err).__name__}: {err}"
            ) from err
        self._restarted()

    def drain(self) -> list[Task]:
        """End the case: pass every ready time and deadline plus slack, then reserve until null.

        Every job still live must come out (MQ-LOSS-1); every answer is judged as usual.
        Returns the tasks that came out.
        """
        self._wait_out_reservations()
        _, most = self.model.live_count()
        if self.model.inconclusive:
            # The model gave up tracking every possible state (too many open outcomes), so it
            # cannot bound the live jobs: no more can be live than were ever pushed.
            most = max(most, sum(step.op == "push" for step in self.transcript.steps))
        out: list[Task] = []
        # A reserve cut by a crash may have reserved a job: the drain waits that reservation
        # out too, so it still sees every live job (MQ-LOSS-1, MQ-DURABLE-1). An error answer
        # is judged like any other, and the drain goes on.
        answers = drain_answers(
            lambda: self.reserve(final=True),
            most,
            past_errors=True,
            after_cut=self._wait_out_reservations,
        )
        for outcome in answers:
            if isinstance(outcome, Ok):
                if outcome.value is None:
                    return out
                out.append(outcome.value)
        # More jobs came out than can be live: the model flagged any unexpected one already,
        # so this is a job coming out twice within one drain.
        self._raise(
            Finding(
                LOSS_DRAIN,
                f"the drain did not end: {len(out)} jobs came out, at most {most} were live",
                allowed="null after every live job came out once",
                observed=f"{len(out)} jobs",
            )
        )
        return out  # pragma: no cover - _raise always raises

    # ---------------------------------------------------------------- plumbing

    def _wait_out_reservations(self) -> None:
        """Move time past every ready time and deadline the model knows, plus slack."""
        self.advance_to(max(self.model.quiet_time(), self.now) + self._past)

    @property
    def _past(self) -> float:
        """How far past the quiet time a drain goes: a second of virtual time costs nothing,
        but on the real clock it is slept, so there a hair past it (the model's windows are
        already widened by the margin)."""
        return 0.01 if self.realtime else 1.0

    def _adapter_now(self) -> float | None:
        return None if self.realtime else self.now

    def _timed(self, op: str, action: Any) -> tuple[float, Outcome]:
        """Call ``action(now)``; return the time the model judges it at, and the outcome.

        In real time the call is judged at its start, after stepping past any boundary closer
        than ``margin``, and a call slower than ``margin`` aborts the run: its answer could
        straddle a boundary and be judged unfairly.
        """
        if not self.realtime:
            return self.now, self._call(lambda: action(self.now))
        self._step_past_boundaries()
        at = self.now
        self.model.advance(at)
        outcome = self._call(lambda: action(None))
        took = self.now - at
        # A call a crash cut (or a backend that died inside it) waited for the restart: its
        # answer is unknown anyway, and whatever it did happened before the kill, so its
        # length is no unfairness. Only answered calls must be quicker than the margin.
        restarted = self._cut or self._death is not None
        if took > self.margin and not restarted:
            why = (
                f"real-time profile: {op} took {took:.3f}s, more than the {self.margin}s margin; "
                "the answer cannot be judged fairly (raise the margin or check the backend)"
            )
            if self.on_slow_call is not None:
                self.dropped = why
                finished = time.monotonic()
                self.dropped_span = (finished - took, finished)
                self.on_slow_call(why)
            raise SlowCall(why)
        return at, outcome

    def _step_past_boundaries(self) -> None:
        now = self.now
        for event in self.model.next_events():
            if now < event <= now + self.margin:
                self.clock.advance_to(event + 0.001)
                now = self.now
            elif event > now + self.margin:
                break

    def _call(self, action: Any) -> Outcome:
        try:
            outcome, completed = outcome_of(action, self.fault_outcome)
        except DriverDied as death:
            # A backend that was serving died: judged once the step is recorded (_after_cut).
            self._death = death
            return Unknown(f"the backend died: {str(death).splitlines()[0]}")
        if not completed:
            # The adapter crashed inside the call and is back: the queue restarted, so the
            # model restarts too once the step is judged (_after_cut).
            self._cut = True
        return outcome

    def _after_cut(self) -> None:
        """After judging an operation cut by a crash: the queue restarted, so the model too.

        A backend that died by itself inside the operation is judged here: a durable queue is
        restarted and judged as after a crash (MQ-DURABLE-1); any other has lost what it held.
        """
        if self._death is not None:
            death, self._death = self._death, None
            restart = getattr(self.adapter, "restart", None)
            if self.capabilities.durable and callable(restart):
                restart()  # a DriverError here (it cannot come back) ends the run
                self._restarted()
                return
            self._raise(self._death_finding(death))
        if self._cut:
            self._cut = False
            self._restarted()

    def _death_finding(self, death: DriverDied) -> Finding:
        """The divergence of a backend that died: it lost every job it held (MQ-LOSS-1), or,
        holding none, left the operation in flight unanswered."""
        _, most = self.model.live_count()
        op = death.op
        status = death.exit_status
        how = (
            "it was still running and the harness gave up on it"
            if status is None
            else f"killed by signal {-status}"
            if status < 0
            else f"exit status {status}"
        )
        text = f"the backend died during {op} ({how})"
        if most or op == "push":
            held = f"{most} live job(s)" if most else "the job being pushed"
            clause_id, text = "MQ-LOSS-1", f"{text}, and {held} went with it"
        else:
            clause_id = {"reserve": "MQ-RESERVE-1", "delete": "MQ-DELETE-3"}.get(op, "MQ-LOSS-1")
            text += f", so the {op} was never answered"
        tail = "\n".join(death.stderr_tail[-10:]) or "(nothing on stderr)"
        return Finding(
            clause(clause_id),
            text,
            allowed="an answer; the queue keeps serving and loses no job",
            observed=f"{str(death).splitlines()[0]}\nstderr tail:\n{tail}",
        )

    def _restarted(self) -> None:
        self.model.restart(self.now)
        self.transcript.add(Step(self.now, "restart"))

    def _judge(self, step: Step, verdict: Verdict) -> None:
        self.transcript.add(step)
        if verdict.violation is not None:
            # An order broken may be a job lost: look for the job passed over.
            self._raise(root_cause_of(self, verdict.violation))
        for warning in verdict.warnings:
            if self.strict:
                self._raise(warning)
            if all(w.clause != warning.clause for w in self.warnings):
                self.warnings.append(warning)

    def _raise(self, finding: Finding) -> None:
        PROGRESS.divergence()
        violation = violation_type(finding.clause.id)(finding, program=self.transcript.listing())
        violation.transcript = self.transcript
        if self.violation is None:
            self.violation = violation
        raise violation
