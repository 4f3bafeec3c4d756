"""Tests of `check` (mqspec.conformance.frontends.api): the whole suite as one call in a user's own
test."""

from __future__ import annotations

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import EmptyIsError, RestoreToTail
from mqspec.conformance import check
from mqspec.conformance.core import engine
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import RunResult
from mqspec.reference.errors import DriverError, UsageError


@pytest.fixture
def small_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", Profile("quick", examples=8, steps=15))


class Spy(MemoryQueue):
    closed = 0

    def close(self) -> None:
        Spy.closed += 1
        super().close()


def test_a_conforming_queue_returns_the_run_result():
    """The real "quick" profile, as a backend author would call it."""
    result = check(lambda: MemoryQueue())
    assert isinstance(result, RunResult)
    assert result.verdict == "conforms"
    assert result.url == "py:custom"
    assert result.profile == "quick"
    assert result.seed == 0
    assert not result.strict


def test_options_reach_the_run(small_profile):
    result = check(lambda: MemoryQueue(tokens=True), seed=4, strict=True, name="mine")
    assert (result.url, result.seed, result.strict) == ("mine", 4, True)
    assert {c.clause.id: c.status for c in result.clauses}["MQ-TOKEN-1"] == "pass"


def test_a_broken_queue_raises_assertion_error_naming_MQ_RESERVE_1(small_profile):
    with pytest.raises(AssertionError) as caught:
        check(EmptyIsError)
    text = str(caught.value)
    assert text.startswith("py:custom diverges from the contract (seed 0):")
    assert "MQ-RESERVE-1 (MUST)" in text
    assert "minimal program" in text


def test_a_should_finding_passes_with_a_warning_unless_strict_MQ_RESTORE_3(small_profile):
    result = check(RestoreToTail)
    assert [w.clause.id for w in result.warnings] == ["MQ-RESTORE-3"]
    with pytest.raises(AssertionError, match=r"MQ-RESTORE-3 \(SHOULD\)"):
        check(RestoreToTail, strict=True)


def test_the_adapter_is_closed_whatever_the_verdict(small_profile):
    Spy.closed = 0
    check(Spy)
    assert Spy.closed == 1

    class BrokenSpy(Spy, EmptyIsError):
        pass

    with pytest.raises(AssertionError):
        check(BrokenSpy)
    assert Spy.closed == 2


def test_a_queue_that_cannot_be_driven_is_a_driver_error(small_profile):
    class BrokenReset(Spy):
        def reset(self, now):
            raise OSError("disk gone")

    Spy.closed = 0
    with pytest.raises(DriverError, match=r"^the adapter failed to reset: OSError: disk gone$"):
        check(BrokenReset)
    assert Spy.closed == 1


def test_an_unknown_profile_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^unknown profile 'nope'"):
        check(MemoryQueue, profile="nope")
