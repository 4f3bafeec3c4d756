"""Replay every worked trace in spec/contract.md through the reference model.

One test per trace, named after its clause heading and its index under it. The contract's
decisions are product decisions: where the model disagrees with one, the trace stays as the
decision says and the test is marked xfail(strict=True) with the disagreement spelled out.
"""

from __future__ import annotations

import pytest

from mqspec.reference import CATALOGUE

from .traces import (
    CONTRACT,
    Section,
    Step,
    Trace,
    TraceError,
    TraceMismatch,
    parse_contract,
    parse_trace,
    run_trace,
)

SECTIONS: list[Section] = parse_contract(CONTRACT.read_text(encoding="utf-8"))
TRACES: list[Trace] = [trace for section in SECTIONS for trace in section.traces]
BY_CLAUSE: dict[str, Section] = {section.clause_id: section for section in SECTIONS}

# Clauses the model checks by branching rather than by naming: a cut operation keeps every
# outcome it may have had, and a later observation none of them explains is reported under the
# clause it breaks. Their sections show an `unknown` answer and later alternatives instead of ✗.
BRANCHING = {"MQ-LOSS-2"}

KNOWN_DISAGREEMENTS: dict[str, str] = {}


def _params() -> list[object]:
    params = []
    for trace in TRACES:
        marks = []
        if trace.name in KNOWN_DISAGREEMENTS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DISAGREEMENTS[trace.name]))
        params.append(pytest.param(trace, id=trace.name, marks=marks))
    return params


@pytest.mark.parametrize("trace", _params())
def test_trace(trace: Trace) -> None:
    run_trace(trace)


def test_known_disagreements_name_real_traces() -> None:
    names = {trace.name for trace in TRACES}
    assert set(KNOWN_DISAGREEMENTS) <= names


# ---------------------------------------------------------------------------- coverage


@pytest.mark.parametrize("clause_id", [c.id for c in CATALOGUE.values() if not c.withdrawn])
def test_every_clause_has_a_trace(clause_id: str) -> None:
    section = BY_CLAUSE.get(clause_id)
    assert section is not None, f"{clause_id} has no section in contract.md"
    assert section.traces, f"{clause_id}: its section has no ```trace block"


@pytest.mark.parametrize(
    "clause_id",
    [c.id for c in CATALOGUE.values() if c.level != "MAY" and not c.withdrawn],
)
def test_every_must_and_should_clause_shows_its_violation(clause_id: str) -> None:
    section = BY_CLAUSE[clause_id]
    if clause_id in BRANCHING:
        # An unknown outcome, then a later line whose alternatives each explain it.
        for trace in section.traces:
            cut = [i for i, s in enumerate(trace.steps) if _answers_unknown(s)]
            if cut and any(s.alternatives for s in trace.steps[cut[0] + 1 :]):
                return
        pytest.fail(f"{clause_id}: no trace shows an unknown outcome branching")
    assert any(trace.forbids(clause_id) for trace in section.traces), (
        f"{clause_id}: no trace in its section has a '✗ {clause_id}' line"
    )


@pytest.mark.parametrize("clause_id", [c.id for c in CATALOGUE.values() if c.level == "MAY"])
def test_every_may_clause_shows_both_choices(clause_id: str) -> None:
    section = BY_CLAUSE[clause_id]
    assert any(
        step.alternatives and step.forbidden is None
        for trace in section.traces
        for step in trace.steps
    ), f"{clause_id}: no trace line lists alternatives ('a | b') that are all allowed"


def _answers_unknown(step: Step) -> bool:
    return any(r.kind == "word" and r.value == "unknown" for r in step.results)


# ---------------------------------------------------------------------------- the runner itself


def _trace(*lines: str, start: int = 10) -> Trace:
    body = [(start + i, line) for i, line in enumerate(lines)]
    return parse_trace(body, "MQ-TEST-1", 1, start - 1)


