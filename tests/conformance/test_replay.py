"""Tests of ``mqspec replay`` (`mqspec.conformance.frontends.replay`, and its command in
``cli/replay_command.py``).

A divergence the engine found against a mutant must still diverge when replayed against that
mutant (exit 1) and must pass against a conforming queue (exit 0, "no divergence: fixed").
Anything that is not a transcript, or a backend that cannot be opened or driven, exits 2 with
a one-line cause. The state machine runs with a small profile (monkeypatched over "quick").
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import (
    EmptyIsError,
    NeverRestores,
    RestoreToTail,
    TokensIgnored,
)
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import RunFinished
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.transcript import Step, Transcript
from mqspec.conformance.frontends.cli import main
from mqspec.conformance.frontends.replay import ReplayedStep, ReplayFinished, answer, replay
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Failed, Ok, Unknown

SMALL = Profile("quick", examples=10, steps=15)
EMPTY_IS_ERROR = "py:mqspec.adapters.selftest.mutants:EmptyIsError"
A = {"id": "a", "priority": 1}


@pytest.fixture(autouse=True)
def small_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def result_of(adapter, url: str, strict: bool = False) -> RunResult:
    try:
        last = list(run(adapter, url=url, strict=strict))[-1]
    finally:
        adapter.close()
    assert isinstance(last, RunFinished)
    return last.result


def invoke(*args: str):
    return CliRunner().invoke(main, ["replay", *args])


def save(transcript: Transcript, name: str = "t.jsonl") -> str:
    Path(name).write_text(transcript.to_jsonl(), encoding="utf-8")
    return name


# -- divergences the engine found ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("short_shrinking")  # every program it finds must replay, shrunk or not
@pytest.mark.parametrize(
    ("factory", "name"), [(EmptyIsError, "EmptyIsError"), (NeverRestores, "NeverRestores")]
)
def test_engine_divergence_still_diverges_on_the_mutant_and_passes_on_memory(factory, name):
    result = result_of(factory(), f"py:mqspec.adapters.selftest.mutants:{name}")
    assert result.divergences
    for n, divergence in enumerate(result.divergences, start=1):
        path = save(divergence.transcript, f"d{n}.jsonl")
        broken = invoke(path)
        assert broken.exit_code == 1, broken.output
        assert broken.stdout.splitlines()[-1] == (
            f"still diverges at step {len(divergence.transcript.steps)} of "
            f"{len(divergence.transcript.steps)}"
        )
        assert f"{divergence.clause.id} ({divergence.clause.level}): " in broken.stdout
        fixed = invoke(path, "--url", "memory://")
        assert fixed.exit_code == 0, fixed.output
        assert fixed.stdout.splitlines()[-1] == "no divergence: fixed"


@pytest.mark.slow
@pytest.mark.usefixtures("short_shrinking")  # how the program replays, not its size
def test_strict_divergence_needs_strict_to_diverge_again():
    url = "py:mqspec.adapters.selftest.mutants:RestoreToTail"
    result = result_of(RestoreToTail(), url, strict=True)
    (divergence,) = [d for d in result.divergences if d.clause.id == "MQ-RESTORE-3"]
    path = save(divergence.transcript)
    lenient = invoke(path)
    assert lenient.exit_code == 0
    assert any(
        line.startswith("warning: MQ-RESTORE-3 (SHOULD): ") for line in lenient.stdout.splitlines()
    )
    assert invoke(path, "--strict").exit_code == 1


# -- the per-step output, pinned ---------------------------------------------------------------

EMPTY_CASE = Transcript(
    EmptyIsError().capabilities,
    url=EMPTY_IS_ERROR,
    steps=[
        Step(0.0, "push", A, Ok(A)),
        Step(0.0, "reserve", None, Ok(A)),
        Step(0.0, "delete", A, Ok(None)),
        Step(1.0, "advance"),
        Step(1.0, "drain", None, Failed("LookupError: queue is empty")),
    ],
)

STEP_LINES = [
    "  1. t=0          s.push({'id': 'a', 'priority': 1})",
    "     now: ok 'a' | recorded: ok 'a' | ok",
    "  2. t=0          s.reserve()",
    "     now: ok 'a' | recorded: ok 'a' | ok",
    "  3. t=0          s.delete({'id': 'a', 'priority': 1})",
    "     now: ok | recorded: ok | ok",
    "  4. t=1          advance",
    "  5. t=1          s.reserve(final=True)",
]


def test_output_on_the_mutant_is_pinned():
    out = invoke(save(EMPTY_CASE))
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines[0] == f"replaying t.jsonl against {EMPTY_IS_ERROR} (5 steps)"
    assert lines[1:9] == STEP_LINES
    assert lines[9] == (
        "     now: error 'LookupError: queue is empty' | recorded: error 'LookupError: queue is "
        "empty' | DIVERGES MQ-RESERVE-1 (MUST): reserve failed"
    )
    assert lines[10:15] == [
        "",
        "MQ-RESERVE-1 (MUST): reserve failed",
        "  allowed:  null",
        "  observed: error 'LookupError: queue is empty'",
        "  found by: replay",
    ]
    assert lines[-1] == "still diverges at step 5 of 5"
    assert out.stderr == ""


def test_output_when_fixed_is_pinned():
    out = invoke(save(EMPTY_CASE), "--url", "memory://")
    assert out.exit_code == 0
    assert out.stdout.splitlines() == [
        "replaying t.jsonl against memory:// (5 steps)",
        *STEP_LINES,
        "     now: null | recorded: error 'LookupError: queue is empty' | ok",
        "",
        "no divergence: fixed",
    ]


def test_a_capability_mismatch_is_noted():
    out = invoke(save(EMPTY_CASE), "--url", "memory://?tokens=1")
    assert out.exit_code == 0
    assert out.stdout.splitlines()[1].startswith("note: recorded under {")
    # JSON, as the driver's author wrote it in hello, not a Python repr
    assert '"reservation_tokens": true' in out.stdout.splitlines()[2]
    assert not {"True", "None", "False"} & set(
        re.findall(r"\w+", " ".join(out.stdout.splitlines()[1:3]))
    )


# -- reservation tokens ------------------------------------------------------------------------

TOKENS = MemoryQueue(tokens=True).capabilities
STALE = Transcript(
    TOKENS,
    url="memory://?tokens=1",
    steps=[
        Step(0.0, "push", A, Ok(A)),
        Step(0.0, "reserve", None, Ok({**A, "_mq_token": "old-1"})),
        Step(60.0, "advance"),
        Step(60.0, "reserve", None, Ok({**A, "_mq_token": "old-2"})),
        Step(60.0, "delete", {**A, "_mq_token": "old-1"}, Failed("LookupError: stale")),
        Step(60.0, "delete", {**A, "_mq_token": "forged"}, Failed("LookupError: stale")),
        Step(60.0, "delete", {**A, "_mq_token": "old-2"}, Ok(None)),
    ],
)


def test_recorded_tokens_are_mapped_to_this_runs_tokens_and_forged_ones_kept():
    adapter = MemoryQueue(tokens=True)
    events = list(replay(STALE, adapter, url="memory://?tokens=1"))
    steps = [e for e in events if isinstance(e, ReplayedStep)]
    first, second = steps[1].outcome.value["_mq_token"], steps[3].outcome.value["_mq_token"]
    assert {first, second}.isdisjoint({"old-1", "old-2"})
    assert steps[4].call == f"s.delete({ {**A, '_mq_token': first}!r})"
    assert steps[5].call == f"s.delete({ {**A, '_mq_token': 'forged'}!r})"
    assert steps[6].call == f"s.delete({ {**A, '_mq_token': second}!r})"
    assert [answer(s.recorded.op, s.outcome)[:5] for s in steps[4:]] == ["error", "error", "ok"]
    assert isinstance(events[-1], ReplayFinished) and events[-1].fixed


def test_stale_token_delete_still_diverges_on_a_queue_that_ignores_tokens(monkeypatch):
    fakes = types.ModuleType("mqspec_replay_fakes")
    fakes.tokens_ignored = TokensIgnored  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mqspec_replay_fakes", fakes)
    out = invoke(save(STALE), "--url", "py:mqspec_replay_fakes:tokens_ignored")
    assert out.exit_code == 1
    assert "DIVERGES MQ-DELETE-5 (MUST): " in out.stdout


def test_tokens_are_left_alone_when_the_recording_declares_none():
    plain = Transcript(MemoryQueue().capabilities, url="memory://", steps=STALE.steps[:5])
    events = list(replay(plain, MemoryQueue(tokens=True), url="memory://"))
    assert events[4].call == f"s.delete({ {**A, '_mq_token': 'old-1'}!r})"


def test_a_missing_advance_is_filled_in():
    gap = Transcript(MemoryQueue().capabilities, steps=[Step(5.0, "push", A, Ok(A))])
    events = list(replay(gap, MemoryQueue(), url="memory://"))
    assert events[-1].fixed and events[0].recorded.now == 5.0


def test_answer_forms():
    assert answer("reserve", Ok(None)) == "null"
    assert answer("delete", Ok(None)) == "ok"
    assert answer("push", Ok(A)) == "ok 'a'"
    assert answer("push", Failed("ValueError: bad\nline 2")) == "error 'ValueError: bad line 2'"
    assert answer("push", Unknown("cut\noff")) == "unknown (cut off)"
    assert answer("advance", None) == "-"


# -- exit 2 ------------------------------------------------------------------------------------


def one_line_error(out, expected: str) -> None:
    assert out.exit_code == 2, out.output
    assert out.stderr == expected + "\n"
    assert out.stdout == ""


def test_malformed_file_exits_2():
    Path("junk.jsonl").write_text("not json\n", encoding="utf-8")
    one_line_error(
        invoke("junk.jsonl"),
        "mqspec: 'junk.jsonl' is not an mqspec transcript: transcript line 1 is not a transcript "
        "header: Expecting value: line 1 column 1 (char 0)",
    )


def test_bad_step_names_its_line():
    text = EMPTY_CASE.to_jsonl().splitlines()
    Path("bad.jsonl").write_text("\n".join([text[0], '{"t": 0, "op": "fly"}']), encoding="utf-8")
    out = invoke("bad.jsonl")
    assert out.exit_code == 2
    assert out.stderr.startswith(
        "mqspec: 'bad.jsonl' is not an mqspec transcript: transcript line 2: "
    )
    assert out.stderr.count("\n") == 1


def test_empty_and_missing_files_exit_2():
    Path("empty.jsonl").write_text("", encoding="utf-8")
    one_line_error(
        invoke("empty.jsonl"), "mqspec: 'empty.jsonl' is not an mqspec transcript: empty transcript"
    )
    one_line_error(
        invoke("gone.jsonl"), "mqspec: cannot read 'gone.jsonl': No such file or directory"
    )


def test_unknown_url_exits_2():
    out = invoke(save(EMPTY_CASE), "--url", "nope://x")
    assert out.exit_code == 2
    assert out.stderr.startswith("mqspec: cannot open nope://x: unknown queue URL scheme 'nope'")
    assert out.stderr.count("\n") == 1


def test_recorded_backend_gone_suggests_url(tmp_path):
    gone = f"sqlite://{tmp_path / 'scratch' / 'queue.db'}"
    path = save(Transcript(MemoryQueue().capabilities, url=gone, steps=EMPTY_CASE.steps))
    out = invoke(path)
    assert out.exit_code == 2
    assert out.stderr.startswith(f"mqspec: cannot open {gone}: ")
    assert out.stderr.endswith(" (pass --url to replay against another backend)\n")


def test_backend_that_cannot_be_driven_exits_2(monkeypatch):
    class TickFails(MemoryQueue):
        def tick(self, now):
            raise OSError("ticker died")

    fakes = types.ModuleType("mqspec_replay_fakes")
    fakes.tick_fails = TickFails  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mqspec_replay_fakes", fakes)
    out = invoke(save(EMPTY_CASE), "--url", "py:mqspec_replay_fakes:tick_fails")
    assert out.exit_code == 2
    assert out.stderr == (
        "mqspec: replay of t.jsonl could not run: the adapter's tick(1.0) failed: "
        "OSError: ticker died\n"
    )


# -- restarts (MQ-DURABLE-1) ---------------------------------------------------------------------


class Durable(MemoryQueue):
    """Declares durable; restart() keeps every job, as a durable queue must."""

    restarts = 0

    @property
    def capabilities(self):
        return attrs.evolve(super().capabilities, durable=True)

    def restart(self):
        self.restarts += 1


CRASHED = Transcript(
    Durable().capabilities,
    url="exec:python -m mqspec.adapters.host sqlite:///q.db",
    steps=[
        Step(0.0, "push", A, Ok(A)),
        Step(0.0, "restart"),
        Step(1.0, "advance"),
        Step(1.0, "reserve", None, Ok(None)),
    ],
)


def test_restart_steps_restart_a_queue_that_can_restart():
    queue = Durable()
    seen = list(replay(CRASHED, queue, url="py:durable"))
    assert [e.call for e in seen[:-1]] == [
        f"s.push({A!r})",
        "s.restart()",
        "s.advance_to(1.0)",
        "s.reserve()",
    ]
    assert queue.restarts == 1
    assert seen[-1].fixed  # the job came back after the restart: the null was the bug


def test_restart_steps_need_a_queue_that_can_restart():
    with pytest.raises(UsageError) as caught:
        list(replay(CRASHED, MemoryQueue(), url="memory://"))
    assert str(caught.value) == (
        "step 2 restarts the queue, and memory:// cannot be restarted from here (it needs "
        "restart() and durable=True); replay with --url "
        "'exec:python -m mqspec.adapters.host memory://'"
    )
