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
            "*test_search?quick? PASSED*",
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
    result.stderr.fnmatch_lines(["*--mq-profile: unknown profile 'nope'; known: quick, *full*"])


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


def test_node_ids_have_a_module_path_and_select_one_test(pytester: pytest.Pytester):
    """JUnit's classname and a node id on the command line need the module in the id."""
    node = "mqspec/suite_tests.py::test_scenario[MQ-ORDER-1-higher_priority_first]"
    listed = pytester.runpytest_subprocess("--mq", "memory://", "--collect-only", "-q", *NO_CACHE)
    assert node in listed.outlines
    result = pytester.runpytest_subprocess("--mq", "memory://", node, "-v", *NO_CACHE)
    result.assert_outcomes(passed=1)
    assert any(line.startswith(f"{node} PASSED") for line in result.outlines)


def test_a_clause_or_a_group_is_selected_by_its_marker_MQ_ORDER_1(pytester: pytest.Pytester):
    one = pytester.runpytest_subprocess("--mq", "memory://", "-m", "mq_order_1", "-v", *NO_CACHE)
    one.assert_outcomes(passed=1)
    one.stdout.fnmatch_lines(["*test_scenario?MQ-ORDER-1-higher_priority_first? PASSED*"])
    group = pytester.runpytest_subprocess("--mq", "memory://", "-m", "mq_order", *NO_CACHE)
    group.assert_outcomes(passed=sum(s.clause.area == "ORDER" for s in SCENARIOS))
    markers = pytester.runpytest_subprocess("--mq", "memory://", "--markers", *NO_CACHE)
    markers.stdout.fnmatch_lines(["@pytest.mark.mq_loss_1: the suite's tests of MQ-LOSS-1"])


def test_each_profile_and_batch_is_a_search_test_of_its_own(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess(
        "--mq",
        "memory://",
        "--mq-profile",
        "quick,concurrency",
        "--mq-batches",
        "2",
        "--collect-only",
        "-q",
        *NO_CACHE,
    )
    searches = [line for line in result.outlines if "test_search" in line]
    assert searches == [
        "mqspec/suite_tests.py::test_search[quick-1of2]",
        "mqspec/suite_tests.py::test_search[quick-2of2]",
        "mqspec/suite_tests.py::test_search[concurrency]",
    ]


def test_a_broken_queue_fails_its_scenario_on_MQ_RESERVE_1(pytester: pytest.Pytester):
    """The plugin's scenarios on a broken queue: a failed test per scenario it breaks, named
    after the clause, with the finding and the answer. (The search is the soak test below.)"""
    pytester.makepyfile(brokenq=BROKEN_QUEUE)
    result = pytester.runpytest_subprocess(
        "--mq", "py:brokenq:make", "-k", "test_scenario", "-v", *NO_CACHE
    )
    assert result.parseoutcomes().get("failed", 0) >= 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_scenario?MQ-RESERVE-1-empty_is_null? FAILED*",
            "*MQ-RESERVE-1 (MUST): reserve failed*",
            "*-> error 'LookupError: no job'*",
        ]
    )


@pytest.mark.slow
@pytest.mark.soak
def test_the_cli_and_the_plugin_give_one_verdict_on_one_backend(
    pytester: pytest.Pytester, tmp_path
):
    """The same backend, profile and seed: the same clauses broken, from both front ends.

    A soak run: each front end runs the whole quick profile and shrinks the search's failure
    for the profile's 20 s, about 40 s in all; `make test` keeps the plugin's scenarios on the
    same queue (the test above)."""
    import json
    import re
    import subprocess
    import sys

    pytester.makepyfile(brokenq=BROKEN_QUEUE)
    url = "py:brokenq:make"
    plugin = pytester.runpytest_subprocess("--mq", url, *NO_CACHE)
    assert plugin.ret == pytest.ExitCode.TESTS_FAILED
    plugin_clauses = {
        m.group(1) for line in plugin.outlines if (m := re.match(r"(MQ-[A-Z]+-\d+) \(MUST\)", line))
    }
    report = tmp_path / "report"
    cli = subprocess.run(
        [sys.executable, "-m", "mqspec", "check", url, "--report", str(report)],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    cli_clauses = {d["clause"] for d in data["divergences"]}
    assert plugin_clauses == cli_clauses and "MQ-RESERVE-1" in cli_clauses


def test_the_concurrency_search_is_named_and_writes_its_history_and_timeline_MQ_RESERVE_3(
    pytester: pytest.Pytester,
):
    report = pytester.path / "mq-report"
    result = pytester.runpytest_subprocess(
        "--mq",
        "py:mqspec.adapters.selftest.race_mutants:PeekThenTake",
        "--mq-profile",
        "concurrency",
        "--mq-report",
        str(report),
        "-k",
        "test_search",
        *NO_CACHE,
    )
    result.assert_outcomes(failed=1, deselected=len(SCENARIOS))
    result.stdout.fnmatch_lines(["FAILED mqspec/suite_tests.py::test_search?concurrency? *"])
    names = sorted(p.name for p in report.iterdir())
    assert names == [
        "test_search[concurrency]-divergence-1.history.jsonl",
        "test_search[concurrency]-divergence-1.timeline.html",
    ]
    assert any(line.startswith("  files: ") and "timeline.html" in line for line in result.outlines)