def test_a_wrong_claim_of_allowed_is_caught() -> None:
    trace = _trace("caps:", "t=0 push A p=1 -> ok", "t=0 reserve -> null")
    with pytest.raises(TraceMismatch, match=r"MQ-READY-1"):
        run_trace(trace)


def test_a_wrong_clause_after_the_cross_is_caught() -> None:
    trace = _trace("caps:", "t=0 push A p=1 -> ok", "t=0 reserve -> null ✗ MQ-LOSS-1")
    with pytest.raises(TraceMismatch, match=r"expected a MQ-LOSS-1 violation, got\nMQ-READY-1"):
        run_trace(trace)


def test_a_cross_on_an_allowed_answer_is_caught() -> None:
    trace = _trace("caps:", "t=0 reserve -> null ✗ MQ-RESERVE-1")
    with pytest.raises(TraceMismatch, match=r"expected a MQ-RESERVE-1 violation, got allowed"):
        run_trace(trace)


def test_every_alternative_is_checked() -> None:
    trace = _trace("caps:", "t=0 push A p=1 -> ok", "t=0 reserve -> A | null")
    with pytest.raises(TraceMismatch, match=r"result null: expected allowed"):
        run_trace(trace)


def test_a_should_cross_needs_the_warning() -> None:
    trace = _trace("caps:", "t=0 push A p=1 -> error-unknown", "t=1 reserve -> null ✗ MQ-LOSS-3")
    with pytest.raises(TraceMismatch, match=r"expected a MQ-LOSS-3 warning, got no warning"):
        run_trace(trace)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["t=0 reserve -> null"], r"contract.md:10: a trace must start with a 'caps:' line"),
        (["caps: colour=red", "t=0 reserve -> null"], r"contract.md:10: unknown capability"),
        (["caps:", "reserve -> null"], r"contract.md:11: a step must start with 't=<seconds>'"),
        (["caps:", "t=0 pop -> null"], r"contract.md:11: expected an operation"),
        (["caps:", "t=0 reserve A -> null"], r"contract.md:11: expected '->'"),
        (["caps:", "t=0 push A p=x -> ok"], r"contract.md:11: not a number"),
        (["caps:", "t=0 delete A -> null"], r"contract.md:11: delete result must be one of"),
        (["caps:", 't=0 push {"id": -> ok'], r"contract.md:11: bad JSON"),
        (["caps:", "t=0 push A -> maybe"], r"contract.md:11: push result must be one of"),
        (["caps:", "t=0 reserve -> null ✗ MQ-NOPE-9"], r"contract.md:11: unknown clause"),
        (["caps:", "t=0 reserve -> A | B ✗ MQ-ORDER-3"], r"contract.md:11: .*MAY clause"),
        (["caps:", "t=0 reserve -> null extra"], r"contract.md:11: unexpected text"),
        (["caps:", "t=5 reserve -> null", "t=4 reserve -> null"], r"contract.md:12: time runs"),
        (["caps:"], r"contract.md:9: trace has no steps"),
    ],
)
def test_malformed_traces_name_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(TraceError, match=message):
        _trace(*lines)


def test_a_stale_task_that_never_existed_is_a_trace_error() -> None:
    trace = _trace("caps:", "t=0 push A p=1 -> ok", "t=0 reserve -> A", "t=1 delete A#2 -> ok")
    with pytest.raises(TraceError, match=r"contract.md:13: A#2: only 1 Reserve"):
        run_trace(trace)


def test_a_trace_outside_a_clause_section_is_refused() -> None:
    text = "# Title\n\n## Definitions\n\n```trace\ncaps:\nt=0 reserve -> null\n```\n"
    with pytest.raises(TraceError, match=r"contract.md:5: trace outside a clause section"):
        parse_contract(text)


def test_an_unclosed_fence_is_refused() -> None:
    text = "### MQ-READY-1 (MUST): x\n\n```trace\ncaps:\nt=0 reserve -> null\n"
    with pytest.raises(TraceError, match=r"contract.md:3: fenced block is never closed"):
        parse_contract(text)
