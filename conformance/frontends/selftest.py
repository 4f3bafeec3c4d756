"""The suite checks itself: every broken queue must be caught, every correct variant must pass.

Responsibility: ``mqspec selftest`` and the quality tests. `catalogue` is
`mqspec.adapters.selftest.catalogue.SELFTEST_QUEUES`: every broken queue (each with the clauses
that may name it and the profile that must catch it) and every correct queue (each with the
profile it must pass, in strict mode, so that SHOULD findings count as false alarms too).
`check` runs the engine on one entry and returns a `Row`: caught or not, the clauses reported,
the time to the first divergence, the length of the minimal program. `render_markdown` makes
the table ``reports/selftest.md`` holds.

A row is ``ok`` when a mutant diverges on one of its clauses (in strict mode for a SHOULD-only
bug), or a correct variant conforms with no warning; anything else is a hole in the suite or a
false alarm, and ``mqspec selftest`` exits 1.

Time to first divergence: from the start of the run to the first divergence observed (a
scenario's, or the first failing case of the state machine, before shrinking); for the
concurrency profile, the end of the concurrency check, which does not time its first finding.
Minimal program: the steps of the shortest program that shows an expected clause (for the
concurrency profile, the operations of the shrunk parallel program).

Forbidden imports: click, pytest (front ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.ownclock import own_clock
from mqspec.adapters.selftest.catalogue import SELFTEST_QUEUES, SelftestQueue
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import PhaseDone, RunFinished, ScenarioDone
from mqspec.conformance.core.results import RunResult
from mqspec.reference.errors import MqspecError

__all__ = [
    "Row",
    "catalogue",
    "check",
    "real_clock_catalogue",
    "render_markdown",
    "run_selftest",
]


@attrs.frozen
class Row:
    """What `check` found for one entry: the results of one run, not a catalogue entry."""

    entry: SelftestQueue
    ok: bool
    verdict: str
    reported: tuple[str, ...]  # clause IDs of every divergence (and warning), sorted
    first_divergence: float | None  # seconds from the start of the run, or None
    program_length: int | None  # steps of the shortest program on an expected clause
    elapsed: float
    problem: str = ""  # why the row is not ok
    skipped: str = ""  # why the entry was not run (then it counts neither way)

    @property
    def caught(self) -> bool:
        """Whether a divergence named one of the entry's clauses (mutants only)."""
        return bool(set(self.reported) & self.entry.clauses)


def catalogue() -> tuple[SelftestQueue, ...]:
    """Every broken queue, then every correct one (each with the profile it is run under)."""
    return SELFTEST_QUEUES


def real_clock_catalogue() -> tuple[SelftestQueue, ...]:
    """The catalogue on the real clock: every entry wrapped in `OwnClock` (its own monotonic
    clock, ``virtual_time`` false, T = 1 s where the queue takes a timeout), quick-profile
    entries under the realtime profile and the others under their own. An entry reopened by
    URL (the crash entries: the crash machine reopens the queue in a host process) gets the
    URL of its queue on its own clock (`on_own_clock`), and the quick profile, whose crash
    check the realtime profile lacks."""
    out = []
    for entry in catalogue():
        factory = own_clock(entry.factory)
        if entry.url is not None:
            url = _on_own_clock_url(entry.url)
            out.append(attrs.evolve(entry, factory=factory, url=url))
        elif entry.profile == "quick":
            out.append(attrs.evolve(entry, profile="realtime", factory=factory))
        else:
            out.append(attrs.evolve(entry, factory=factory))
    return tuple(out)


def _on_own_clock_url(url: str) -> str:
    """The URL of ``url``'s queue on its own clock with T = 1 s (a ``py:`` URL without
    options: the catalogue's crash entries are)."""
    target = url.removeprefix("py:")
    if target == url or "?" in target:
        raise AssertionError(f"a real-clock crash entry needs a bare py: URL, got {url!r}")
    return f"py:mqspec.adapters.ownclock:on_own_clock?of={target}&timeout=1"


def check(
    entry: SelftestQueue, *, seed: int = 0, budget: float | None = None, workers: int | None = None
) -> Row:
    """Run the engine on a fresh queue of ``entry`` and judge the outcome (module docstring).

    ``budget`` and ``workers``: the real-clock search's, for an entry on its own clock.
    """
    if entry.not_run:
        return Row(
            entry,
            ok=True,
            verdict="not run",
            reported=(),
            first_divergence=None,
            program_length=None,
            elapsed=0.0,
            problem="",
            skipped=entry.not_run,
        )
    try:
        adapter = entry.factory()
    except MqspecError as err:  # a row, not the end of the selftest
        return _error_row(entry, f"the queue could not be opened: {err}", 0.0)

    def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
        queue = entry.factory()
        return queue, queue.close

    started = time.monotonic()
    first: float | None = None
    result: RunResult | None = None
    try:
        before = started
        for event in run(
            adapter,
            url=entry.url or f"selftest:{entry.name}",
            opened_url=entry.url,
            profile=entry.profile,
            seed=seed,
            strict=entry.strict,
            open_queue=open_queue,
            budget=budget,
            workers=workers,
        ):
            now = time.monotonic()
            if first is None:
                first = _first_divergence(event, before, now, started)
            before = now
            if isinstance(event, RunFinished):
                result = event.result
    except MqspecError as err:  # refused before it ran (a T too long for the real clock): a row
        return _error_row(entry, f"the run could not start: {err}", time.monotonic() - started)
    finally:
        adapter.close()
    assert result is not None, "run() ended without RunFinished"
    return _row(entry, result, first, time.monotonic() - started)


