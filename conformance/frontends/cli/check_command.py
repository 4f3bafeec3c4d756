"""``mqspec check [URL]``: run the conformance suite on a queue, print the console, write the
report directory and the JUnit file, and exit 0 (conforms), 1 (diverges) or 2 (could not run).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs
import click

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core import example_db as example_dbs
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import Event, EventHandler, RunFinished
from mqspec.conformance.core.example_db import ENV
from mqspec.conformance.core.profiles import REALTIME_TIMEOUT, Profile
from mqspec.conformance.core.realclock import DEFAULT_WORKERS
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.selection import deselected_by
from mqspec.conformance.faults.crash import host_url
from mqspec.conformance.frontends.cli.group import (
    EXIT_CONFORMS,
    EXIT_DIVERGES,
    fail,
    main,
    profile_option,
    real_clock_options,
    seed_option,
)
from mqspec.conformance.frontends.console import HEARTBEAT, ConsolePrinter
from mqspec.conformance.frontends.junit import render_junit
from mqspec.conformance.frontends.reports import ReportWriter, default_report_dir
from mqspec.reference.errors import MqspecError, UsageError

__all__ = ["check"]


@main.command()
@click.argument("url", required=False)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME[,NAME...]",
    callback=profile_option,
    help="How hard to look: quick (CI default) or thorough; realtime runs on the real clock; "
    "crash also kills a durable queue's process at random points (MQ-DURABLE-1); faults "
    "injects connection resets, stalls and lost answers (MQ-LOSS-2, MQ-LOSS-3); concurrency "
    "runs several clients at once and checks the histories; full runs quick, faults and "
    "concurrency. Several (--profile quick,faults, or repeated) run the scenarios once, then "
    "each profile's search in turn, into one report.  [default: quick]",
)
@seed_option
@click.option("--strict", is_flag=True, help="Fail on SHOULD findings too, not just warn.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the report here [default: reports/<adapter>-<UTC timestamp>/ in the current "
    "directory].",
)
@click.option("--no-report", is_flag=True, help="Write no report files.")
@click.option(
    "--junit-xml",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JUnit XML file here (for CI; with or without --no-report).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=None,
    help="Examples of the state machine (virtual time) instead of the profile's own "
    "[quick 60, thorough 400].",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="Steps per example instead of the profile's own [quick 40, thorough 80]; on the "
    "real clock, the steps of each real-clock example.",
)
@click.option(
    "--require-all",
    is_flag=True,
    help="Exit 1 unless every MUST clause that applies to the queue (by its declared "
    "capabilities) was exercised: for a CI gate that a `conforms` must rest on every clause.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="CLAUSES",
    help="Judge only these clauses: IDs (MQ-ORDER-2) or groups (MQ-ORDER), comma-separated or "
    "repeated. Other clauses' scenarios do not run; a divergence the search finds on one is "
    "set aside, shown and not counted.",
)
@click.option(
    "--skip",
    multiple=True,
    metavar="CLAUSES",
    help="Judge every clause but these (IDs or groups, as for --only).",
)
@click.option(
    "--example-db",
    metavar="URL|DIR",
    default=None,
    help="Share the failing programs the searches find: save them in this Hypothesis example "
    "database (redis://host:port/db, or a directory) and replay the saved ones first "
    f"[default: ${ENV}, else none: the seed alone decides the run].",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0),
    default=HEARTBEAT,
    show_default=True,
    metavar="SECONDS",
    help="After this many seconds without a line, say how far the running phase has got "
    "(cases, operations per second, whether a divergence was found); 0 for never.",
)
@real_clock_options(
    budget=None,
    workers=None,
    budget_help="Real clock only: seconds the state machine may search, all workers together "
    "[default: 120 for quick and realtime, 600 for thorough].",
    workers_help=f"Real clock only: state machines searching at once, each on a queue of its "
    f"own [default: {DEFAULT_WORKERS}; 1 when the URL names its queue=, or for a durable "
    "queue opened by exec: or py:, whose processes may share one store].",
)
def check(
    url: str | None,
    profiles: Profile,
    seed: int,
    strict: bool,
    report_dir: Path | None,
    no_report: bool,
    junit_path: Path | None,
    examples: int | None,
    steps: int | None,
    require_all: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    example_db: str | None,
    heartbeat: float,
    budget: float | None,
    workers: int | None,
) -> None:
    """Check the queue at URL against the contract, and write a report.

    URL names the queue (options as ?timeout=5&tokens=1&duplicates=reject&max_jobs=N);
    without URL, a fresh SQLite file in a temporary directory:

    \b
      memory://                                   in-process, for trying the suite
      sqlite:///path/to/file.db                   embedded SQLite (the default)
      redis://127.0.0.1:6379/0                    Redis
      postgresql://postgres@127.0.0.1:5432/test   PostgreSQL (also postgres://)
      mysql://root@127.0.0.1:3306/test            MariaDB or MySQL (also mariadb://)
      "exec:./my-driver --db q.db"                a driver in any language
                                                  (spec/driver-protocol.md)
      py:package.module:factory                   a Python adapter of your own

    On a server, unless the URL names one with queue=NAME, the suite makes a queue of its
    own and drops it afterwards; a named queue is emptied by the run.

    The report directory holds report.json, report.md, junit.xml and, per divergence, a
    transcript (replay it with `mqspec replay`) and a standalone pytest file.

    Exit codes: 0 conforms (no MUST broken; with --strict no SHOULD either), 1 diverges (or,
    with --require-all, a MUST clause that applies was not exercised), 2 could not run (bad
    URL, unreachable or crashing backend, report directory not writable; the cause is printed
    on one line).
    """
    if report_dir is not None and no_report:
        fail("--report and --no-report contradict each other; give one")
    chosen = _resized(profiles, examples, steps)
    profile = chosen.name
    try:
        deselected = deselected_by(only, skip)
    except UsageError as err:
        raise click.UsageError(str(err)) from None
    try:
        examples_kept = example_dbs.from_option(example_db)
    except MqspecError as err:
        fail(f"--example-db: {err}")
    if junit_path is not None:
        _check_writable(junit_path)
    started_at = datetime.now(UTC)
    writer = None
    if not no_report:
        directory = report_dir or default_report_dir(url, started_at)
        # A scratch SQLite file is gone after the run: the replay command needs a --url. After
        # a crash run it names the host process, which can be restarted as the recording was.
        replay_url = None if url else "sqlite:///./mqspec-replay.db"
        if replay_url and chosen.crash:
            replay_url = host_url(replay_url)
        writer = ReportWriter(directory, started_at, replay_url=replay_url)
        try:
            writer.start()
        except UsageError as err:
            fail(str(err))
    printer = ConsolePrinter(profile, heartbeat)
    handlers: list[EventHandler] = [printer]
    if writer is not None:
        handlers.append(writer)
    with tempfile.TemporaryDirectory(prefix="mqspec-") as scratch:
        target = url or f"sqlite://{Path(scratch).resolve() / 'queue.db'}"
        example_dbs.use(examples_kept)
        try:
            result = _check(target, chosen, seed, strict, budget, workers, handlers, deselected)
        except MqspecError as err:
            # The run never finished, so no handler saw its end: the report says why.
            result = _unstarted(target, profile, seed, strict, f"{err}")
            if writer is not None:
                _dispatch(RunFinished(result), [writer])
        finally:
            printer.close()
            example_dbs.use(None)
    if writer is not None:
        click.echo(f"report: {writer.directory}")
    if junit_path is not None:
        _write_junit(junit_path, result, started_at)
    if result.verdict == "error":
        fail(f"cannot check {target}: {result.error}")
    # A conforms that rests on every clause cannot leave one out, by --skip either.
    gaps = [
        c
        for c in (*result.not_exercised, *result.not_selected)
        if c.clause.level == "MUST" and c.applicable
    ]
    if require_all and gaps and result.verdict == "conforms":
        noun = "clause" if len(gaps) == 1 else "clauses"
        click.echo(f"--require-all: {len(gaps)} MUST {noun} that apply were not exercised:")
        for gap in gaps:
            click.echo(f"  {gap.clause.id}: {gap.reason}")
        sys.exit(EXIT_DIVERGES)
    sys.exit(EXIT_CONFORMS if result.verdict == "conforms" else EXIT_DIVERGES)


def _dispatch(event: Event, handlers: list[EventHandler]) -> None:
    """Give ``event`` to every handler in turn; a report that cannot be written ends the CLI."""
    try:
        for handler in handlers:
            handler.handle_event(event)
    except UsageError as err:  # only the report writer raises: a file could not be written
        fail(str(err))


def _unstarted(url: str, profile: str, seed: int, strict: bool, cause: str) -> RunResult:
    """The result of a run that could not start: verdict error, nothing judged."""
    return RunResult(
        url=url,
        capabilities=None,
        profile=profile,
        seed=seed,
        strict=strict,
        duration=0.0,
        clauses=(),
        divergences=(),
        warnings=(),
        error=cause or "the backend could not be opened",
    )


def _check_writable(path: Path) -> None:
    """Exit 2 before the run when ``path`` cannot be written: a CI step learns it at once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as err:
        fail(f"cannot write --junit-xml {path}: {err.strerror or err}")


