"""The ``mqspec`` command line. The only module that imports click.

``mqspec check [URL]`` runs the conformance suite, writes a report directory (``report.json``,
``report.md``, ``junit.xml`` and one replayable transcript plus pytest file per divergence; see
``reports/README.md``) and exits 0 (conforms), 1 (diverges) or 2 (could not run: bad URL,
unreachable or crashing backend, bad arguments, report directory not writable), each with a
one-line cause on stderr. Without a URL it checks a fresh embedded SQLite queue in a temporary
directory, which it removes afterwards.

``mqspec replay FILE`` sends a recorded transcript again, step by step, and exits 0 (no
divergence: fixed), 1 (a divergence still occurs) or 2 (not a transcript, or the backend cannot
be opened or driven).

``mqspec selftest`` checks the suite itself (`mqspec.conformance.frontends.selftest`): every broken
queue
of the catalogue must be caught on its clause, every correct variant must pass in strict mode;
it prints the table and exits 0, or 1 if a mutant survived or a variant was flagged.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import attrs
import click
from hypothesis.configuration import set_hypothesis_home_dir

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated, open_isolated_url
from mqspec.conformance.core import example_db as example_dbs
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import (
    Event,
    EventHandler,
    RunFinished,
)
from mqspec.conformance.core.example_db import ENV
from mqspec.conformance.core.profiles import REALTIME_TIMEOUT, Profile, profiles_named
from mqspec.conformance.core.realclock import DEFAULT_WORKERS
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.selection import deselected_by
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.faults.crash import host_url
from mqspec.conformance.frontends.console import HEARTBEAT, ConsolePrinter
from mqspec.conformance.frontends.junit import render_junit
from mqspec.conformance.frontends.render import render_divergence
from mqspec.conformance.frontends.replay import ReplayedStep, ReplayFinished, answer, replay
from mqspec.conformance.frontends.reports import ReportWriter, default_report_dir
from mqspec.conformance.frontends.selftest import (
    catalogue,
    real_clock_catalogue,
    render_markdown,
    run_selftest,
)
from mqspec.conformance.frontends.templates import LANGUAGES, copy_template
from mqspec.reference.errors import MqspecError, UsageError

__all__ = ["main"]

EXIT_CONFORMS, EXIT_DIVERGES, EXIT_ERROR = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mqspec")
def main() -> None:
    """mqspec: check a work queue against the fn MessageQueue contract (spec/contract.md).

    Exit codes, for every command: 0 conforms (check) or fixed (replay), 1 a clause is broken,
    2 could not run (the cause is printed on one line).
    """
    _keep_hypothesis_out_of_the_working_directory()


def _keep_hypothesis_out_of_the_working_directory() -> None:
    """Hypothesis keeps a cache (``.hypothesis/``) in the current directory by default; a
    command run in someone's project must write nothing there unless asked. Its files go to
    the user's cache instead (``$XDG_CACHE_HOME/mqspec/hypothesis``, else
    ``~/.cache/mqspec/hypothesis``); ``HYPOTHESIS_STORAGE_DIRECTORY`` still chooses another.
    The engine runs with no example database, so nothing there changes a verdict."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    set_hypothesis_home_dir(Path(cache) / "mqspec" / "hypothesis")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> NoReturn:
    click.echo(f"mqspec: {_one_line(message)}", err=True)
    sys.exit(EXIT_ERROR)


_seed_option = click.option(
    "--seed", type=int, default=0, show_default=True, help="Hypothesis seed."
)


