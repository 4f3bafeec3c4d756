"""The suite's power: every broken queue is caught on its clause; every correct variant passes.

This is ``mqspec selftest`` as tests, one test per catalogue entry so that xdist spreads them:
a correct variant flagged here is a false alarm in the harness; a mutant that survives is a
hole in it. Slow by nature, so it has its own folder and the ``slow`` mark. Each failure is
shrunk within 2 s here (`tests.conftest.short_shrinking`) instead of the profile's 20 s: what
these tests judge (caught on an expected clause, a non-empty program) is settled before
shrinking, which only makes the program smaller, and on these queues the smallest program is
reached within the first second or two (measured: the same lengths as with 20 s); the
remaining budget went to shrink passes that found nothing smaller. ``mqspec selftest`` itself,
and reports/selftest.md, keep the profile's budget. Each run (one queue, one profile, one
seed) happens once across this folder and ``tests/mutation``: the quick-profile runs of
the correct variants, seed 0, strict, are `tests.mutation.test_adapters_conform`'s,
so they are not repeated here (`test_each_selftest_run_is_made_once` holds the two together).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.catalogue import (
    CORRECT_VARIANTS,
    MUTANTS,
    SelftestQueue,
)
from mqspec.conformance.core.engine import RunFinished, RunResult, run
from mqspec.conformance.core.profiles import PROFILES, Profile
from mqspec.conformance.frontends import cli, selftest
from mqspec.conformance.frontends.render import render_failure
from mqspec.conformance.frontends.selftest import catalogue, check
from mqspec.reference.clauses import CATALOGUE
from tests.mutation import test_adapters_conform as mutation_run

REPO = Path(__file__).resolve().parents[2]
ENTRIES = catalogue()


# Every profile with at most `tests.conftest.TEST_SHRINK_SECONDS` of shrinking (docstring).
pytestmark = pytest.mark.usefixtures("short_shrinking")


def _run_by_the_mutation_tests(entry: SelftestQueue) -> bool:
    """Whether `tests.mutation.test_adapters_conform` makes this entry's selftest run: a
    correct variant on the quick profile, seed 0, strict (its defaults)."""
    return entry.kind == "variant" and entry.profile == "quick"


RUN_HERE = [e for e in ENTRIES if not _run_by_the_mutation_tests(e)]

# MAY clauses cannot be broken, only used: each is covered by a correct variant that makes the
# choice the clause allows, and must pass (no false alarm).
MAY_CHOSEN_BY = {
    "MQ-PUSH-3": "memory-capacity",  # refuses pushes at its declared capacity
    "MQ-ORDER-3": "reversed-ties",  # the other order among jobs that became ready together
    "MQ-DELETE-4": "ticker",  # restores late, within its slack: a Delete then may succeed
}


def _result(factory, **options) -> RunResult:
    adapter = factory()
    try:
        for event in run(adapter, **options):
            if isinstance(event, RunFinished):
                return event.result
    finally:
        adapter.close()
    raise AssertionError("run() ended without RunFinished")


@pytest.mark.slow
@pytest.mark.parametrize("entry", RUN_HERE, ids=lambda e: f"{e.kind}-{e.name}-{e.profile}")
def test_selftest_entry(entry: SelftestQueue) -> None:
    """Mutants: caught on one of their clauses, with a minimal program. Variants: conform in
    strict mode with no warning (MQ-ORDER-3, MQ-DELETE-4, MQ-PUSH-3 choices included)."""
    row = check(entry)
    assert row.ok, f"{entry.name} ({entry.profile}): {row.problem}"
    if entry.kind == "mutant":
        assert row.caught and row.first_divergence is not None
        if entry.profile != "concurrency":
            # A race found in a recorded history may not recur in the few parallel programs
            # of the quick settings; test_concurrency shrinks each race to a small program.
            assert row.program_length is not None and row.program_length > 0


def test_each_selftest_run_is_made_once() -> None:
    """The selftest runs left out here are exactly the mutation tests' memory runs, with the
    same settings (the quick profile, seed 0, strict), and every other entry is run here."""
    left_out = [e for e in ENTRIES if _run_by_the_mutation_tests(e)]
    assert [e.name for e in left_out] == list(mutation_run.CORRECT_VARIANTS)
    assert all(e.strict and e.factory is CORRECT_VARIANTS[e.name] for e in left_out)
    assert (mutation_run.PROFILE, mutation_run.SEED) == ("quick", 0)
    assert len(RUN_HERE) + len(left_out) == len(ENTRIES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
def test_correct_variant_passes_strict_on_another_seed(name: str) -> None:
    """No false alarms on a second seed either."""
    result = _result(CORRECT_VARIANTS[name], url=name, seed=1, strict=True)
    assert result.verdict == "conforms", render_failure(result)
    assert not result.warnings


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.strict], ids=lambda m: m.name)
def test_should_only_mutant_is_a_warning_when_not_strict(mutant: SelftestQueue) -> None:
    """MQ-RESTORE-3 is a SHOULD: without --strict the queue conforms, with a warning."""
    result = _result(mutant.factory, url=mutant.name, strict=False)
    assert result.verdict == "conforms", render_failure(result)
    assert {w.clause.id for w in result.warnings} & mutant.clauses
    statuses = {c.clause.id: c.status for c in result.clauses}
    assert any(statuses[c] == "warn" for c in mutant.clauses)


def test_the_catalogue_covers_every_clause_and_every_failure_family() -> None:
    """At least 25 mutants, each MUST and SHOULD clause the expected clause of one, each MAY
    clause chosen by a correct variant; every profile that targets a kind of bug is used."""
    assert len(MUTANTS) >= 25
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    assert all(m.doc for m in MUTANTS)
    covered = set().union(*(m.clauses for m in MUTANTS))
    for clause in CATALOGUE.values():
        if clause.withdrawn:
            continue
        if clause.level == "MAY":
            assert MAY_CHOSEN_BY[clause.id] in CORRECT_VARIANTS, clause.id
        else:
            assert clause.id in covered, f"no mutant is expected to break {clause.id}"
    assert {m.profile for m in MUTANTS} == {"quick", "concurrency", "faults", "crash"}
    assert len(CORRECT_VARIANTS) >= 6


@pytest.fixture
def small_quick_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small quick profile for the tests of the command itself: they check what it prints
    and writes, not the search's power, and must not repeat the runs the tests above make."""
    monkeypatch.setitem(PROFILES, "quick", Profile("quick", examples=8, steps=15, crash_check=2))


