"""Tests of `mqspec.conformance.core.calls`: one call's outcome, and the one drain loop.

`outcome_of` is how the session, the recorder and the fault runs read an adapter's answer;
`drain_answers` is the drain loop all three run. And importing the session stays cheap: it
loads neither Hypothesis nor the crash runs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mqspec.adapters.base import OperationCut
from mqspec.conformance.core.calls import drain_answers, outcome_of
from mqspec.reference.errors import DriverError
from mqspec.reference.types import Failed, Ok, Outcome, Unknown


def _raise(err: BaseException):
    def action():
        raise err

    return action


def test_a_return_value_is_ok():
    assert outcome_of(lambda: {"id": "a"}) == (Ok({"id": "a"}), True)


def test_an_exception_is_the_queues_error_answer():
    assert outcome_of(_raise(ValueError("full"))) == (Failed("ValueError: full"), True)


def test_a_cut_is_unknown_and_did_not_complete():
    assert outcome_of(_raise(OperationCut("killed inside push"))) == (
        Unknown("killed inside push"),
        False,
    )
    assert outcome_of(_raise(OperationCut())) == (Unknown("cut by a crash"), False)


def test_a_harness_error_is_no_answer():
    with pytest.raises(DriverError):
        outcome_of(_raise(DriverError("the driver broke the protocol")))


def test_an_error_during_a_fault_is_the_faults_unknown():
    hit = Unknown("connection reset", reported_failure=True)
    outcome = outcome_of(_raise(OSError("reset")), lambda: hit)
    assert outcome == (Unknown("connection reset: OSError: reset", reported_failure=True), True)
    # With no fault active, the same error stays an error answer.
    assert outcome_of(_raise(OSError("reset")), lambda: None) == (Failed("OSError: reset"), True)


def _queue(*answers: Outcome):
    """A reserve that gives ``answers`` in turn, and the list of calls made."""
    given = list(answers)
    calls: list[Outcome] = []

    def reserve() -> Outcome:
        calls.append(given.pop(0))
        return calls[-1]

    return reserve, calls


def test_the_drain_stops_at_null():
    reserve, _ = _queue(Ok({"id": "a"}), Ok({"id": "b"}), Ok(None), Ok({"id": "never"}))
    assert list(drain_answers(reserve, 5)) == [Ok({"id": "a"}), Ok({"id": "b"}), Ok(None)]


def test_the_drain_is_bounded_by_the_live_jobs_plus_one():
    reserve, _ = _queue(*[Ok({"id": str(n)}) for n in range(10)])
    assert len(list(drain_answers(reserve, 2))) == 3


def test_an_error_ends_the_drain_unless_it_goes_past_errors():
    answers = (Failed("boom"), Ok({"id": "a"}), Ok(None))
    reserve, _ = _queue(*answers)
    assert list(drain_answers(reserve, 5)) == [Failed("boom")]
    reserve, _ = _queue(*answers)
    assert list(drain_answers(reserve, 5, past_errors=True)) == list(answers)
    reserve, _ = _queue(*answers)
    assert list(drain_answers(reserve, 1, past_errors=True)) == list(answers[:2])  # both count


def test_a_cut_reserve_is_waited_out_and_does_not_count():
    waits: list[int] = []
    cut = Unknown("cut")
    reserve, _ = _queue(cut, Ok({"id": "a"}), cut, Ok(None))
    got = list(drain_answers(reserve, 1, after_cut=lambda: waits.append(1)))
    assert got == [cut, Ok({"id": "a"}), cut, Ok(None)] and len(waits) == 2
    # Without a way to wait it out, a cut ends the drain.
    reserve, _ = _queue(cut, Ok(None))
    assert list(drain_answers(reserve, 1)) == [cut]


def test_cuts_are_waited_out_at_most_live_jobs_plus_one_times():
    cut = Unknown("cut")
    reserve, calls = _queue(*[cut] * 10)
    waits: list[int] = []
    list(drain_answers(reserve, 1, past_errors=True, after_cut=lambda: waits.append(1)))
    # Two cuts waited out, then two more counted as error answers: the bound still holds.
    assert len(waits) == 2 and len(calls) == 4


def test_importing_the_session_loads_neither_hypothesis_nor_the_crash_runs():
    code = (
        "import sys; import mqspec.conformance.core.session; "
        "loaded = [m for m in ('hypothesis', 'mqspec.conformance.faults.crash') "
        "if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