def _real_clock_options(
    *, budget: float | None, workers: int | None, budget_help: str, workers_help: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--budget`` and ``--workers``, the real-clock search's settings, with these defaults
    (None: the profile's own, which the help text then states; a value is shown as default)."""
    shown = budget is not None
    budget_option = click.option(
        "--budget",
        type=click.FloatRange(min=1),
        default=budget,
        show_default=shown,
        metavar="SECONDS",
        help=budget_help,
    )
    workers_option = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=workers,
        show_default=shown,
        help=workers_help,
    )

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        return budget_option(workers_option(command))

    return decorate


def _profile_option(
    context: click.Context, parameter: click.Parameter, given: tuple[str, ...]
) -> Profile:
    """``--profile``'s values, each one name or several joined by commas, as one profile."""
    try:
        return profiles_named(",".join(given) or "quick")
    except ValueError as err:
        raise click.BadParameter(str(err), context, parameter) from None


@main.command()
@click.argument("url", required=False)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME[,NAME...]",
    callback=_profile_option,
    help="How hard to look: quick (CI default) or thorough; realtime runs on the real clock; "
    "crash also kills a durable queue's process at random points (MQ-DURABLE-1); faults "
    "injects connection resets, stalls and lost answers (MQ-LOSS-2, MQ-LOSS-3); concurrency "
    "runs several clients at once and checks the histories; full runs quick, faults and "
    "concurrency. Several (--profile quick,faults, or repeated) run the scenarios once, then "
    "each profile's search in turn, into one report.  [default: quick]",
)
@_seed_option
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
@_real_clock_options(
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
        _fail("--report and --no-report contradict each other; give one")
    chosen = _resized(profiles, examples, steps)
    profile = chosen.name
    try:
        deselected = deselected_by(only, skip)
    except UsageError as err:
        raise click.UsageError(str(err)) from None
    try:
        examples_kept = example_dbs.from_option(example_db)
    except MqspecError as err:
        _fail(f"--example-db: {err}")
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
            _fail(str(err))
    printer = ConsolePrinter(profile, heartbeat)
    handlers: list[EventHandler] = [printer]
    if writer is not None:
        handlers.append(writer)
    with tempfile.TemporaryDirectory(prefix="mqspec-") as scratch:
        target = url or f"sqlite://{Path(scratch).resolve() / 'queue.db'}"
        example_dbs.use(examples_kept)
        try:
            result = _check(
                target, chosen, seed, strict, budget, workers, handlers, deselected
            )
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
        _fail(f"cannot check {target}: {result.error}")
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
        _fail(str(err))


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
        _fail(f"cannot write --junit-xml {path}: {err.strerror or err}")


def _write_junit(path: Path, result: RunResult, started_at: datetime) -> None:
    """Write the run's JUnit XML to ``path``, creating its folder; exit 2 if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_junit(result, started_at=started_at), encoding="utf-8")
    except OSError as err:
        _fail(f"cannot write --junit-xml {path}: {err.strerror or err}")
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


@main.command("selftest")
@_seed_option
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
@_real_clock_options(
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
            _fail(f"no catalogue entry named {', '.join(unknown)}")
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
            _fail(f"cannot write {str(write_to)!r}: {err.strerror or err}")
    sys.exit(EXIT_CONFORMS if all(r.ok for r in rows) else EXIT_DIVERGES)


@main.command("init-driver")
@click.argument("language", type=click.Choice(LANGUAGES))
@click.argument("directory", type=click.Path(path_type=Path))
def init_driver_command(language: str, directory: Path) -> None:
    """Start a driver: copy the LANGUAGE example driver (python, node, or the Go kit) into
    DIRECTORY, a new or empty folder, and say how to check it.

    Exit codes: 0 copied, 2 DIRECTORY exists and is not empty (nothing is overwritten).
    """
    try:
        files = copy_template(language, directory)
    except (UsageError, OSError) as err:
        _fail(str(err))
    click.echo(f"copied the {language} driver template to {directory}: {len(files)} files")
    run = {
        "python": f"exec:python3 {directory / 'driver.py'}",
        "node": f"exec:node {directory / 'driver.js'}",
        "go": f"exec:{directory / 'go-example'} --virtual",
    }[language]
    if language == "go":
        click.echo(f"build it: (cd {directory} && go build -o go-example ./example)")
    click.echo(f'check it: mqspec check "{run}"   (then put your queue in its place)')


@main.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--url",
    default=None,
    help="Replay against this backend instead of the one recorded in FILE.",
)
@click.option("--strict", is_flag=True, help="Count SHOULD findings as divergences too.")
def replay_command(file: Path, url: str | None, strict: bool) -> None:
    """Send the steps recorded in FILE (a report's divergence-<n>.jsonl) again, one by one.

    Each step goes to the backend through a fresh session and is judged by the model; per step
    it prints the index, virtual time, call, what the backend answered now and in the
    recording, and the verdict. The fix loop: check, fix the backend, replay until fixed, check.

    Exit codes: 0 no divergence (fixed), 1 a divergence still occurs (printed),
    2 FILE is not a transcript, or the backend cannot be opened or driven (one-line cause).
    """
    try:
        transcript = Transcript.from_jsonl(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"cannot read {str(file)!r}: {getattr(err, 'strerror', None) or err}")
    except UsageError as err:
        _fail(f"{str(file)!r} is not an mqspec transcript: {err}")
    target = url or transcript.url
    try:
        adapter, cleanup = open_isolated(target)
    except MqspecError as err:
        hint = "" if url else " (pass --url to replay against another backend)"
        _fail(f"cannot open {target}: {err}{hint}")
    click.echo(f"replaying {file} against {target} ({len(transcript.steps)} steps)")
    if adapter.capabilities != transcript.capabilities:
        click.echo(f"note: recorded under {json.dumps(transcript.capabilities.to_json())}")
        click.echo(f"      the backend now declares {json.dumps(adapter.capabilities.to_json())}")
    finished = None
    try:
        for event in replay(transcript, adapter, url=target, strict=strict):
            if isinstance(event, ReplayedStep):
                _echo_step(event)
            elif isinstance(event, ReplayFinished):
                finished = event
    except MqspecError as err:
        _fail(f"replay of {file} could not run: {err}")
    finally:
        cleanup()
    assert finished is not None, "replay() always ends with ReplayFinished"
    click.echo("")
    if finished.divergence is not None:
        click.echo(render_divergence(finished.divergence))
        click.echo("")
        click.echo(f"still diverges at step {finished.steps} of {len(transcript.steps)}")
        sys.exit(EXIT_DIVERGES)
    for warning in finished.warnings:
        click.echo("warning: " + warning.render())
        click.echo("")
    click.echo("no divergence: fixed")
    sys.exit(EXIT_CONFORMS)


def _echo_step(event: ReplayedStep) -> None:
    step = event.recorded
    head = f"{event.index:3}. t={step.now:<10g}"
    if step.op in ("advance", "restart"):
        click.echo(f"{head} {step.op}")
        return
    now = answer(step.op, event.outcome)
    was = answer(step.op, step.outcome)
    click.echo(f"{head} {event.call}")
    click.echo(f"     now: {now} | recorded: {was} | {event.verdict}")
