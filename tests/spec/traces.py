"""Parse the worked traces in ``spec/contract.md`` and replay them through the reference model.

A trace is a fenced block tagged ``trace`` under a clause heading (``### MQ-ORDER-1 (MUST): ...``).
Its first line declares capabilities; every other line is one operation and what the queue
answered, optionally marked ``✗ <CLAUSE-ID>`` when the contract forbids that answer::

    caps: timeout=30 slack=0 tokens=no duplicates=distinct capacity=none
    t=0   push A p=1            -> ok
    t=2   reserve               -> B      ✗ MQ-READY-2    # a comment

The grammar is described in ``spec/contract.md`` ("Reading the traces"). A malformed trace raises
`TraceError` naming the file line; a replay that disagrees with the trace raises `TraceMismatch`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from mqspec.reference import CATALOGUE, Capabilities, Failed, Model, Ok, Unknown, Verdict

__all__ = [
    "CONTRACT",
    "Section",
    "Step",
    "Trace",
    "TraceError",
    "TraceMismatch",
    "parse_contract",
    "parse_trace",
    "run_trace",
]

CONTRACT = Path(__file__).resolve().parents[2] / "spec" / "contract.md"
"""The normative contract whose traces the tests replay."""

CLAUSE_HEADING = re.compile(r"^###\s+(MQ-[A-Z]+-\d+)\s+\((MUST|SHOULD|MAY)\):\s+(.+?)\s*$")
ANY_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\S*)\s*$")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
JSON_START = re.compile(r'[{\["\d]|-\d|(?:true|false|null)\b')

CAPS_KEYS = {"timeout", "slack", "tokens", "duplicates", "capacity", "durable"}
PUSH_RESULTS = {"ok", "error", "unknown", "error-unknown"}
RESERVE_RESULTS = {"null", "error", "unknown"}
DELETE_RESULTS = {"ok", "error", "unknown"}


class TraceError(ValueError):
    """A trace is malformed; the message names the contract line."""


class TraceMismatch(AssertionError):
    """The model's verdict on a trace line differs from what the trace says."""


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Result:
    """One allowed (or forbidden) answer: a keyword, an id, or a literal JSON value."""

    kind: str  # "word", "id" or "json"
    value: Any


@dataclass(frozen=True)
class Step:
    """One trace line: an operation at time ``t`` and the answers it is checked against."""

    line: int
    text: str
    t: float
    op: str  # push, reserve, drain, delete
    ident: str | None = None
    literal: Any = None  # push {json}: the literal value pushed
    has_literal: bool = False
    priority: Any = 1
    delay: Any = None
    extra: dict[str, Any] | None = None
    which: int | None = None  # delete ID#k: the k-th Reserve that returned ID
    results: tuple[Result, ...] = ()
    forbidden: str | None = None  # the clause ID after ✗

    @property
    def alternatives(self) -> bool:
        return len(self.results) > 1


@dataclass
class Trace:
    """One ```trace block: its capabilities and steps, and where it sits in the contract."""

    section: str
    index: int
    line: int
    caps: Capabilities
    steps: list[Step] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.section}-{self.index}"

    @property
    def has_alternatives(self) -> bool:
        return any(step.alternatives for step in self.steps)

    def forbids(self, clause_id: str) -> bool:
        return any(step.forbidden == clause_id for step in self.steps)


@dataclass
class Section:
    """A clause section of the contract: its heading and the traces under it."""

    clause_id: str
    level: str
    title: str
    line: int
    traces: list[Trace] = field(default_factory=list)


# ---------------------------------------------------------------------------- parsing


def parse_contract(text: str) -> list[Section]:
    """Return every clause section of ``text`` (a contract in Markdown) with its traces.

    Raises:
        TraceError: a trace is malformed, sits outside a clause section, or a fence is unclosed.
    """
    sections: list[Section] = []
    current: Section | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        fence = FENCE.match(raw)
        if fence:
            marker, tag = fence.groups()
            start = i
            i += 1
            body: list[tuple[int, str]] = []
            while i < len(lines) and not lines[i].startswith(marker[0] * len(marker)):
                body.append((i + 1, lines[i]))
                i += 1
            if i == len(lines):
                raise TraceError(f"contract.md:{start + 1}: fenced block is never closed")
            if tag == "trace":
                if current is None:
                    raise TraceError(
                        f"contract.md:{start + 1}: trace outside a clause section "
                        "(put it under a '### MQ-...' heading)"
                    )
                index = len(current.traces) + 1
                current.traces.append(parse_trace(body, current.clause_id, index, start + 1))
            i += 1
            continue
        heading = ANY_HEADING.match(raw)
        if heading:
            clause_heading = CLAUSE_HEADING.match(raw)
            if clause_heading:
                cid, level, title = clause_heading.groups()
                current = Section(cid, level, title, i + 1)
                sections.append(current)
            else:
                current = None
        i += 1
    return sections


