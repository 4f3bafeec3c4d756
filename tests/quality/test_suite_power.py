"""The suite's power: every broken queue is caught on its clause; every correct variant passes.

A correct variant flagged here is a false alarm in the harness; a mutant that survives is a hole
in it. Slow by nature (every mutant is shrunk to a minimal program), so it has its own folder.
"""

from __future__ import annotations

import pytest

from mqspec.adapters.mutants import MUTANTS, Mutant
from mqspec.adapters.variants import CORRECT_VARIANTS
from mqspec.conformance.engine import RunFinished, RunResult, run
from mqspec.conformance.render import render_failure


def _result(factory, **options) -> RunResult:
    adapter = factory()
    try:
        for event in run(adapter, **options):
            if isinstance(event, RunFinished):
                return event.result
    finally:
        adapter.close()
    raise AssertionError("run() ended without RunFinished")


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
@pytest.mark.parametrize("seed", [0, 1])
def test_correct_variant_passes_strict(name: str, seed: int) -> None:
    """No false alarms: every allowed choice (MQ-ORDER-3, MQ-DELETE-4, slack, tokens,
    duplicate policy, capacity MQ-PUSH-3) passes, even in strict mode."""
    result = _result(CORRECT_VARIANTS[name], url=name, seed=seed, strict=True)
    assert result.verdict == "conforms", render_failure(result)
    assert not result.warnings


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught_on_its_clause(mutant: Mutant) -> None:
    result = _result(mutant.factory, url=mutant.name, strict=mutant.strict)
    assert result.verdict == "diverges", f"{mutant.name} survived: {mutant.doc}"
    named = {d.clause.id for d in result.divergences}
    assert named & mutant.clauses, (
        f"{mutant.name} was caught, but on {sorted(named)}, not on {sorted(mutant.clauses)}"
    )
    for divergence in result.divergences:
        assert divergence.transcript is not None and divergence.transcript.steps


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.strict], ids=lambda m: m.name)
def test_should_only_mutant_is_a_warning_when_not_strict(mutant: Mutant) -> None:
    """MQ-RESTORE-3 is a SHOULD: without --strict the queue conforms, with a warning."""
    result = _result(mutant.factory, url=mutant.name, strict=False)
    assert result.verdict == "conforms", render_failure(result)
    assert {w.clause.id for w in result.warnings} & mutant.clauses
    statuses = {c.clause.id: c.status for c in result.clauses}
    assert any(statuses[c] == "warn" for c in mutant.clauses)
