"""Tests of `mqspec.conformance.concurrency.history`: the value classes and their JSON-lines
form."""

from __future__ import annotations

import json

import pytest

from mqspec.conformance.concurrency.history import (
    History,
    Operation,
    from_jsonl,
    result_from_json,
    result_to_json,
    to_jsonl,
)
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

A = {"id": "A", "priority": 1}


def op(client=0, kind="push", task=None, invoke=0.0, complete=1.0, result=None, drain=False):
    if kind == "push" and task is None:
        task = A
    if result is None:
        result = Ok(task if kind == "push" else None)
    return Operation(
        client=client,
        op=kind,
        task=task,
        invoke=invoke,
        complete=complete,
        result=result,
        drain=drain,
    )


def sample() -> History:
    weird = {"id": "W", "priority": 2, "delay": 3, "note": "line\u2028sep\x85next\x0cform\nfeed é"}
    return History(
        capabilities=Capabilities(reservation_timeout=30, slack=0.5, reservation_tokens=True),
        operations=[
            op(0, "push", weird, 0.0, 0.25),
            op(1, "push", A, 0.125, 0.5, Failed("queue full")),
            op(2, "reserve", None, 0.2, None, Unknown("cut", reported_failure=True)),
            op(0, "reserve", None, 0.3, 0.4, Ok({**A, "_mq_token": "t1"})),
            op(0, "delete", {**A, "_mq_token": "t1"}, 0.5, 0.75),
            op(3, "reserve", None, 100.0, 100.5, Ok(None), drain=True),
        ],
        clock="queue",
        meta={"seed": 7, "note": "x"},
    )


def test_round_trip_is_exact():
    history = sample()
    text = to_jsonl(history)
    again = from_jsonl(text)
    assert again == history
    assert again.meta == history.meta
    assert to_jsonl(again) == text


def test_the_text_has_one_header_and_one_line_per_operation():
    text = to_jsonl(sample())
    lines = text.split("\n")
    assert lines[-1] == ""  # every line ends in "\n"
    header, *records = (json.loads(line) for line in lines[:-1])
    assert header["format"] == "mqspec-history" and header["version"] == 1
    assert header["capabilities"]["reservation_timeout"] == 30
    assert header["clock"] == "queue"
    assert len(records) == 6
    assert records[0] == {
        "client": 0,
        "op": "push",
        "task": sample().operations[0].task,
        "invoke": 0.0,
        "complete": 0.25,
        "result": {"ok": sample().operations[0].task},
    }
    assert records[2]["complete"] is None
    assert records[2]["result"] == {"unknown": "cut", "reported_failure": True}
    assert "task" not in records[3]
    assert records[5]["drain"] is True and "drain" not in records[4]


def test_splitting_is_on_newline_only():
    text = to_jsonl(sample())
    assert "\u2028" in text and "\x85" in text  # raw in the text, where splitlines would split
    assert len(text.splitlines()) > len(text.split("\n")) - 1
    assert from_jsonl(text) == sample()


def test_blank_lines_are_ignored():
    text = to_jsonl(sample()).replace("\n", "\n\n")
    assert from_jsonl(text) == sample()


@pytest.mark.parametrize(
    ("outcome", "data"),
    [
        (Ok(None), {"ok": None}),
        (Ok(A), {"ok": A}),
        (Failed("boom"), {"error": "boom"}),
        (Unknown("cut"), {"unknown": "cut"}),
        (Unknown("cut", True), {"unknown": "cut", "reported_failure": True}),
    ],
)
def test_results_have_three_shapes(outcome, data):
    assert result_to_json(outcome) == data
    assert result_from_json(data) == outcome