def parse_trace(body: list[tuple[int, str]], section: str, index: int, line: int) -> Trace:
    """Parse the lines of one trace block; ``body`` pairs each line with its file line number."""
    content = [(n, text) for n, text in body if text.strip()]
    if not content:
        raise TraceError(f"contract.md:{line}: empty trace block")
    caps_line, caps_text = content[0]
    trace = Trace(section, index, line, _parse_caps(caps_line, caps_text))
    last_t = 0.0
    for n, text in content[1:]:
        step = _parse_step(n, text)
        if step.t < last_t:
            _fail(n, text, f"time runs backwards (t={step.t:g} after t={last_t:g})")
        last_t = step.t
        trace.steps.append(step)
    if not trace.steps:
        raise TraceError(f"contract.md:{line}: trace has no steps")
    return trace


def _fail(n: int, text: str, why: str) -> NoReturn:
    raise TraceError(f"contract.md:{n}: {why}\n    {text.strip()}")


def _parse_caps(n: int, text: str) -> Capabilities:
    body = text.split("#", 1)[0].strip()
    if not body.startswith("caps:"):
        _fail(n, text, "a trace must start with a 'caps:' line")
    kwargs: dict[str, Any] = {}
    for item in body[len("caps:") :].split():
        key, sep, value = item.partition("=")
        if not sep or key not in CAPS_KEYS:
            _fail(n, text, f"unknown capability {item!r} (expected one of {sorted(CAPS_KEYS)})")
        try:
            if key == "timeout":
                kwargs["reservation_timeout"] = _number(value)
            elif key == "slack":
                kwargs["slack"] = _number(value)
            elif key == "durable":
                if value not in ("yes", "no"):
                    raise ValueError("durable must be yes or no")
                kwargs["durable"] = value == "yes"
            elif key == "tokens":
                if value not in ("yes", "no"):
                    raise ValueError("tokens must be yes or no")
                kwargs["reservation_tokens"] = value == "yes"
            elif key == "duplicates":
                kwargs["duplicate_ids"] = value
            elif key == "capacity":
                kwargs["max_jobs"] = None if value == "none" else int(value)
        except ValueError as exc:
            _fail(n, text, f"bad capability {item!r}: {exc}")
    try:
        return Capabilities(**kwargs)
    except (ValueError, TypeError) as exc:
        _fail(n, text, f"bad capabilities: {exc}")


def _number(text: str) -> float:
    if not NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    return int(value) if value.is_integer() else value


