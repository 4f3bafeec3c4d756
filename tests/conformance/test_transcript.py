"""Tests of `Transcript` and `Step` (mqspec.conformance.core.transcript): JSON lines, listing,
pytest.

The three renderings must agree with what the session recorded: JSON lines read back equal,
the listing is stable text, and the pytest reproducer is valid Python that replays the steps.
"""

from __future__ import annotations

import json

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import EmptyIsError
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.transcript import (
    FORMAT_VERSION,
    Step,
    Transcript,
    outcome_from_json,
    outcome_to_json,
)
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

CAPS = Capabilities(reservation_timeout=30, slack=1, reservation_tokens=True, max_jobs=10)

UNICODE_TASK = {
    "id": "zoë-✓",
    "priority": 2,
    "delay": 3,
    "payload": '{"name": "Zoë"} ✓ 🚀 \u2028 "quoted" \\ back',
    "env_vars": {"ÜBER": "", "日本": "語"},
    "extra": [None, True, 0, -(2**53), 1.5, {"nested": ["x"]}],
}


def sample() -> Transcript:
    steps = [
        Step(0.0, "push", UNICODE_TASK, Ok(UNICODE_TASK)),
        Step(0.0, "push", {"id": "bad", "priority": 7}, Failed("ValueError: priority 7 ✗\nline 2")),
        Step(0.0, "reserve", None, Ok(None)),
        Step(2.5, "advance"),
        Step(3.0, "advance"),
        Step(3.0, "reserve", None, Ok({**UNICODE_TASK, "_mq_token": "tok-1"})),
        Step(3.0, "delete", {**UNICODE_TASK, "_mq_token": "tok-1"}, Unknown("connection reset")),
        Step(3.0, "delete", {"id": "x", "priority": 1}, Unknown("fault", reported_failure=True)),
        Step(4.0, "drain", None, Ok(None)),
    ]
    return Transcript(CAPS, url="py:pkg.mod:make?opt=ü", steps=steps)


# -- JSON lines --------------------------------------------------------------------------------


def test_jsonl_round_trip_keeps_every_step_and_outcome():
    original = sample()
    text = original.to_jsonl()
    again = Transcript.from_jsonl(text)
    assert again == original
    assert again.to_jsonl() == text


def test_jsonl_header_and_shape():
    text = sample().to_jsonl()
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    # U+2028 in a payload stays unescaped: a line is ended by "\n" only.
    assert "\u2028" in lines[1]
    assert len(lines) == 1 + len(sample().steps)
    head = json.loads(lines[0])
    assert head == {
        "mqspec_transcript": FORMAT_VERSION,
        "url": "py:pkg.mod:make?opt=ü",
        "capabilities": CAPS.to_json(),
        "clock": "virtual",
    }
    assert json.loads(lines[1])["task"] == UNICODE_TASK
    # Steps carry only what they need: no task on reserve, no outcome on advance.
    assert json.loads(lines[3]) == {"t": 0.0, "op": "reserve", "backend": {"ok": None}}
    assert json.loads(lines[4]) == {"t": 2.5, "op": "advance"}
    assert json.loads(lines[7])["backend"] == {
        "unknown": "connection reset",
        "reported_failure": False,
    }


def test_jsonl_keeps_unicode_readable():
    text = sample().to_jsonl()
    assert "zoë-✓" in text
    assert "🚀" in text
    assert "\\u00eb" not in text


def test_a_session_transcript_round_trips():
    s = Session(MemoryQueue(timeout=5, tokens=True), url="memory://?timeout=5&tokens=1")
    s.push(UNICODE_TASK)
    s.push({"id": "bad"})
    s.advance(3)
    task = s.reserve().value
    s.advance(1)
    s.delete(task)
    s.drain()
    again = Transcript.from_jsonl(s.transcript.to_jsonl())
    assert again == s.transcript
    assert [step.op for step in again.steps] == [
        "push",
        "push",
        "advance",
        "reserve",
        "advance",
        "delete",
        "advance",
        "drain",
    ]
    assert isinstance(again.steps[1].outcome, Failed)