@pytest.mark.usefixtures("small_quick_profile")
def test_selftest_exits_1_when_a_mutant_survives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A "mutant" that is in fact correct survives: the command must say so and exit 1."""
    fake = SelftestQueue(name="not-broken", factory=MemoryQueue, clauses=frozenset({"MQ-ORDER-2"}))
    monkeypatch.setattr(cli.selftest_command, "catalogue", lambda: (fake,))
    outcome = CliRunner().invoke(cli.main, ["selftest"])
    assert outcome.exit_code == 1, outcome.output
    assert "FAIL mutant  not-broken" in outcome.output
    assert "survived: no divergence" in outcome.output


@pytest.mark.usefixtures("small_quick_profile")
def test_selftest_exits_0_and_writes_the_table(tmp_path: Path) -> None:
    table = tmp_path / "selftest.md"
    outcome = CliRunner().invoke(
        cli.main,
        ["selftest", "--only", "push-echoes-key", "--only", "memory-reject", "--write", table],
    )
    assert outcome.exit_code == 0, outcome.output
    text = table.read_text(encoding="utf-8")
    assert "Caught 1 of 1 broken queues" in text and "0 false alarms on 1 runs" in text
    assert "| push-echoes-key | mutant | quick | MQ-PUSH-1 | yes | MQ-PUSH-1 |" in text


def test_selftest_refuses_an_unknown_name() -> None:
    outcome = CliRunner().invoke(cli.main, ["selftest", "--only", "nope"])
    assert outcome.exit_code == 2
    assert "no catalogue entry named nope" in outcome.output


def test_the_checked_in_table_lists_the_whole_catalogue_all_caught() -> None:
    """reports/selftest.md is regenerated with `mqspec selftest --write reports/selftest.md`."""
    text = (REPO / "reports" / "selftest.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    listed = [(r.split("|")[1].strip(), r.split("|")[3].strip().split()[0]) for r in rows[1:]]
    assert listed == [(e.name, e.profile) for e in ENTRIES], "stale: regenerate the table"
    assert all(r.rstrip().endswith("| yes |") for r in rows[1:])
    assert selftest.render_markdown([]).splitlines()[0] == text.splitlines()[0]