def _write_junit(path: Path, result: RunResult, started_at: datetime) -> None:
    """Write the run's JUnit XML to ``path``, creating its folder; exit 2 if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_junit(result, started_at=started_at), encoding="utf-8")
    except OSError as err:
        fail(f"cannot write --junit-xml {path}: {err.strerror or err}")
    click.echo(f"junit: {path}")


def _resized(profile: Profile, examples: int | None, steps: int | None) -> Profile:
    """``profile`` (each of its parts) with the sizes asked for on the command line (the
    names stay)."""
    if profile.parts:
        parts = tuple(_resized(part, examples, steps) for part in profile.parts)
        return attrs.evolve(profile, parts=parts)
    if examples is not None:
        profile = attrs.evolve(profile, examples=examples)
    if steps is not None:
        profile = attrs.evolve(profile, steps=steps, realtime_steps=steps)
    return profile


def _check(
    url: str,
    profile: Profile,
    seed: int,
    strict: bool,
    budget: float | None,
    workers: int | None,
    handlers: list[EventHandler],
    deselected: frozenset[str] = frozenset(),
) -> RunResult:
    """Open ``url``'s queue, run the engine on it giving each event to ``handlers``, and close it.

    Raises:
        MqspecError: the queue could not be opened, or the run could not start.
    """
    adapter, opened, cleanup = open_isolated_url(url)
    caps = adapter.capabilities
    asked: float | None = None
    real_clock = profile.realtime or not caps.virtual_time
    if real_clock and caps.timeout_settable and caps.reservation_timeout > REALTIME_TIMEOUT:
        # On the real clock every second of T is slept: ask for a short one where we may.
        cleanup()
        asked = REALTIME_TIMEOUT
        adapter, opened, cleanup = open_isolated_url(url, reservation_timeout=asked)
    open_queue = None
    if real_clock and "queue=" not in url:

        def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
            # Each real-clock worker on a queue of its own: a namespace, a process, an instance.
            queue, _, close = open_isolated_url(url, reservation_timeout=asked)
            return queue, close

    try:
        for event in run(
            adapter,
            url=url,
            profile=profile,
            seed=seed,
            strict=strict,
            opened_url=opened,
            open_queue=open_queue,
            budget=budget,
            workers=workers if open_queue is not None else 1,
            deselected=deselected,
        ):
            _dispatch(event, handlers)
            if isinstance(event, RunFinished):
                return event.result
    finally:
        cleanup()
    raise AssertionError("unreachable: run() always ends with RunFinished")
