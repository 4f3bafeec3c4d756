"""The run on the console: `ConsolePrinter`, the event handler behind ``mqspec check``'s output.

One line for the queue and one for what it declares, one line per scenario and search phase
with the seconds since the run began, a heartbeat while a phase runs long (cases, operations
and their rate, whether a divergence was found), then every divergence and warning, the clause
table and the verdict with what it rests on. On a terminal the statuses, the divergences and
the verdict are in colour, unless ``NO_COLOR`` is set; a pipe or a file gets plain text.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

import click

from mqspec.conformance.core.events import (
    Event,
    PhaseDone,
    RunFinished,
    RunStarted,
    ScenarioDone,
)
from mqspec.conformance.core.progress import PROGRESS, ProgressSnapshot
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.frontends.render import render_divergence, render_phase, render_summary

__all__ = ["HEARTBEAT", "ConsolePrinter", "colour", "heartbeat_line"]

HEARTBEAT = 15.0
"""Seconds without a line after which the printer says the run is alive."""


class ConsolePrinter:
    """The run on the console (an `EventHandler`).

    ``profile`` is the name the run was asked for; the seconds count from the printer's
    creation, just before the run. ``heartbeat``: after that many seconds without a line, a
    line says how far the running phase has got (`heartbeat_line`), again every ``heartbeat``
    seconds; 0 prints none. Call `close` when the run ends, however it ends.
    """

    def __init__(self, profile: str, heartbeat: float = HEARTBEAT) -> None:
        self.profile = profile
        self.started = time.monotonic()
        self.heartbeat = heartbeat
        self._lock = threading.Lock()  # one line at a time, from the run and the heartbeat
        self._since = PROGRESS.snapshot()  # the counters at the last event's line
        self._quiet_since = self._since.at  # when the last line of any kind was printed
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._deselected: frozenset[str] = frozenset()

    def handle_event(self, event: Event) -> None:
        with self._lock:
            self._print(event, time.monotonic() - self.started)
            self._since = PROGRESS.snapshot()
            self._quiet_since = self._since.at
        if isinstance(event, RunStarted) and self.heartbeat > 0:
            self._beat = threading.Thread(target=self._beating, name="mqspec-heartbeat")
            self._beat.daemon = True
            self._beat.start()
        elif isinstance(event, RunFinished):
            self.close()

    def close(self) -> None:
        """Stop the heartbeat (idempotent)."""
        self._stop.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join()

    def _beating(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat)):
            with self._lock:
                now = PROGRESS.snapshot()
                if now.at - self._quiet_since < self.heartbeat:
                    continue
                elapsed = now.at - self.started
                click.echo(f"  [{elapsed:6.1f}s] {heartbeat_line(self._since, now)}")
                self._quiet_since = now.at

    def _print(self, event: Event, elapsed: float) -> None:
        if isinstance(event, RunStarted):
            self._deselected = event.deselected
            click.echo(f"checking {event.url} (profile {self.profile}, seed {event.seed})")
            # JSON, not Python's reprs: driver authors write Go and Node too.
            click.echo(f"declared: {json.dumps(event.capabilities.to_json())}")
            for note in event.notes:
                click.echo(f"note: {note}")
        elif isinstance(event, ScenarioDone):
            note = f": {event.reason}" if event.status != "pass" and event.reason else ""
            if len(event.divergences) > 1:
                clauses = ", ".join(d.clause.id for d in event.divergences)
                note = f": {len(event.divergences)} clauses broken ({clauses})"
            click.echo(
                f"  [{elapsed:6.1f}s] scenario {event.scenario.clause.id} "
                f"{event.scenario.name}: {event.status}{note}"
            )
        elif isinstance(event, PhaseDone):
            click.echo(f"  [{elapsed:6.1f}s] {render_phase(event, self._deselected)}")
        elif isinstance(event, RunFinished):
            _finish(event.result)


def heartbeat_line(since: ProgressSnapshot, now: ProgressSnapshot) -> str:
    """What the running phase did between two snapshots, e.g. ``running for 30.0s: 212
    cases, 6,012 operations (200/s), no divergence yet``."""
    seconds = max(now.at - since.at, 1e-9)
    operations = now.operations - since.operations
    cases = now.cases - since.cases
    found = (
        "a divergence found, shrinking it"
        if now.divergences > since.divergences
        else "no divergence yet"
    )
    return (
        f"running for {seconds:.1f}s: {cases:,} case{'' if cases == 1 else 's'}, "
        f"{operations:,} operation{'' if operations == 1 else 's'} "
        f"({operations / seconds:,.0f}/s), {found}"
    )


_PAINT = {"FAIL": "red", "warn": "yellow", "pass": "green"}
_VERDICT = {"conforms": "green", "diverges": "red", "error": "red"}
_ROW = re.compile(r"^(MQ-\S+\s+\S+\s+)(FAIL|warn|pass)\b")


def colour() -> bool | None:
    """Whether to colour: never when ``NO_COLOR`` is set (to anything but ""), else click's
    default, which colours a terminal only (a pipe or a CI log file gets plain text)."""
    return False if os.environ.get("NO_COLOR") else None


def _echo(text: str = "") -> None:
    click.echo(text, color=colour())


def _finish(result: RunResult) -> None:
    _echo()
    for divergence in result.divergences:
        head, _, rest = render_divergence(divergence).partition("\n")
        _echo(click.style(head, fg="red", bold=True) + ("\n" + rest if rest else ""))
        _echo()
    for warning in result.warnings:
        _echo(click.style("warning: ", fg="yellow", bold=True) + render_divergence(warning))
        _echo()
    for aside in result.set_aside:
        finding = aside.finding
        _echo(f"set aside (not selected): {finding.clause.id}: {finding.message}")
    if result.set_aside:
        _echo()
    for row in render_summary(result).splitlines():
        _echo(_ROW.sub(lambda m: m.group(1) + click.style(m.group(2), fg=_PAINT[m.group(2)]), row))
    _echo()
    verdict = click.style(result.verdict, fg=_VERDICT[result.verdict], bold=True)
    _echo(f"verdict: {verdict} ({result.basis}) ({result.duration:.1f}s)")