@pytest.mark.parametrize(
    "outcome",
    [
        None,
        Ok(None),
        Ok({"id": "a", "priority": 1}),
        Ok([1, "ü"]),
        Failed("boom ✗"),
        Unknown("cut"),
        Unknown("cut", reported_failure=True),
    ],
)
def test_outcome_json_round_trip(outcome):
    assert outcome_from_json(json.loads(json.dumps(outcome_to_json(outcome)))) == outcome


def test_not_an_outcome_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^not an outcome: \{'value': 1\}$"):
        outcome_from_json({"value": 1})


def test_blank_lines_are_ignored():
    text = sample().to_jsonl().replace("\n", "\n\n   \n")
    assert Transcript.from_jsonl(text) == sample()


def test_empty_text_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^empty transcript$"):
        Transcript.from_jsonl("\n  \n")


@pytest.mark.parametrize(
    "header",
    [
        "not json",
        "[1, 2]",
        '{"mqspec_transcript": 1}',
        '{"capabilities": {"slack": -1}}',
        '{"capabilities": {"no_such_field": 1}}',
    ],
)
def test_bad_header_names_line_1(header):
    text = header + "\n" + '{"t": 0, "op": "reserve"}\n'
    with pytest.raises(UsageError, match=r"^transcript line 1 is not a transcript header: "):
        Transcript.from_jsonl(text)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("{not json", r"Expecting property name"),
        ('"a string"', r"not a transcript step"),
        ('[0, "push"]', r"not a transcript step"),
        ('{"op": "push"}', r"not a transcript step: .*'t'"),
        ('{"t": 1}', r"not a transcript step: .*'op'"),
        ('{"t": "soon", "op": "reserve"}', r"not a transcript step"),
        ('{"t": 1, "op": "jump"}', r"not a transcript step: .*'op' must be in"),
        ('{"t": 1, "op": "reserve", "backend": {"value": 1}}', r"not an outcome"),
        ('{"t": 1, "op": "reserve", "backend": 5}', r"not a transcript step"),
    ],
)
def test_bad_step_names_its_line(bad, why):
    lines = sample().to_jsonl().split("\n")
    lines.insert(3, bad)  # the fourth line of the text
    with pytest.raises(UsageError, match=rf"^transcript line 4: .*{why}"):
        Transcript.from_jsonl("\n".join(lines))


def test_line_numbers_count_blank_lines():
    lines = sample().to_jsonl().split("\n")
    text = "\n".join([lines[0], "", lines[1], "", '{"t": 1, "op": "jump"}'])
    with pytest.raises(UsageError, match=r"^transcript line 5: "):
        Transcript.from_jsonl(text)


def test_step_rejects_an_unknown_op():
    with pytest.raises(ValueError, match="'op' must be in"):
        Step(0, "jump")


# -- listing -----------------------------------------------------------------------------------


def test_listing_format():
    transcript = Transcript(
        Capabilities(),
        steps=[
            Step(0, "push", {"id": "a", "priority": 1}, Ok({"id": "a", "priority": 1})),
            Step(0, "reserve", None, Ok(None)),
            Step(61.5, "advance"),
            Step(61.5, "delete", {"id": "a", "priority": 1}, Failed("LookupError: no")),
            Step(62, "drain", None, Unknown("timeout")),
            Step(62, "reserve", None, Ok([1, 2])),
        ],
    )
    assert transcript.listing().splitlines() == [
        "  1. t=0          s.push({'id': 'a', 'priority': 1})                           -> ok 'a'",
        "  2. t=0          s.reserve()" + " " * 50 + "-> null",  # nothing to reserve
        "  3. t=61.5       advance",
        "  4. t=61.5       s.delete({'id': 'a', 'priority': 1})"
        "                         -> error 'LookupError: no'",
        "  5. t=62         s.reserve(final=True)" + " " * 40 + "-> unknown (timeout)",
        "  6. t=62         s.reserve()" + " " * 50 + "-> ok [1, 2]",
    ]


def test_listing_of_nothing_is_empty():
    assert Transcript(Capabilities()).listing() == ""


def test_step_calls():
    assert Step(3, "advance").call() == "s.advance_to(3)"
    assert Step(0, "push", {"id": "ü"}).call() == "s.push({'id': 'ü'})"
    assert Step(0, "delete", {"id": "a"}).call() == "s.delete({'id': 'a'})"
    assert Step(0, "reserve").call() == "s.reserve()"
    assert Step(0, "drain").call() == "s.reserve(final=True)"


