"""Replay a recorded transcript against a backend, step by step, through a fresh `Session`.

Responsibility: the backend author's fix loop. A report's ``divergence-<n>.jsonl`` is read back
(`Transcript.from_jsonl`) and every step is sent again with the model judging each answer, so
"still broken" and "fixed" are decided by the same rules as the run that found the bug. Like the
engine, `replay` yields event values (`ReplayedStep` per step, then `ReplayFinished`) and prints
nothing; the CLI renders them. Forbidden imports: click, pytest, hypothesis.

Reservation tokens (MQ-TOKEN-1, MQ-DELETE-5): a token is issued anew by every run, so a recorded
Delete cannot carry the recorded token. When the recording's capabilities declare
``reservation_tokens``, a Delete whose token was issued by a recorded Reserve is sent with the
token this run's matching Reserve returned (the same Reserve step when it handed out the same
id, else the newest token this run got for that id). A token no recorded Reserve issued (a
forged one) is sent unchanged, so a stale or forged Delete stays stale or forged.

Crashes (MQ-DURABLE-1): a ``restart`` step restarts the queue through `Session.restart`, which
needs an adapter with ``restart()`` (an ``exec:`` driver, e.g. ``exec:python -m
mqspec.adapters.host <url>``). An operation the recorded crash cut (an unknown outcome) is sent
again whole: where the cut fell cannot be replayed, only what followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.transcript import Step, Transcript
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.errors import UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.types import Failed, Finding, Ok, Outcome

__all__ = ["ReplayFinished", "ReplayedStep", "answer", "replay"]


def answer(op: str, outcome: Outcome | None) -> str:
    """A short one-line form of an outcome: ``ok 'a'``, ``null``, ``error '...'``, ``-``."""
    if outcome is None:
        return "-"
    if isinstance(outcome, Ok):
        value = outcome.value
        if value is None:
            return "null" if op in ("reserve", "drain") else "ok"
        if isinstance(value, dict) and "id" in value:
            return f"ok {value['id']!r}"
        return f"ok {value!r}"[:80]
    if isinstance(outcome, Failed):
        text = " ".join(outcome.message.split())
        return f"error {text!r}"[:100]
    return " ".join(f"unknown ({outcome.reason})".split())


@attrs.frozen
class ReplayedStep:
    """One step sent again: the recording, the call as sent, and what happened now.

    ``outcome`` is None for an advance; ``finding`` is the violation if this step diverged;
    ``warnings`` are SHOULD findings this step raised for the first time.
    """

    index: int
    recorded: Step
    call: str
    outcome: Outcome | None
    finding: Finding | None = None
    warnings: tuple[Finding, ...] = ()

    @property
    def verdict(self) -> str:
        """``ok``, ``ok, warning <clause>: ...`` or ``DIVERGES <clause> (<level>): ...``."""
        if self.finding is not None:
            f = self.finding
            return f"DIVERGES {f.clause.id} ({f.clause.level}): {f.message}"
        if self.warnings:
            return "ok, " + "; ".join(
                f"warning {w.clause.id} ({w.clause.level}): {w.message}" for w in self.warnings
            )
        return "ok"


@attrs.frozen
class ReplayFinished:
    """The end of a replay: the divergence that still occurs (None when fixed)."""

    steps: int
    divergence: Divergence | None
    warnings: tuple[Finding, ...] = ()

    @property
    def fixed(self) -> bool:
        """True when every step was allowed by the contract."""
        return self.divergence is None


class _Tokens:
    """Maps tokens issued in the recording to the tokens this run issued (see module doc)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.issued: set[Any] = set()
        self.mapped: dict[Any, Any] = {}
        self.latest: dict[Any, Any] = {}

    def reserved(self, recorded: Outcome | None, now: Outcome | None) -> None:
        old = _held(recorded)
        new = _held(now)
        if new is not None:
            self.latest[new[0]] = new[1]
        if old is not None:
            self.issued.add(old[1])
            if new is not None and new[0] == old[0]:
                self.mapped[old[1]] = new[1]

    def fix(self, task: Any) -> Any:
        if not self.enabled or not isinstance(task, dict) or TOKEN_KEY not in task:
            return task
        token = task[TOKEN_KEY]
        if token in self.mapped:
            return {**task, TOKEN_KEY: self.mapped[token]}
        if token in self.issued and task.get("id") in self.latest:
            return {**task, TOKEN_KEY: self.latest[task["id"]]}
        return task