class _Cursor:
    """A left-to-right reader over one trace line."""

    def __init__(self, n: int, text: str) -> None:
        self.n = n
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def rest(self) -> str:
        self.skip()
        return self.text[self.pos :]

    def at_end(self) -> bool:
        rest = self.rest()
        return rest == "" or rest.startswith("#")

    def take(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip()
        found = pattern.match(self.text, self.pos)
        if not found:
            self.fail(f"expected {what}")
        self.pos = found.end()
        return found.group(0)

    def peek(self, prefix: str) -> bool:
        return self.rest().startswith(prefix)

    def json(self) -> Any:
        self.skip()
        try:
            value, end = json.JSONDecoder().raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            self.fail(f"bad JSON: {exc.msg}")
        self.pos = end
        return value

    def starts_json(self) -> bool:
        self.skip()
        return bool(JSON_START.match(self.text, self.pos))

    def fail(self, why: str) -> NoReturn:
        _fail(self.n, self.text, f"{why} at column {self.pos + 1}")


_WORD = re.compile(r"[^\s|#✗]+")
_OPTION = re.compile(r"(p|d)=(\S+)")
_T = re.compile(r"t=(\S+)")
_OP = re.compile(r"(?:push|reserve|drain|delete|restart)\b")


def _parse_step(n: int, text: str) -> Step:
    cur = _Cursor(n, text)
    t_text = _T.match(text.strip())
    if not t_text:
        _fail(n, text, "a step must start with 't=<seconds>'")
    cur.take(_T, "t=<seconds>")
    try:
        t = _number(t_text.group(1))
    except ValueError as exc:
        _fail(n, text, str(exc))
    op = cur.take(_OP, "an operation (push, reserve, drain, delete, restart)")
    fields: dict[str, Any] = {}
    if op == "push":
        if cur.starts_json():
            fields["literal"] = cur.json()
            fields["has_literal"] = True
        else:
            fields["ident"] = cur.take(IDENT, "a job id or a JSON value")
            while not cur.peek("->") and not cur.starts_json():
                option = cur.take(_OPTION, "p=<priority>, d=<delay>, {json} or '->'")
                key, value = _OPTION.match(option).groups()  # type: ignore[union-attr]
                try:
                    number = _number(value)
                except ValueError as exc:
                    cur.fail(str(exc))
                fields["priority" if key == "p" else "delay"] = number
            if cur.starts_json():
                extra = cur.json()
                if not isinstance(extra, dict):
                    cur.fail("extra fields must be a JSON object")
                fields["extra"] = extra
    elif op == "delete":
        fields["ident"] = cur.take(IDENT, "a job id")
        if cur.text.startswith("#", cur.pos):
            cur.pos += 1
            fields["which"] = int(cur.take(re.compile(r"[1-9]\d*"), "a reservation number"))
    if not cur.peek("->"):
        cur.fail("expected '->'")
    cur.pos = cur.text.index("->", cur.pos) + 2
    results: list[Result] = []
    while True:
        if cur.starts_json() and not cur.rest().startswith("null"):
            results.append(Result("json", cur.json()))
        else:
            word = cur.take(_WORD, "a result")
            results.append(_classify(cur, op, word))
        if cur.peek("|"):
            cur.pos = cur.text.index("|", cur.pos) + 1
            continue
        break
    forbidden = None
    if cur.peek("✗"):
        cur.pos = cur.text.index("✗", cur.pos) + 1
        forbidden = cur.take(re.compile(r"MQ-[A-Z]+-\d+"), "a clause ID after ✗")
        if forbidden not in CATALOGUE:
            cur.fail(f"unknown clause {forbidden!r}")
        if CATALOGUE[forbidden].level == "MAY":
            cur.fail(f"{forbidden} is a MAY clause: it forbids nothing")
    if not cur.at_end():
        cur.fail("unexpected text")
    return Step(n, text, t, op, results=tuple(results), forbidden=forbidden, **fields)


def _classify(cur: _Cursor, op: str, word: str) -> Result:
    if op == "restart":
        if word != "ok":
            cur.fail(f"restart result must be ok, not {word!r}")
        return Result("word", word)
    if op == "push":
        if word not in PUSH_RESULTS:
            cur.fail(f"push result must be one of {sorted(PUSH_RESULTS)} or {{json}}, not {word!r}")
        return Result("word", word)
    if op == "delete":
        if word not in DELETE_RESULTS:
            cur.fail(f"delete result must be one of {sorted(DELETE_RESULTS)}, not {word!r}")
        return Result("word", word)
    if word in RESERVE_RESULTS:
        return Result("word", word)
    if not IDENT.fullmatch(word):
        cur.fail(f"reserve result must be a job id, null, error, unknown or {{json}}, not {word!r}")
    return Result("id", word)


# ---------------------------------------------------------------------------- replay


@dataclass
class _Run:
    """What a replay remembers besides the model: pushed tasks and reserved tasks, by id."""

    model: Model
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)
    reserved: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: int = 0


def run_trace(trace: Trace) -> None:
    """Replay ``trace`` through the reference model.

    Raises:
        TraceMismatch: a line without ✗ was not cleanly allowed, or a ✗ line was not reported
            under exactly the clause it names.
    """
    run = _Run(Model(trace.caps))
    for step in trace.steps:
        outcomes = []
        for result in step.results:
            twin = copy.deepcopy(run)
            verdict = _apply(twin, step, result)
            _check(trace, step, result, verdict)
            outcomes.append((twin, verdict))
        run = outcomes[0][0]


