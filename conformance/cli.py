"""The ``mqspec`` command line. The only module that imports click.

``mqspec check [URL]`` runs the conformance suite and exits 0 (conforms), 1 (diverges) or
2 (could not run: bad URL, unreachable or crashing backend, bad arguments), each with a
one-line cause on stderr. Without a URL it checks a fresh embedded SQLite queue in a temporary
directory, which it removes afterwards.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

from mqspec.adapters.registry import open_isolated
from mqspec.conformance.engine import (
    PROFILES,
    RunFinished,
    RunResult,
    RunStarted,
    ScenarioDone,
    StatefulDone,
    run,
)
from mqspec.conformance.render import render_divergence, render_summary
from mqspec.reference.errors import MqspecError

__all__ = ["main"]

EXIT_CONFORMS, EXIT_DIVERGES, EXIT_ERROR = 0, 1, 2


@click.group()
@click.version_option(package_name="mqspec")
def main() -> None:
    """mqspec: check a work queue against the fn MessageQueue contract (spec/contract.md)."""


@main.command()
@click.argument("url", required=False)
@click.option(
    "--profile",
    type=click.Choice(sorted(PROFILES)),
    default="quick",
    show_default=True,
    help="How hard to look: quick (CI default) or thorough.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed.")
@click.option("--strict", is_flag=True, help="Fail on SHOULD findings too, not just warn.")
def check(url: str | None, profile: str, seed: int, strict: bool) -> None:
    """Check the queue at URL against the contract.

    URL is memory://, sqlite:///path/to/file.db or py:package.module:factory (options as
    ?timeout=5&tokens=1&duplicates=reject&max_jobs=N). Without URL: a fresh SQLite file in a
    temporary directory.

    Exit codes: 0 conforms (no MUST broken; with --strict no SHOULD either), 1 diverges,
    2 could not run (the cause is printed).
    """
    with tempfile.TemporaryDirectory(prefix="mqspec-") as scratch:
        target = url or f"sqlite://{Path(scratch).resolve() / 'queue.db'}"
        try:
            result = _check(target, profile, seed, strict)
        except MqspecError as err:
            click.echo(f"mqspec: cannot check {target}: {err}", err=True)
            sys.exit(EXIT_ERROR)
    if result.verdict == "error":
        click.echo(f"mqspec: cannot check {target}: {result.error}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CONFORMS if result.verdict == "conforms" else EXIT_DIVERGES)


def _check(url: str, profile: str, seed: int, strict: bool) -> RunResult:
    adapter, cleanup = open_isolated(url)
    started = time.monotonic()
    try:
        for event in run(adapter, url=url, profile=profile, seed=seed, strict=strict):
            elapsed = time.monotonic() - started
            if isinstance(event, RunStarted):
                click.echo(f"checking {url} (profile {profile}, seed {seed})")
                click.echo(f"declared: {event.capabilities.to_json()}")
            elif isinstance(event, ScenarioDone):
                note = f": {event.reason}" if event.status != "pass" and event.reason else ""
                click.echo(
                    f"  [{elapsed:6.1f}s] scenario {event.scenario.clause.id} "
                    f"{event.scenario.name}: {event.status}{note}"
                )
            elif isinstance(event, StatefulDone):
                status = "diverges" if event.divergence else "ok"
                click.echo(
                    f"  [{elapsed:6.1f}s] state machine, {event.examples} examples: {status}"
                )
            elif isinstance(event, RunFinished):
                _finish(event.result)
                return event.result
    finally:
        cleanup()
    raise AssertionError("unreachable: run() always ends with RunFinished")


def _finish(result: RunResult) -> None:
    click.echo("")
    for divergence in result.divergences:
        click.echo(render_divergence(divergence))
        click.echo("")
    for warning in result.warnings:
        click.echo("warning: " + render_divergence(warning))
        click.echo("")
    click.echo(render_summary(result))
    click.echo("")
    click.echo(f"verdict: {result.verdict} ({result.duration:.1f}s)")
