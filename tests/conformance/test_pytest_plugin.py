"""Tests of the ``mqspec`` pytest plugin (mqspec.conformance.frontends.pytest_plugin and
suite_tests.py).

Each test runs ``pytest --mq URL`` in a subprocess in a scratch directory, as a backend author
would, with the real "quick" profile (a subprocess cannot be monkeypatched).
"""

from __future__ import annotations

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.conformance.core.scenarios import SCENARIOS

pytest_plugins = ["pytester"]

NO_CACHE = ("-p", "no:cacheprovider")

BROKEN_QUEUE = """
from mqspec.adapters.memory import MemoryQueue


class EmptyRaises(MemoryQueue):
    def reserve(self, now):
        out = super().reserve(now)
        if out is None:
            raise LookupError("no job")
        return out


def make():
    return EmptyRaises()
"""


@pytest.mark.slow
def test_memory_conforms(pytester: pytest.Pytester):
    caps = MemoryQueue().capabilities
    skipped = [s for s in SCENARIOS if s.skip_reason(caps)]
    result = pytester.runpytest_subprocess("--mq", "memory://", "-v", "-rs", *NO_CACHE)
    result.assert_outcomes(passed=len(SCENARIOS) - len(skipped) + 1, skipped=len(skipped))
    assert result.ret == pytest.ExitCode.OK
    # One test per scenario, named after its clause, and one for the state machine.
    result.stdout.fnmatch_lines(
        [
            "*test_scenario?MQ-RESERVE-1-empty_is_null? PASSED*",
            "*test_state_machine PASSED*",
            "*SKIPPED*MQ-TOKEN-1: the queue does not declare reservation_tokens*",
        ]
    )


def test_mq_with_equals_sign_runs_the_suite(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--mq=memory://", "-k", "MQ-ORDER-1", *NO_CACHE)
    result.assert_outcomes(passed=1)


def test_without_mq_the_suite_is_not_collected(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess(*NO_CACHE)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_unknown_profile_is_a_usage_error(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--mq", "memory://", "--mq-profile", "nope", *NO_CACHE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mq-profile*invalid choice*'nope'*"])


@pytest.mark.slow
def test_a_broken_queue_fails_on_MQ_RESERVE_1(pytester: pytest.Pytester):
    pytester.makepyfile(brokenq=BROKEN_QUEUE)
    result = pytester.runpytest_subprocess("--mq", "py:brokenq:make", "-v", *NO_CACHE)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_scenario?MQ-RESERVE-1-empty_is_null? FAILED*",
            "*MQ-RESERVE-1 (MUST): reserve failed*",
            "*-> error 'LookupError: no job'*",
        ]
    )


def test_strict_fails_a_tail_restoring_queue_on_MQ_RESTORE_3(pytester: pytest.Pytester):
    # Only the scenarios: in strict mode the state machine also fails, and shrinking its
    # example takes about 40 s.
    result = pytester.runpytest_subprocess(
        "--mq",
        "py:mqspec.adapters.selftest.mutants:RestoreToTail",
        "--mq-strict",
        "-k",
        "test_scenario",
        "-v",
        *NO_CACHE,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*test_scenario?MQ-RESTORE-3-seed_example_a_b_c? FAILED*"])
    # Other scenarios that restore a job fail too, every one on the SHOULD clause alone.
    failed = result.parseoutcomes()["failed"]
    findings = [line for line in result.outlines if line.startswith("MQ-RESTORE-3 (SHOULD): ")]
    assert len(findings) == failed >= 1
    assert not any("(MUST)" in line for line in result.outlines)


def test_should_findings_are_their_own_warning_class_MQ_RESTORE_3(pytester: pytest.Pytester):
    """`-W error::...ShouldWarning` turns SHOULD findings (and nothing else) into failures."""
    result = pytester.runpytest_subprocess(
        "--mq",
        "py:mqspec.adapters.selftest.mutants:RestoreToTail",
        "-k",
        "test_scenario and MQ-RESTORE-3",
        "-W",
        "error::mqspec.conformance.core.violations.ShouldWarning",
        *NO_CACHE,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["failed"] == 1


def test_without_strict_a_tail_restoring_queue_passes_with_a_warning_MQ_RESTORE_3(
    pytester: pytest.Pytester,
):
    result = pytester.runpytest_subprocess(
        "--mq",
        "py:mqspec.adapters.selftest.mutants:RestoreToTail",
        "-k",
        "test_scenario",
        "-v",
        *NO_CACHE,
    )
    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("warnings", 0) >= 1
    result.stdout.fnmatch_lines(
        [
            "*test_scenario?MQ-RESTORE-3-seed_example_a_b_c? PASSED*",
            "*warnings summary*",
            "*ShouldWarning: MQ-RESTORE-3 (SHOULD): *",
        ]
    )