def _error_row(entry: SelftestQueue, problem: str, elapsed: float) -> Row:
    """A row for an entry that could not be checked at all: neither caught nor passed."""
    return Row(
        entry,
        ok=False,
        verdict="error",
        reported=(),
        first_divergence=None,
        program_length=None,
        elapsed=elapsed,
        problem=problem,
    )


def _first_divergence(event: object, before: float, now: float, started: float) -> float | None:
    """When ``event`` first saw a divergence, in seconds from ``started``, if it saw one."""
    if isinstance(event, ScenarioDone) and event.divergence is not None:
        return now - started
    if isinstance(event, PhaseDone) and event.found_after is not None:
        return before - started + event.found_after
    if isinstance(event, PhaseDone) and event.phase == "concurrency" and event.divergence:
        return now - started  # a phase that did not time its first failure
    return None


def _row(entry: SelftestQueue, result: RunResult, first: float | None, elapsed: float) -> Row:
    found = [*result.divergences, *result.warnings]
    reported = tuple(sorted({d.clause.id for d in found}))
    lengths = [
        len(d.transcript.steps)
        for d in result.divergences
        if d.transcript is not None and d.clause.id in entry.clauses
    ]
    if result.concurrency is not None and result.concurrency.minimal_program:
        lengths.append(result.concurrency.program_size)
    problem = ""
    if result.error:
        problem = f"the run could not be carried out: {result.error}"
    elif entry.kind == "mutant" and result.verdict != "diverges":
        problem = "survived: no divergence"
    elif entry.kind == "mutant" and not {d.clause.id for d in result.divergences} & entry.clauses:
        problem = f"caught on {', '.join(reported)}, not on {', '.join(sorted(entry.clauses))}"
    elif entry.kind == "variant" and (result.verdict != "conforms" or result.warnings):
        problem = f"false alarm on {', '.join(reported) or 'nothing named'}"
        if result.divergences:
            # The finding's own words (cut): what a false alarm said is what to look into.
            said = result.divergences[0].finding.message
            problem += f": {said[:200]}" + ("..." if len(said) > 200 else "")
    return Row(
        entry=entry,
        ok=not problem,
        verdict=result.verdict,
        reported=reported,
        first_divergence=first if entry.kind == "mutant" else None,
        program_length=min(lengths) if lengths else None,
        elapsed=elapsed,
        problem=problem,
    )


def run_selftest(
    entries: Iterable[SelftestQueue] | None = None,
    *,
    seed: int = 0,
    budget: float | None = None,
    workers: int | None = None,
    jobs: int = 1,
) -> Iterator[Row]:
    """`check` every entry (default: the whole `catalogue`), one row at a time, in order.

    ``jobs`` entries are checked at once, each in a thread: for the real-clock catalogue,
    whose entries sleep almost all of their time (each entry's elapsed time and time to first
    divergence are its own). Keep 1 for virtual time: those entries are CPU-bound.
    """
    chosen = list(catalogue() if entries is None else entries)
    if jobs <= 1:
        for entry in chosen:
            yield check(entry, seed=seed, budget=budget, workers=workers)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mqspec-selftest") as pool:
        yield from pool.map(
            lambda entry: check(entry, seed=seed, budget=budget, workers=workers), chosen
        )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_markdown(rows: Iterable[Row], *, seed: int = 0) -> str:
    """The selftest table, with the headline (caught, false alarms) above it."""
    rows = list(rows)
    mutants = [r for r in rows if r.entry.kind == "mutant" and not r.skipped]
    variants = [r for r in rows if r.entry.kind == "variant" and not r.skipped]
    skipped = [r for r in rows if r.skipped]
    caught = sum(r.ok for r in mutants)
    alarms = sum(not r.ok for r in variants)
    firsts = sorted(r.first_divergence for r in mutants if r.first_divergence is not None)
    lines = [
        "# mqspec selftest",
        "",
        f"Caught {caught} of {len(mutants)} broken queues on their clause; "
        f"{alarms} false alarms on {len(variants)} runs of correct variants (strict mode). "
        f"Seed {seed}."
        + (
            f" Median time to first divergence {firsts[len(firsts) // 2]:.2f} s, "
            f"worst {firsts[-1]:.2f} s."
            if firsts
            else ""
        )
        + (f" {len(skipped)} entries listed but not run, each with its reason." if skipped else ""),
        "",
        "Regenerate with `mqspec selftest --write reports/selftest.md`. Times are from one run "
        "on a shared machine: compare them within a run, not across runs.",
        "",
        "| queue | kind | profile | expected clause | caught | clause reported "
        "| first divergence (s) | minimal program | run (s) | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r.entry
        if r.skipped:
            lines.append(
                f"| {e.name} | {e.kind} | {e.profile} | {', '.join(sorted(e.clauses)) or '-'} "
                f"| - | - | - | - | - | not run: {r.skipped} |"
            )
            continue
        expected = ", ".join(sorted(e.clauses)) if e.kind == "mutant" else "(none: must pass)"
        caught_cell = ("yes" if r.caught else "no") if e.kind == "mutant" else "-"
        lines.append(
            f"| {e.name} | {e.kind} | {e.profile}{' strict' if e.strict else ''} | {expected} "
            f"| {caught_cell} | {', '.join(r.reported) or '-'} | {_seconds(r.first_divergence)} "
            f"| {r.program_length if r.program_length is not None else '-'} "
            f"| {r.elapsed:.1f} | {'yes' if r.ok else 'NO: ' + r.problem} |"
        )
    return "\n".join(lines) + "\n"
