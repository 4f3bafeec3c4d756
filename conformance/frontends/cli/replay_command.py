"""``mqspec replay FILE``: send a recorded transcript again, step by step, and exit 0 (fixed),
1 (a divergence still occurs) or 2 (not a transcript, or the backend cannot be driven)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mqspec.adapters.registry import open_isolated
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.frontends.cli.group import EXIT_CONFORMS, EXIT_DIVERGES, fail, main
from mqspec.conformance.frontends.render import render_divergence
from mqspec.conformance.frontends.replay import ReplayedStep, ReplayFinished, answer, replay
from mqspec.reference.errors import MqspecError, UsageError

__all__ = ["replay_command"]


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
        fail(f"cannot read {str(file)!r}: {getattr(err, 'strerror', None) or err}")
    except UsageError as err:
        fail(f"{str(file)!r} is not an mqspec transcript: {err}")
    target = url or transcript.url
    try:
        adapter, cleanup = open_isolated(target)
    except MqspecError as err:
        hint = "" if url else " (pass --url to replay against another backend)"
        fail(f"cannot open {target}: {err}{hint}")
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
        fail(f"replay of {file} could not run: {err}")
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