@pytest.mark.parametrize("data", [None, {}, {"ok": 1, "error": "x"}, {"error": 3}, {"maybe": 1}])
def test_a_bad_result_is_refused(data):
    with pytest.raises(UsageError, match=r"^a result must be"):
        result_from_json(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"complete": -1.0}, r"complete must not be before invoke"),
        ({"complete": None}, r"complete must be None exactly when the result is Unknown"),
        ({"result": Unknown("x")}, r"complete must be None exactly when the result is Unknown"),
        ({"invoke": float("nan")}, r"invoke must be a finite number of seconds, got nan"),
        ({"client": -1}, r"client must be an integer >= 0, got -1"),
        ({"kind": "delete", "task": {"id": 3}}, r"a delete needs a task with a string id"),
        ({"kind": "reserve", "task": A}, r"a reserve takes no task"),
        ({"drain": True}, r"only a reserve can be part of the drain, got 'push'"),
        ({"result": "ok"}, r"result must be Ok, Failed or Unknown, got 'ok'"),
    ],
)
def test_a_malformed_operation_is_refused(changes, message):
    with pytest.raises(UsageError, match=message):
        op(**changes)


def test_one_clients_calls_may_not_overlap():
    with pytest.raises(UsageError, match=r"^client 0's calls overlap"):
        History(
            capabilities=Capabilities(),
            operations=[op(0, invoke=0, complete=2), op(0, invoke=1, complete=3)],
        )


def test_a_call_that_never_returned_does_not_hold_its_client_back():
    cut = op(0, "reserve", None, 0.0, None, Unknown("abandoned"))
    History(capabilities=Capabilities(), operations=[cut, op(0, invoke=1, complete=2)])


def test_describe_names_the_call():
    assert op(2, "reserve", None, 0.5, 0.75, Ok(A)).describe() == (
        "client 2 reserve [0.500000, 0.750000] -> 'A'"
    )
    assert op(1, "delete", A, 1, 2).describe() == "client 1 delete 'A' [1.000000, 2.000000] -> ok"
    cut = op(0, "reserve", None, 1, None, Unknown("cut"), drain=True)
    assert cut.describe() == "client 0 drain [1.000000, never] -> unknown (cut)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^not a history: the text is empty$"),
        ("{nope\n", r"^line 1: not JSON"),
        ('{"format": "other"}\n', r"^line 1: not an mqspec-history header"),
        ('{"format": "mqspec-history", "version": 2}\n', r"^line 1: unsupported version 2$"),
        ('{"format": "mqspec-history", "version": 1, "extra": 1}\n', r"unknown header keys"),
        (
            '{"format": "mqspec-history", "version": 1, "capabilities": {"slack": -1}}\n',
            r"^line 1: bad capabilities",
        ),
        ('{"format": "mqspec-history", "version": 1}\n\n[1]\n', r"^line 3: an operation must"),
        (
            '{"format": "mqspec-history", "version": 1}\n{"op": "push", "x": 1}\n',
            r"^line 2: unknown keys \['x'\]$",
        ),
        (
            '{"format": "mqspec-history", "version": 1}\n{"client": 0, "op": "pop", "invoke": 0, '
            '"complete": 1, "result": {"ok": null}}\n',
            r"^line 2: op must be one of push, reserve, delete, got 'pop'$",
        ),
        (
            '{"format": "mqspec-history", "version": 1}\n{"client": 0, "op": "reserve", "invoke": '
            '0, "complete": 1, "result": {"ok": null}, "drain": 1}\n',
            r"^line 2: drain must be true or false$",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_line_number(text, message):
    with pytest.raises(UsageError, match=message):
        from_jsonl(text)


def test_a_task_that_is_not_json_cannot_be_written():
    history = History(
        capabilities=Capabilities(),
        operations=[op(task={"id": "A", "priority": 1, "x": float("nan")})],
    )
    with pytest.raises(UsageError, match=r"^operation client 0 push 'A' .* is not JSON"):
        to_jsonl(history)


def test_a_bad_clock_is_refused():
    with pytest.raises(UsageError, match=r"^clock must be 'virtual' or 'queue', got 'wall'$"):
        History(capabilities=Capabilities(), operations=[], clock="wall")
