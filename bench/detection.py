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

``--real-clock`` runs the real-clock catalogue instead
(`mqspec.conformance.frontends.selftest.real_clock_catalogue`: every quick-profile queue on its
own monotonic clock, T = 1 s), correct variants included, ``--jobs`` queues at once (they sleep
almost all of their time), and prints the issue's real-clock targets: every mutant that can show
on a real clock caught on an expected clause, median time to first divergence under 20 s, and no
false alarm on the correct variants (strict). Entries the real-clock catalogue does not run are
listed with the reason.

    .venv/bin/python bench/detection.py                 # 5 seeds, every mutant
    .venv/bin/python bench/detection.py --seeds 3 --only restore-to-tail
    .venv/bin/python bench/detection.py --real-clock --seeds 3 --jobs 2   # about 100 minutes
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mqspec.adapters.selftest.catalogue import MUTANTS, SelftestQueue
from mqspec.conformance.core.engine import run_search
from mqspec.conformance.frontends.selftest import Row, check, real_clock_catalogue

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


def _real_clock(seeds: int, only: list[str], jobs: int, budget: float, workers: int) -> None:
    """The real-clock catalogue over ``seeds`` seeds, ``jobs`` entries at once."""
    entries = [e for e in real_clock_catalogue() if not only or e.name in only]
    for entry in entries:
        if entry.not_run:
            print(f"not run  {entry.kind:7} {entry.name:28} {entry.not_run}")
    runnable = [e for e in entries if not e.not_run]
    pairs = [(e, seed) for e in runnable for seed in range(seeds)]
    started = time.monotonic()

    def one(pair: tuple[Any, int]) -> Row:
        row = check(pair[0], seed=pair[1], budget=budget, workers=workers)
        # A line per run on stderr as it ends: the table comes only at the end of a run that
        # takes over an hour, and a false alarm seen early is worth stopping for.
        verdict = "ok" if row.ok else "NOT OK"
        print(
            f"[{time.monotonic() - started:7.1f}s] {row.entry.kind} {row.entry.name} "
            f"({row.entry.profile}) "
            f"seed {pair[1]}: {verdict} {', '.join(row.reported) or '-'}"
            + (f" ({row.problem})" if row.problem else ""),
            file=sys.stderr,
            flush=True,
        )
        return row

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows: list[Row] = list(pool.map(one, pairs))
    took = time.monotonic() - started
    print(f"{'entry':50} {'ok':>5}  first: median  worst   program  run(s)  named")
    firsts: list[float] = []
    caught = alarms = errors = mutant_runs = variant_runs = 0
    for entry in runnable:
        # One correct queue may be an entry under several profiles (memory: realtime, faults,
        # concurrency): a row per entry, so a run is counted once, under its own profile.
        mine = [r for r in rows if r.entry is entry]
        good = sum(r.ok for r in mine)
        times = sorted(r.first_divergence for r in mine if r.first_divergence is not None)
        sizes = sorted(r.program_length for r in mine if r.program_length is not None)
        if entry.kind == "mutant":
            mutant_runs += len(mine)
            caught += good
            firsts += [r.first_divergence for r in mine if r.ok and r.first_divergence is not None]
        else:
            variant_runs += len(mine)
            # A false alarm names a clause; a run that could not be carried out is an error.
            alarms += sum(not r.ok and r.verdict != "error" for r in mine)
            errors += sum(r.verdict == "error" for r in mine)
        named = sorted({c for r in mine for c in r.reported})
        problems = sorted({r.problem for r in mine if r.problem})
        median = f"{statistics.median(times):6.1f}" if times else "     -"
        worst = f"{times[-1]:6.1f}" if times else "     -"
        size = f"{statistics.median(sizes):7.1f}" if sizes else "      -"
        total = sum(r.elapsed for r in mine)
        label = f"{entry.kind} {entry.name} ({entry.profile})"
        print(
            f"{label:50} {good}/{len(mine)}  {median} {worst}  {size}  "
            f"{total:7.1f}  {', '.join(named) or '-'}"
            + (f"  ({'; '.join(problems)})" if problems else ""),
            flush=True,
        )
    print()
    print(f"real clock, {seeds} seeds, {jobs} entries at once: {took:.0f} s in all")
    print(f"mutants caught on an expected clause: {caught}/{mutant_runs} runs (target: all)")
    if firsts:
        print(
            f"time to first divergence: median {statistics.median(firsts):.1f} s (target < 20), "
            f"worst {max(firsts):.1f} s"
        )
    print(f"false alarms on correct variants: {alarms}/{variant_runs} runs (target: 0)")
    print(f"correct variants' runs that could not be carried out: {errors}/{variant_runs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per mutant (0..N-1)")
    parser.add_argument("--only", action="append", default=[], help="mutant name (repeatable)")
    parser.add_argument(
        "--search-only", action="store_true", help="the search without the scenarios"
    )
    parser.add_argument("--real-clock", action="store_true", help="the real-clock catalogue")
    parser.add_argument("--jobs", type=int, default=2, help="--real-clock: entries at once")
    parser.add_argument("--budget", type=float, default=20.0, help="--real-clock: search budget")
    parser.add_argument("--workers", type=int, default=4, help="--real-clock: workers per entry")
    args = parser.parse_args()
    if args.real_clock:
        _real_clock(args.seeds, args.only, args.jobs, args.budget, args.workers)
        return
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
