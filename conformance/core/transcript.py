"""What a case did, step by step, and the three forms it is rendered in.

A `Transcript` is the list of operations a `Session` sent, each with its virtual time and the
outcome the backend gave. It renders as a standalone pytest file (the minimal program to paste
into a test), as JSON lines (``mqspec replay`` reads them back), and as a short text listing
for reports. One module renders for every front end, so the text is identical everywhere.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities, Failed, Ok, Outcome, Unknown

__all__ = ["Step", "Transcript", "outcome_from_json", "outcome_to_json"]

FORMAT_VERSION = 1

OPS = ("advance", "push", "reserve", "drain", "delete", "restart")


def outcome_to_json(outcome: Outcome | None) -> Any:
    """An outcome as JSON: ``{"ok": value}``, ``{"error": msg}`` or ``{"unknown": why}``."""
    if outcome is None:
        return None
    if isinstance(outcome, Ok):
        return {"ok": outcome.value}
    if isinstance(outcome, Failed):
        return {"error": outcome.message}
    return {"unknown": outcome.reason, "reported_failure": outcome.reported_failure}


def outcome_from_json(data: Any) -> Outcome | None:
    """Inverse of `outcome_to_json`."""
    if data is None:
        return None
    if "ok" in data:
        return Ok(data["ok"])
    if "error" in data:
        return Failed(str(data["error"]))
    if "unknown" in data:
        return Unknown(str(data["unknown"]), bool(data.get("reported_failure", False)))
    raise UsageError(f"not an outcome: {data!r}")


LISTED_CALL = 160
"""Characters of one call shown in a listing; the transcript file keeps the whole task."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters in all)"


def _short(outcome: Outcome | None, op: str = "") -> str:
    if outcome is None:
        return ""
    if isinstance(outcome, Ok):
        value = outcome.value
        if isinstance(value, dict) and "id" in value:
            return f"ok {value['id']!r}"
        if value is None:
            # A Reserve that found nothing answers null; a push or delete answers plain ok.
            return "null" if op in ("reserve", "drain") else "ok"
        return _cut(f"ok {value!r}", 80)
    if isinstance(outcome, Failed):
        return f"error {outcome.message!r}"[:100]
    return f"unknown ({outcome.reason})"


@attrs.frozen
class Step:
    """One operation: ``op`` at virtual time ``now``, its ``task`` (push/delete), its outcome.

    ``restart`` is the process holding a durable queue killed and started again (MQ-DURABLE-1):
    between operations, or right after one whose outcome is unknown because the kill cut it.
    """

    now: float
    op: str = attrs.field(validator=attrs.validators.in_(OPS))
    task: Any = None
    outcome: Outcome | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.now, "op": self.op}
        if self.op in ("push", "delete"):
            out["task"] = self.task
        if self.outcome is not None:
            out["backend"] = outcome_to_json(self.outcome)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        try:
            return cls(
                now=float(data["t"]),
                op=data["op"],
                task=data.get("task"),
                outcome=outcome_from_json(data.get("backend")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"not a transcript step: {data!r} ({err})") from None

    def call(self) -> str:
        """The step as a Python call on a session named ``s``."""
        if self.op == "advance":
            return f"s.advance_to({self.now!r})"
        if self.op in ("push", "delete"):
            return f"s.{self.op}({self.task!r})"
        if self.op == "drain":
            return "s.reserve(final=True)"
        if self.op == "restart":
            return "s.restart()"
        return "s.reserve()"


@attrs.define
class Transcript:
    """The steps of one case, with the capabilities they were judged under."""

    capabilities: Capabilities
    url: str = "memory://"
    steps: list[Step] = attrs.Factory(list)
    clock: str = "virtual"  # "virtual", or "real": times are seconds of the real clock

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def to_jsonl(self) -> str:
        """JSON lines: a header, then one step per line (``mqspec replay`` input)."""
        head = {
            "mqspec_transcript": FORMAT_VERSION,
            "url": self.url,
            "capabilities": self.capabilities.to_json(),
            "clock": self.clock,
        }
        lines = [json.dumps(head, ensure_ascii=False)]
        lines += [json.dumps(step.to_json(), ensure_ascii=False) for step in self.steps]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> Transcript:
        """Read a transcript written by `to_jsonl`.

        Raises:
            UsageError: the text is not a transcript, naming the line that is wrong.
        """
        # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085 and others, which
        # json.dumps(ensure_ascii=False) leaves unescaped inside strings. Blank lines are
        # skipped, but errors name the line's number in the text as given.
        lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
        if not lines:
            raise UsageError("empty transcript")
        first, header = lines[0]
        try:
            head = json.loads(header)
            caps = Capabilities(**head["capabilities"])
            url = str(head.get("url", "memory://"))
            clock = "real" if head.get("clock") == "real" else "virtual"
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"transcript line {first} is not a transcript header: {err}") from None
        steps = []
        for number, line in lines[1:]:
            try:
                steps.append(Step.from_json(json.loads(line)))
            except (ValueError, UsageError) as err:
                raise UsageError(f"transcript line {number}: {err}") from None
        return cls(capabilities=caps, url=url, steps=steps, clock=clock)

    def listing(self) -> str:
        """A short numbered listing: time, call, what the backend answered."""
        rows = []
        for i, step in enumerate(self.steps, start=1):
            if step.op in ("advance", "restart"):
                rows.append(f"{i:3}. t={step.now:<10g} {step.op}")
                continue
            call = _cut(step.call(), LISTED_CALL)
            rows.append(f"{i:3}. t={step.now:<10g} {call:<60} -> {_short(step.outcome, step.op)}")
        return "\n".join(rows)

    def to_pytest(self) -> str:
        """A standalone pytest file that replays the steps against ``self.url``."""
        caps = self.capabilities
        body = [
            '"""Minimal program found by mqspec. Run: pytest this_file.py"""',
            "from mqspec.adapters.registry import open_adapter",
            "from mqspec.conformance.core.session import Session",
            "",
            "",
            "def test_reproduce():",
            f"    adapter = open_adapter({self.url!r})",
            f"    # judged under: {caps.to_json()!r}",
            "    s = Session(adapter)",
            "    try:",
        ]
        for step in self.steps:
            # One line: an Unknown reason may hold line breaks, which would end the comment.
            said = " ".join(_short(step.outcome, step.op).splitlines())
            note = f"  # backend said: {said}" if step.outcome is not None else ""
            body.append(f"        {step.call()}{note}")
        body += ["    finally:", "        adapter.close()", ""]
        return "\n".join(body)