# -- the pytest reproducer ---------------------------------------------------------------------


def reproduce(source: str) -> None:
    namespace: dict = {}
    exec(compile(source, "test_reproducer.py", "exec"), namespace)
    namespace["test_reproduce"]()


def test_to_pytest_is_valid_python_for_every_kind_of_step():
    source = sample().to_pytest()
    compile(source, "test_reproducer.py", "exec")
    assert "def test_reproduce():" in source
    assert "open_adapter('py:pkg.mod:make?opt=ü')" in source
    assert "# judged under: " in source


def test_to_pytest_keeps_a_multiline_unknown_reason_in_its_comment():
    transcript = Transcript(
        Capabilities(), steps=[Step(0, "reserve", None, Unknown("reset\nby peer\r\nagain"))]
    )
    source = transcript.to_pytest()
    compile(source, "test_reproducer.py", "exec")
    assert "# backend said: unknown (reset by peer again)" in source


def test_to_pytest_of_a_passing_session_passes_against_memory():
    s = Session(MemoryQueue())
    s.push(UNICODE_TASK)
    s.push({"id": "b", "priority": 0})
    s.push({"id": "bad", "priority": -1})
    first = s.reserve().value
    s.delete({"id": "b", "priority": 0})  # not reserved: an error, as the contract says
    s.advance(30)
    s.delete(first)
    s.drain()
    source = s.transcript.to_pytest()
    assert source.count("\n        s.") == len(s.transcript.steps)
    reproduce(source)


def test_to_pytest_of_a_failing_session_reproduces_the_failure_MQ_RESERVE_1():
    s = Session(EmptyIsError(), url="py:mqspec.adapters.selftest.mutants:EmptyIsError")
    s.push({"id": "only", "priority": 1})
    s.reserve()
    with pytest.raises(ContractViolation):
        s.reserve()
    source = s.transcript.to_pytest()
    with pytest.raises(ContractViolation) as caught:
        reproduce(source)
    assert caught.value.finding.clause.id == "MQ-RESERVE-1"
    assert caught.value.transcript.listing() == s.transcript.listing()


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\r"])
def test_line_breaking_characters_inside_strings_round_trip(char):
    """str.splitlines() splits on these; a JSON line holding one must still read back."""
    task = {"id": f"a{char}b", "priority": 1, "payload": f"x{char}y"}
    transcript = Transcript(Capabilities(), steps=[Step(0.0, "push", task, Ok(task))])
    assert Transcript.from_jsonl(transcript.to_jsonl()) == transcript


# -- restarts (MQ-DURABLE-1) ---------------------------------------------------------------------


def test_restart_steps_round_trip_list_and_replay_as_calls():
    a = {"id": "a", "priority": 1}
    transcript = Transcript(
        Capabilities(durable=True),
        steps=[
            Step(0, "push", a, Ok(a)),
            Step(0, "push", {"id": "b", "priority": 1}, Unknown("killed inside push, before x:1")),
            Step(0, "restart"),
            Step(5, "restart"),
        ],
    )
    text = transcript.to_jsonl()
    assert Transcript.from_jsonl(text) == transcript
    assert json.loads(text.splitlines()[3]) == {"t": 0, "op": "restart"}
    assert Step(5, "restart").call() == "s.restart()"
    assert transcript.listing().splitlines()[2:] == [
        "  3. t=0          restart",
        "  4. t=5          restart",
    ]
    source = transcript.to_pytest()
    compile(source, "test_reproducer.py", "exec")
    assert "        s.restart()\n        s.restart()\n" in source


def test_a_listing_cuts_a_huge_task_and_shows_its_length_the_transcript_keeps_it():
    big = {"id": "a", "priority": 1, "payload": "x" * 100_000}
    transcript = Transcript(Capabilities(), steps=[Step(0, "push", big, Ok(big))])
    (row,) = transcript.listing().splitlines()
    assert len(row) < 300
    assert f"... ({len(Step(0, 'push', big).call())} characters in all)" in row
    # The transcript file and the pytest reproducer keep every character.
    assert Transcript.from_jsonl(transcript.to_jsonl()).steps[0].task == big
    assert "x" * 100_000 in transcript.to_pytest()