def _held(outcome: Outcome | None) -> tuple[Any, Any] | None:
    """(id, token) of a task a Reserve returned, or None."""
    if not isinstance(outcome, Ok) or not isinstance(outcome.value, dict):
        return None
    value = outcome.value
    if TOKEN_KEY not in value or not isinstance(value.get("id"), str):
        return None
    try:
        hash(value[TOKEN_KEY])
    except TypeError:
        return None
    return value["id"], value[TOKEN_KEY]


def replay(
    transcript: Transcript,
    adapter: QueueAdapter,
    *,
    url: str,
    strict: bool = False,
) -> Iterator[ReplayedStep | ReplayFinished]:
    """Send ``transcript``'s steps to ``adapter`` through a fresh `Session`, judging each.

    Stops at the first step the contract does not allow. Yields a `ReplayedStep` per step
    sent, then `ReplayFinished`. The adapter must be open; the caller closes it.

    Args:
        transcript: the recording (``Transcript.from_jsonl``).
        adapter: the backend to replay against (the recorded one, or another).
        url: how ``adapter`` was opened, written into the new reproducer.
        strict: treat SHOULD findings as divergences too (as the recording run did, if strict).

    Raises:
        UsageError: the adapter cannot run in virtual time, the steps go back in time, or
            they restart a queue that cannot be restarted.
        DriverError: the backend could not be driven (failed to reset, tick or restart).
    """
    restarts = [i for i, step in enumerate(transcript.steps, start=1) if step.op == "restart"]
    if restarts and not (
        callable(getattr(adapter, "restart", None)) and adapter.capabilities.durable
    ):
        raise UsageError(
            f"step {restarts[0]} restarts the queue, and {url} cannot be restarted from here "
            "(it needs restart() and durable=True); replay with --url "
            f"'exec:python -m mqspec.adapters.host {url}'"
        )
    session = Session(adapter, strict=strict, url=url)
    tokens = _Tokens(transcript.capabilities.reservation_tokens)
    for index, step in enumerate(transcript.steps, start=1):
        if step.op == "advance":
            session.advance_to(step.now)
            yield ReplayedStep(index, step, f"s.advance_to({step.now!r})", None)
            continue
        if step.now > session.now:  # a hand-edited transcript may omit the advance
            session.advance_to(step.now)
        if step.op == "restart":
            session.restart()
            yield ReplayedStep(index, step, "s.restart()", None)
            continue
        task = tokens.fix(step.task) if step.op == "delete" else step.task
        call = Step(step.now, step.op, task).call()
        seen = len(session.warnings)
        try:
            outcome = _send(session, step.op, task)
        except ContractViolation as violation:
            sent = session.transcript.steps[-1].outcome
            yield ReplayedStep(index, step, call, sent, violation.finding)
            divergence = Divergence(violation.finding, "replay", session.transcript)
            yield ReplayFinished(index, divergence, tuple(session.warnings))
            return
        if step.op in ("reserve", "drain"):
            tokens.reserved(step.outcome, outcome)
        yield ReplayedStep(index, step, call, outcome, None, tuple(session.warnings[seen:]))
    yield ReplayFinished(len(transcript.steps), None, tuple(session.warnings))


def _send(session: Session, op: str, task: Any) -> Outcome:
    if op == "push":
        return session.push(task)
    if op == "delete":
        return session.delete(task)
    return session.reserve(final=op == "drain")
