"""Detection benchmark: how fast the search finds each broken queue, and how small it shrinks it.

For every mutant of the catalogue (`mqspec.adapters.selftest.catalogue.MUTANTS`) and several
seeds, run the profile that targets it, as ``mqspec selftest`` does
(`mqspec.conformance.frontends.selftest.check`: the scenarios, then the search), and record
whether an expected clause was named, the time to the first divergence, and the length of the
minimal program (transcript steps; for concurrency, the operations of the minimal parallel
program).

``--search-only`` runs the search alone (`mqspec.conformance.core.engine.run_search`: the state
machine, with faults or crashes, or the concurrent clients) WITHOUT the scenarios, which catch
most mutants in milliseconds and would hide the search's own power: the harder measure. A run
that named only other clauses is shown with them, so a miss and a catch on another clause
can be told apart.

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

from mqspec.adapters.selftest.catalogue import MUTANTS, SelftestQueue
from mqspec.conformance.core.engine import run_search
from mqspec.conformance.frontends.selftest import check

Outcome = tuple[bool, float | None, int | None, float, set[str]]


def _profile_run(mutant: SelftestQueue, seed: int) -> Outcome:
    """(caught, seconds to first divergence, program length, seconds, clauses named)."""
    row = check(mutant, seed=seed)
    return row.caught, row.first_divergence, row.program_length, row.elapsed, set(row.reported)


def _one(mutant: SelftestQueue, seed: int) -> Outcome:
    """The search alone: the same figures as `_profile_run`."""
    adapter = mutant.factory()
    started = time.monotonic()
    caught, first, length = False, None, None
    named: set[str] = set()
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
            if divergence is not None:
                named.add(divergence.clause.id)
            if divergence is None or divergence.clause.id not in mutant.clauses:
                continue
            caught = True
            if done.concurrency is not None:
                first = time.monotonic() - started
                length = done.concurrency.program_size or None
            else:
                first = done.found_after
                assert divergence.transcript is not None
                length = len(divergence.transcript.steps)
    finally:
        adapter.close()
    return caught, first, length, time.monotonic() - started, named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per mutant (0..N-1)")
    parser.add_argument("--only", action="append", default=[], help="mutant name (repeatable)")
    parser.add_argument(
        "--search-only", action="store_true", help="the search without the scenarios"
    )
    args = parser.parse_args()
    measure = _one if args.search_only else _profile_run
    print("mode:", "search only" if args.search_only else "the profile, as mqspec selftest")
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    firsts: list[float] = []
    lengths: list[int] = []
    missed = 0
    print(f"{'mutant':28} {'profile':11} caught  first: median  worst   program  run(s)")
    for mutant in mutants:
        runs = [measure(mutant, seed) for seed in range(args.seeds)]
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
        others = sorted(set().union(*(r[4] for r in runs if not r[0])))
        note = (
            f"  (missed runs named: {', '.join(others) or 'nothing'})"
            if others or len(hits) < len(runs)
            else ""
        )
        print(
            f"{mutant.name:28} {mutant.profile:11} {len(hits)}/{len(runs)}   "
            f"{median} {worst}  {size}  {total:7.1f}{note}",
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
