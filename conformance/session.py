"""A `Session` drives one backend and the reference model side by side, for one test case.

Every operation goes to the adapter with the harness's virtual ``now``; its answer becomes an
outcome value (an exception is the backend's error answer) and is judged by the model. A MUST
finding raises `ContractViolation` carrying the clause and the minimal program so far; a SHOULD
finding is kept as a warning (raised too in strict mode). Every front end (the Hypothesis
machine, the scenarios, replay, a user's own test) goes through this one class.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.conformance.clock import VirtualClock
from mqspec.conformance.transcript import Step, Transcript
from mqspec.reference.clauses import clause
from mqspec.reference.errors import ContractViolation, DriverError, MqspecError, UsageError
from mqspec.reference.model import Model
from mqspec.reference.types import Failed, Finding, Ok, Outcome, Verdict

__all__ = ["Session"]

LOSS_DRAIN = clause("MQ-LOSS-1")


def _copy_json(value: Any) -> Any:
    """A deep copy, so neither side can mutate what the other holds."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return copy.deepcopy(value)


class Session:
    """One test case against one adapter: reset it, drive it, judge every answer.

    Args:
        adapter: the backend, already open. The session resets it (empties its namespace).
        strict: raise on SHOULD findings too.
        start: the virtual time the case starts at.
        url: how the adapter was opened, written into reproducers.
    """

    def __init__(
        self,
        adapter: QueueAdapter,
        *,
        strict: bool = False,
        start: float = 0.0,
        url: str = "memory://",
    ) -> None:
        self.adapter = adapter
        self.capabilities = adapter.capabilities
        if not self.capabilities.virtual_time:
            raise UsageError(
                "this adapter declares virtual_time=False; only the virtual-time profiles "
                "exist so far"
            )
        self.strict = strict
        self.clock = VirtualClock(start)
        self.model = Model(self.capabilities, start)
        self.transcript = Transcript(self.capabilities, url=url)
        self.warnings: list[Finding] = []
        # The first finding raised, if any: a case that already failed is not drained.
        self.violation: ContractViolation | None = None
        try:
            adapter.reset(start)
        except Exception as err:
            raise DriverError(f"the adapter failed to reset: {type(err).__name__}: {err}") from err

    @property
    def now(self) -> float:
        """The current virtual time."""
        return self.clock.now()

    # ---------------------------------------------------------------- time

    def advance_to(self, when: float) -> None:
        """Move virtual time to ``when`` and let the adapter's ticker run."""
        if when == self.now:
            return
        self.clock.advance_to(when)
        self.model.advance(when)
        self.transcript.add(Step(when, "advance"))
        try:
            self.adapter.tick(when)
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
        mine = _copy_json(task)
        outcome = self._call(lambda: self.adapter.push(_copy_json(task), self.now))
        if isinstance(outcome, Ok):
            outcome = Ok(_copy_json(outcome.value))
        self._judge(Step(self.now, "push", mine, outcome), self.model.push(mine, self.now, outcome))
        return outcome

    def reserve(self, *, final: bool = False) -> Outcome:
        """Reserve and judge the answer; ``final`` marks the drain (MQ-LOSS-1)."""
        outcome = self._call(lambda: self.adapter.reserve(self.now))
        if isinstance(outcome, Ok) and outcome.value is not None:
            outcome = Ok(_copy_json(outcome.value))
        step = Step(self.now, "drain" if final else "reserve", None, outcome)
        self._judge(step, self.model.reserve(self.now, outcome, final=final))
        return outcome

    def delete(self, task: Task) -> Outcome:
        """Delete ``task`` (as Reserve returned it, token included) and judge the answer."""
        mine = _copy_json(task)
        outcome = self._call(lambda: self.adapter.delete(_copy_json(task), self.now))
        if isinstance(outcome, Ok):
            outcome = Ok(None)
        self._judge(
            Step(self.now, "delete", mine, outcome), self.model.delete(mine, self.now, outcome)
        )
        return outcome

    def drain(self) -> list[Task]:
        """End the case: pass every ready time and deadline plus slack, then reserve until null.

        Every job still live must come out (MQ-LOSS-1); every answer is judged as usual.
        Returns the tasks that came out.
        """
        self.advance_to(max(self.model.quiet_time(), self.now) + 1)
        out: list[Task] = []
        _, most = self.model.live_count()
        for _ in range(most + 1):
            outcome = self.reserve(final=True)
            if isinstance(outcome, Ok) and outcome.value is None:
                return out
            if isinstance(outcome, Ok):
                out.append(outcome.value)
        # More jobs came out than can be live: the model flagged any unexpected one already,
        # so this is a job coming out twice within one drain.
        self._raise(
            Finding(
                LOSS_DRAIN,
                f"the drain did not end: {len(out)} jobs came out, at most {most} were live",
                expected="null after every live job came out once",
                observed=f"{len(out)} jobs",
            )
        )
        return out  # pragma: no cover - _raise always raises

    # ---------------------------------------------------------------- plumbing

    def _call(self, action: Any) -> Outcome:
        try:
            return Ok(action())
        except MqspecError:
            raise  # the adapter could not be driven at all (DriverError): not an answer
        except Exception as err:  # the backend's error answer, judged by the contract
            return Failed(f"{type(err).__name__}: {err}")

    def _judge(self, step: Step, verdict: Verdict) -> None:
        self.transcript.add(step)
        if verdict.violation is not None:
            self._raise(verdict.violation)
        for warning in verdict.warnings:
            if self.strict:
                self._raise(warning)
            if all(w.clause != warning.clause for w in self.warnings):
                self.warnings.append(warning)

    def _raise(self, finding: Finding) -> None:
        violation = ContractViolation(finding, program=self.transcript.listing())
        violation.transcript = self.transcript
        if self.violation is None:
            self.violation = violation
        raise violation
