"""``mqspec selftest``: run the suite on every broken queue and correct variant of the
catalogue (`mqspec.conformance.frontends.selftest`), print the table, exit 0 or 1."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mqspec.conformance.frontends.cli.group import (
    EXIT_CONFORMS,
    EXIT_DIVERGES,
    fail,
    main,
    real_clock_options,
    seed_option,
)
from mqspec.conformance.frontends.selftest import (
    catalogue,
    real_clock_catalogue,
    render_markdown,
    run_selftest,
)

__all__ = ["selftest_command"]


@main.command("selftest")
@seed_option
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Check only these catalogue entries (repeatable); default: all.",
)
@click.option(
    "--write",
    "write_to",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the table as Markdown here (e.g. reports/selftest.md).",
)
@click.option(
    "--real-clock",
    is_flag=True,
    help="Run every catalogue entry on its own clock (OwnClock, T = 1 s), as a queue "
    "written elsewhere runs; a crash entry is reopened by a URL naming it on its own clock.",
)
@real_clock_options(
    budget=20.0,
    workers=4,
    budget_help="With --real-clock: the state machine's budget per queue.",
    workers_help="With --real-clock: state machines searching at once per queue.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="With --real-clock: queues checked at once. They sleep most of their time, but "
    "their queues and searches share this process: 8 at once overloaded two cores.",
)
def selftest_command(
    seed: int,
    only: tuple[str, ...],
    write_to: Path | None,
    real_clock: bool,
    budget: float,
    workers: int,
    jobs: int,
) -> None:
    """Prove the suite's power: run it against every broken queue and correct variant.

    Every mutant must be caught on one of its clauses, under the profile that targets its
    kind of bug (quick, concurrency, faults, crash); every correct variant must pass in strict
    mode. Prints one row per queue: expected clause, caught, clause reported, time to the first
    divergence, length of the minimal program.

    Exit codes: 0 every mutant caught and no false alarm, 1 otherwise, 2 bad arguments.
    """
    entries = real_clock_catalogue() if real_clock else catalogue()
    if only:
        unknown = sorted(set(only) - {e.name for e in entries})
        if unknown:
            fail(f"no catalogue entry named {', '.join(unknown)}")
        entries = tuple(e for e in entries if e.name in only)
    rows = []
    for row in run_selftest(
        entries,
        seed=seed,
        budget=budget if real_clock else None,
        workers=workers if real_clock else None,
        jobs=jobs if real_clock else 1,
    ):
        rows.append(row)
        e = row.entry
        mark = "--  " if row.skipped else "ok  " if row.ok else "FAIL"
        detail = (
            (f"not run: {row.skipped}" if row.skipped else "")
            or row.problem
            or (f"caught on {', '.join(row.reported)}" if e.kind == "mutant" else "passes")
        )
        click.echo(f"{mark} {e.kind:7} {e.name:28} {e.profile:11} {row.elapsed:6.1f}s  {detail}")
    table = render_markdown(rows, seed=seed)
    click.echo("")
    click.echo(table)
    if write_to is not None:
        try:
            write_to.write_text(table, encoding="utf-8")
        except OSError as err:
            fail(f"cannot write {str(write_to)!r}: {err.strerror or err}")
    sys.exit(EXIT_CONFORMS if all(r.ok for r in rows) else EXIT_DIVERGES)
