"""Detection benchmark: how fast the search finds each broken queue, and how small it shrinks it.

For every mutant of the catalogue (`mqspec.adapters.mutants.MUTANTS`) and several seeds, run the
search of the profile that targets it (`mqspec.conformance.engine.run_search`: the state
machine, with faults or crashes, or the concurrent clients) WITHOUT the scenarios, which catch
most mutants in milliseconds and would hide the search's own power. Per run it records whether
an expected clause was named, the time to the first failing case (before shrinking; for the
concurrency profile, the whole check), and the length of the shrunk program (transcript steps;
for concurrency, the operations of the minimal parallel program).

Prints one line per mutant (caught on every seed, median and worst time to first divergence,
median program length) and the totals against the issue's targets on the quick profile: every
mutant caught on every seed; median time to first divergence under 3 s, worst under 30 s;
median minimal program at most 8 steps.

    .venv/bin/python bench/detection.py                 # 5 seeds, every mutant
    .venv/bin/python bench/detection.py --seeds 3 --only restore-to-tail
"""

from __future__ import annotations

import argparse
import statistics
import time

from mqspec.adapters.mutants import MUTANTS, Mutant
from mqspec.conformance.engine import ConcurrencyDone, run_search


def _one(mutant: Mutant, seed: int) -> tuple[bool, float | None, int | None, float]:
    """(caught, seconds to first divergence, program length, seconds in all) for one seed."""
    adapter = mutant.factory()
    started = time.monotonic()
    caught, first, length = False, None, None
    try:
        for done in run_search(
            adapter,
            mutant.profile,
            url=mutant.url or f"bench:{mutant.name}",
            opened_url=mutant.url,
            strict=mutant.strict,
            seed=seed,
        ):
            divergence = done.divergence
            if divergence is None or divergence.clause.id not in mutant.clauses:
                continue
            caught = True
            if isinstance(done, ConcurrencyDone):
                first = time.monotonic() - started
                program = done.outcome.program
                length = program.size if program is not None else None
            else:
                first = done.found_after
                assert divergence.transcript is not None
                length = len(divergence.transcript.steps)
    finally:
        adapter.close()
    return caught, first, length, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per mutant (0..N-1)")
    parser.add_argument("--only", action="append", default=[], help="mutant name (repeatable)")
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    firsts: list[float] = []
    lengths: list[int] = []
    missed = 0
    print(f"{'mutant':28} {'profile':11} caught  first: median  worst   program  run(s)")
    for mutant in mutants:
        runs = [_one(mutant, seed) for seed in range(args.seeds)]
        hits = [r for r in runs if r[0]]
        missed += len(runs) - len(hits)
        times = sorted(r[1] for r in hits if r[1] is not None)
        sizes = sorted(r[2] for r in hits if r[2] is not None)
        firsts += times
        lengths += sizes
        median = f"{statistics.median(times):6.2f}" if times else "     -"
        worst = f"{times[-1]:6.2f}" if times else "     -"
        size = f"{statistics.median(sizes):7.1f}" if sizes else "      -"
        total = sum(r[3] for r in runs)
        print(
            f"{mutant.name:28} {mutant.profile:11} {len(hits)}/{len(runs)}   "
            f"{median} {worst}  {size}  {total:7.1f}",
            flush=True,
        )
    print()
    runs_total = len(mutants) * args.seeds
    print(f"caught on every seed: {runs_total - missed}/{runs_total} runs (target: all)")
    if firsts:
        print(
            f"time to first divergence: median {statistics.median(firsts):.2f} s (target < 3), "
            f"worst {max(firsts):.2f} s (target < 30)"
        )
    if lengths:
        print(f"minimal program: median {statistics.median(lengths):.1f} steps (target <= 8)")


if __name__ == "__main__":
    main()