def _apply(run: _Run, step: Step, result: Result) -> Verdict:
    caps = run.model.capabilities
    try:
        if step.op == "push":
            task = _task_to_push(step)
            verdict = run.model.push(copy.deepcopy(task), step.t, _push_outcome(task, result))
            if step.ident is not None and _stands(step, verdict) and result.value != "error":
                run.pushed[step.ident] = task
            return verdict
        if step.op == "restart":
            run.model.restart(step.t)
            return Verdict()
        if step.op in ("reserve", "drain"):
            outcome, returned = _reserve_outcome(run, result, caps.reservation_tokens)
            verdict = run.model.reserve(step.t, outcome, final=step.op == "drain")
            if returned is not None and _stands(step, verdict):
                run.reserved.setdefault(returned["id"], []).append(returned)
            return verdict
        assert step.ident is not None
        task = _task_to_delete(run, step)
        word = result.value
        outcome = Ok() if word == "ok" else Failed("error") if word == "error" else Unknown("cut")
        return run.model.delete(copy.deepcopy(task), step.t, outcome)
    except TraceError:
        raise
    except Exception as exc:
        exc.add_note(f"while replaying {step.op} at contract.md:{step.line}: {step.text.strip()}")
        raise


def _stands(step: Step, verdict: Verdict) -> bool:
    """Whether an observation becomes part of the history (MUST-forbidden ones do not)."""
    return verdict.violation is None


def _task_to_push(step: Step) -> Any:
    if step.has_literal:
        return copy.deepcopy(step.literal)
    task: dict[str, Any] = {"id": step.ident, "priority": step.priority}
    if step.delay is not None:
        task["delay"] = step.delay
    if step.extra:
        task.update(copy.deepcopy(step.extra))
    return task


def _push_outcome(task: Any, result: Result) -> Ok | Failed | Unknown:
    if result.kind == "json":
        return Ok(copy.deepcopy(result.value))
    word = result.value
    if word == "ok":
        return Ok(copy.deepcopy(task))
    if word == "error":
        return Failed("error")
    if word == "unknown":
        return Unknown("no answer")
    return Unknown("an error while a fault was active", reported_failure=True)


def _reserve_outcome(
    run: _Run, result: Result, tokens: bool
) -> tuple[Ok | Failed | Unknown, dict[str, Any] | None]:
    if result.kind == "json":
        value = copy.deepcopy(result.value)
        returned = value if isinstance(value, dict) and isinstance(value.get("id"), str) else None
        return Ok(value), returned
    if result.kind == "word":
        if result.value == "null":
            return Ok(None), None
        if result.value == "error":
            return Failed("error"), None
        return Unknown("cut"), None
    ident = result.value
    task = copy.deepcopy(run.pushed.get(ident, {"id": ident, "priority": 1}))
    if tokens:
        run.tokens += 1
        task["_mq_token"] = f"tok{run.tokens}"
    return Ok(copy.deepcopy(task)), task


def _task_to_delete(run: _Run, step: Step) -> dict[str, Any]:
    assert step.ident is not None
    taken = run.reserved.get(step.ident, [])
    if step.which is not None:
        if step.which > len(taken):
            _fail(
                step.line,
                step.text,
                f"{step.ident}#{step.which}: only {len(taken)} Reserve(s) returned {step.ident}",
            )
        return taken[step.which - 1]
    if taken:
        return taken[-1]
    # Never reserved: the task as pushed, or a valid task with that id (Delete gets a task).
    return copy.deepcopy(run.pushed.get(step.ident, {"id": step.ident, "priority": 1}))


def _check(trace: Trace, step: Step, result: Result, verdict: Verdict) -> None:
    shown = result.value if result.kind != "json" else json.dumps(result.value)
    where = f"{trace.name} (contract.md:{step.line}): {step.text.strip()}\n  result {shown}: "
    if verdict.inconclusive:
        raise TraceMismatch(where + "the model became inconclusive")
    found = verdict.violation
    warnings = [w.clause.id for w in verdict.warnings]
    if step.forbidden is None:
        if found is not None:
            raise TraceMismatch(where + "expected allowed, got\n" + found.render())
        if warnings:
            raise TraceMismatch(
                where
                + "expected allowed without warnings, got\n"
                + "\n".join(w.render() for w in verdict.warnings)
            )
        return
    level = CATALOGUE[step.forbidden].level
    if level == "MUST":
        if found is None:
            got = f"warnings {warnings}" if warnings else "allowed"
            raise TraceMismatch(where + f"expected a {step.forbidden} violation, got {got}")
        if found.clause.id != step.forbidden:
            raise TraceMismatch(
                where + f"expected a {step.forbidden} violation, got\n" + found.render()
            )
        return
    if found is not None:
        raise TraceMismatch(
            where + f"expected a {step.forbidden} warning, got a violation\n" + found.render()
        )
    if step.forbidden not in warnings:
        got = f"warnings {warnings}" if warnings else "no warning"
        raise TraceMismatch(where + f"expected a {step.forbidden} warning, got {got}")
