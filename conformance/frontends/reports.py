"""Report files for one run: ``report.json``, ``report.md``, ``junit.xml`` and the reproducers.

Responsibility: turn a finished `RunResult` into a report directory (layout and schema in
``reports/README.md``; ``junit.xml`` is rendered by ``junit.py``). The CLI feeds every engine
event to a `ReportWriter` (an `EventHandler`, like the console output); the writer acts on
`RunFinished`. Text about findings comes from ``render.py`` and ``transcript.py`` so a report
reads exactly like the console. Forbidden imports: click, pytest (front ends consume this
module, never the reverse).
"""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import hypothesis

from mqspec.conformance.concurrency.history import to_jsonl
from mqspec.conformance.concurrency.timeline import render_html
from mqspec.conformance.core.events import Event, RunFinished
from mqspec.conformance.core.results import ClauseResult, ConcurrencySummary, Divergence, RunResult
from mqspec.conformance.frontends.junit import ISO_UTC, render_junit
from mqspec.conformance.frontends.render import render_divergence
from mqspec.reference.errors import UsageError

if TYPE_CHECKING:
    from mqspec.conformance.faults.runs import FaultStats

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "ReportWriter",
    "adapter_slug",
    "default_report_dir",
    "divergence_files",
    "render_markdown",
    "report_data",
    "versions",
]

REPORT_FORMAT = "mqspec-report"
REPORT_VERSION = 1
"""Additive changes (new fields) keep version 1; renaming, removing or retyping a field bumps it."""

_STATUSES = ("pass", "fail", "warn", "skip")
_SLUG_JUNK = re.compile(r"[^A-Za-z0-9_.]+")


# ------------------------------------------------------------------------------ naming


def _iso(when: datetime) -> str:
    return when.strftime(ISO_UTC)


def adapter_slug(url: str | None) -> str:
    """A short, path-safe name for the backend ``url`` names (never a password or a query).

    ``None`` (the default scratch SQLite queue) is ``sqlite``; ``memory://`` is ``memory``;
    ``sqlite:///var/q.db`` is ``sqlite-q``; ``py:pkg.mod:Make`` is ``py-Make``;
    ``redis://h:6379/0`` is ``redis-h``; ``exec:./drv --x`` is ``exec-drv``.
    """
    if url is None:
        return "sqlite"
    scheme, _, rest = url.partition(":")
    scheme = _SLUG_JUNK.sub("-", scheme.lower()).strip("-.") or "queue"
    rest = rest.split("?", 1)[0]
    if scheme == "py":
        name = rest.rpartition(":")[2]
    elif scheme == "exec":
        words = rest.split()
        name = Path(words[0]).name if words else ""
    elif scheme == "sqlite":
        name = Path(rest.lstrip("/")).stem if rest.strip("/") else ""
    elif rest.startswith("//"):
        try:
            name = urlsplit(url).hostname or ""
        except ValueError:
            name = ""
    else:
        name = ""
    name = _SLUG_JUNK.sub("-", name).strip("-.")[:24].strip("-.")
    return f"{scheme}-{name}" if name else scheme


def default_report_dir(url: str | None, started: datetime, base: Path = Path("reports")) -> Path:
    """``reports/<adapter>-<UTC stamp>/`` (``memory-20261127T210000Z``); ``-2``... if taken."""
    stem = f"{adapter_slug(url)}-{started.strftime('%Y%m%dT%H%M%SZ')}"
    candidate = base / stem
    n = 2
    while candidate.exists():
        candidate = base / f"{stem}-{n}"
        n += 1
    return candidate


def versions() -> dict[str, str]:
    """The versions a run depends on: mqspec, Python, Hypothesis, and the platform."""
    try:
        mine = metadata.version("mqspec")
    except metadata.PackageNotFoundError:  # pragma: no cover - only in a bare checkout
        mine = "unknown"
    return {
        "mqspec": mine,
        "python": platform.python_version(),
        "hypothesis": hypothesis.__version__,
        "platform": platform.platform(),
    }


# ------------------------------------------------------------------------------ report.json


def _numbered(result: RunResult) -> list[tuple[str, Divergence, int | None]]:
    """Every divergence then every warning, with its file number (None: no transcript)."""
    out: list[tuple[str, Divergence, int | None]] = []
    n = 0
    for kind, items in (("divergence", result.divergences), ("warning", result.warnings)):
        for item in items:
            number = None
            if item.transcript is not None or item.history is not None:
                n += 1
                number = n
            out.append((kind, item, number))
    return out


def _files(number: int | None, item: Divergence | None = None) -> dict[str, str] | None:
    if number is None:
        return None
    if item is not None and item.history is not None:
        # A concurrent divergence: the recorded history and a picture of it, not a program.
        return {
            "history": f"divergence-{number}.history.jsonl",
            "timeline": f"divergence-{number}.timeline.html",
        }
    return {"transcript": f"divergence-{number}.jsonl", "pytest": f"divergence-{number}_test.py"}


def divergence_files(item: Divergence, number: int, url: str) -> dict[str, str]:
    """The files that let a reader see divergence ``number`` again, by name: for a program,
    its transcript (``mqspec replay``) and a standalone pytest file; for a concurrent history,
    the history and its timeline. Empty when it carries neither."""
    names = _files(number, item) or {}
    if item.history is not None:
        return {
            names["history"]: to_jsonl(item.history),
            names["timeline"]: render_html(
                item.history, item.anomalies, title=f"{item.clause.id}: {url}"
            ),
        }
    if item.transcript is None:
        return {}
    return {
        names["transcript"]: item.transcript.to_jsonl(),
        names["pytest"]: item.transcript.to_pytest(),
    }


def _finding_json(item: Divergence, number: int | None) -> dict[str, Any]:
    finding = item.finding
    return {
        "clause": finding.clause.id,
        "level": finding.clause.level,
        "title": finding.clause.title,
        "message": finding.message,
        "allowed": finding.allowed,
        "observed": finding.observed,
        "source": item.source,
        "program": [s.to_json() for s in item.transcript.steps] if item.transcript else [],
        "files": _files(number, item),
    }


def _clause_json(item: ClauseResult) -> dict[str, Any]:
    return {
        "id": item.clause.id,
        "level": item.clause.level,
        "title": item.clause.title,
        "status": item.status,
        "reason": item.reason,
        "applicable": item.applicable,
        "selected": item.selected,
    }


def report_data(result: RunResult, *, started_at: datetime) -> dict[str, Any]:
    """The ``report.json`` object for ``result`` (schema: ``reports/README.md``)."""
    numbered = _numbered(result)
    counts = {s: sum(c.status == s for c in result.clauses) for s in _STATUSES}
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "verdict": result.verdict,
        "error": result.error or None,
        "url": result.url,
        "adapter": result.capabilities.to_json() if result.capabilities else None,
        "versions": versions(),
        "profile": result.profile,
        "seed": result.seed,
        "strict": result.strict,
        "started_at": _iso(started_at),
        "duration_s": round(result.duration, 3),
        "counts": counts,
        "basis": result.basis,
        "not_exercised": [c.clause.id for c in result.not_exercised],
        "not_selected": [c.clause.id for c in result.not_selected],
        "set_aside": [
            {"clause": d.clause.id, "message": d.finding.message, "source": d.source}
            for d in result.set_aside
        ],
        "clauses": [_clause_json(c) for c in result.clauses],
        "divergences": [_finding_json(d, n) for k, d, n in numbered if k == "divergence"],
        "warnings": [_finding_json(d, n) for k, d, n in numbered if k == "warning"],
        "concurrency": _concurrency_json(result.concurrency),
        "faults": _faults_json(result.faults, result.crashes),
    }


def _faults_json(
    stats: FaultStats | None, crashes: tuple[int, int] | None
) -> dict[str, Any] | None:
    if stats is None and crashes is None:
        return None
    out: dict[str, Any] = {"crashes": None}
    if crashes is not None:
        out["crashes"] = {"restarts": crashes[0], "operations_cut": crashes[1]}
    if stats is not None:
        out.update(
            injected=dict(stats.injected),
            fired=dict(stats.fired),
            cases=stats.cases,
            operations=stats.operations,
            errored=stats.errored,
            unknown=stats.unknown,
            refused=stats.refused,
            lost=stats.lost,
            duplicated=stats.duplicated,
            unexpected=stats.unexpected,
            by_clause={k: dict(v) for k, v in stats.by_clause.items()},
        )
    return out


def _concurrency_json(summary: ConcurrencySummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "histories": summary.histories,
        "operations": summary.operations,
        "programs": summary.programs,
        "clients": summary.clients,
        "unknown": [{"reason": reason, "count": count} for reason, count in summary.unknown],
        "elapsed_s": round(summary.elapsed, 3),
        "minimal_program": summary.minimal_program or None,
    }


# ------------------------------------------------------------------------------ report.md


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _replay_command(path: Path, strict: bool, replay_url: str | None) -> str:
    parts = ["mqspec", "replay", str(path)]
    if replay_url:
        parts += ["--url", replay_url]
    if strict:
        parts.append("--strict")
    return " ".join(parts)


def render_markdown(
    result: RunResult,
    *,
    started_at: datetime,
    directory: Path = Path("."),
    replay_url: str | None = None,
) -> str:
    """``report.md``: verdict, adapter, clause table, and each divergence with its replay."""
    lines = [f"# mqspec report: {result.verdict}", ""]
    lines.append(f"- backend: `{result.url}`")
    if result.clauses:
        lines.append(f"- rests on: {result.basis}")
    if result.error:
        lines.append(f"- could not run: {_cell(result.error)}")
    lines.append(
        f"- profile {result.profile}, seed {result.seed}, strict {'yes' if result.strict else 'no'}"
    )
    lines.append(f"- started {_iso(started_at)}, took {result.duration:.1f}s")
    lines.append("- " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    lines += ["", "## Declared capabilities", ""]
    if result.capabilities is None:
        lines.append("The backend did not open, so it declared nothing.")
    else:
        lines += ["| capability | value |", "|---|---|"]
        caps = result.capabilities.to_json().items()
        lines += [f"| {k} | `{json.dumps(v)}` |" for k, v in caps]
    lines += ["", "## Clauses", ""]
    if result.clauses:
        lines += ["| clause | level | status | title | note |", "|---|---|---|---|---|"]
        for c in result.clauses:
            note = "" if c.status == "pass" else _cell(c.reason)
            lines.append(
                f"| {c.clause.id} | {c.clause.level} | {c.status} | {_cell(c.clause.title)} "
                f"| {note} |"
            )
    else:
        lines.append("No clause was judged: the run could not start.")
    lines += _concurrency_markdown(result.concurrency)
    lines += _faults_markdown(result.faults, result.crashes)
    for kind, item, number in _numbered(result):
        lines += ["", f"## {kind.capitalize()}: {item.clause.id}", ""]
        lines += ["```text", render_divergence(item), "```"]
        files = _files(number, item)
        if files and "timeline" in files:
            lines += [
                "",
                f"Timeline of the clients' operations: `{files['timeline']}`; "
                f"the recorded history: `{files['history']}`",
            ]
        elif files:
            command = _replay_command(directory / files["transcript"], result.strict, replay_url)
            lines += ["", f"Replay: `{command}`", "", f"Standalone pytest: `{files['pytest']}`"]
    return "\n".join(lines) + "\n"


def _faults_markdown(stats: FaultStats | None, crashes: tuple[int, int] | None) -> list[str]:
    if stats is None and crashes is None:
        return []
    lines = ["", "## Faults", ""]
    if stats is not None:
        kinds = ", ".join(
            f"{kind} {stats.fired.get(kind, 0)} of {n}"
            for kind, n in sorted(stats.injected.items())
        )
        lines += [
            f"Faults that hit an operation, of those armed, by kind: {kinds or 'none'}.",
            "",
            "| cases | operations | answered an error | unknown outcome | pushes stopped |"
            " lost | duplicated | unexpected |",
            "|---|---|---|---|---|---|---|---|",
            f"| {stats.cases} | {stats.operations} | {stats.errored} | {stats.unknown} "
            f"| {stats.refused} | {stats.lost} | {stats.duplicated} | {stats.unexpected} |",
        ]
        for clause_id, counts in sorted(stats.by_clause.items()):
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
            lines.append(f"\nIn cases that failed on {clause_id}: {shown or 'no anomaly'}.")
    if crashes is not None:
        lines.append(
            f"\nCrashes (SIGKILL of the process holding the queue): {crashes[0]} restarts, "
            f"{crashes[1]} of them inside an operation."
        )
    return lines


def _concurrency_markdown(summary: ConcurrencySummary | None) -> list[str]:
    if summary is None:
        return []
    lines = ["", "## Concurrency", ""]
    lines.append(
        f"{summary.histories} histories ({summary.operations} operations, up to "
        f"{summary.clients} clients at once, {summary.programs} parallel programs) checked in "
        f"{summary.elapsed:.1f}s."
    )
    if summary.unknown:
        lines += ["", "Undecided by the exact checker (neither a pass nor a failure):", ""]
        lines += [f"- {count} x {_cell(reason)}" for reason, count in summary.unknown]
    if summary.minimal_program:
        lines += ["", "Minimal failing parallel program:", "", "```text"]
        lines += [summary.minimal_program, "```"]
    return lines


# ------------------------------------------------------------------------------ the writer


def _write(path: Path, text: str) -> None:
    # backslashreplace: a lone surrogate in a task becomes \udXXX, which JSON and Python read back.
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


class ReportWriter:
    """Writes one run's report directory; fed engine events by the CLI.

    Args:
        directory: where the files go; created (with parents) by `start`.
        started_at: when the run started (UTC), recorded in the report.
        replay_url: the ``--url`` the replay command in ``report.md`` should carry, for a run
            whose backend will not exist any more (the CLI's scratch SQLite file).
    """

    def __init__(
        self, directory: Path, started_at: datetime, *, replay_url: str | None = None
    ) -> None:
        self.directory = directory
        self.started_at = started_at
        self.replay_url = replay_url
        self.written: list[Path] = []

    def start(self) -> None:
        """Create the directory before the run, so a long run never ends with nowhere to write.

        Raises:
            UsageError: the directory cannot be created or written to, naming the cause.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(
                f"cannot create report directory {str(self.directory)!r}: {err.strerror or err}"
            ) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise UsageError(f"report directory {str(self.directory)!r} is not writable")

    def handle_event(self, event: Event) -> None:
        """Write the report when the run finishes; other events need nothing.

        Raises:
            UsageError: as `write`.
        """
        if isinstance(event, RunFinished):
            self.write(event.result)

    def write(self, result: RunResult) -> list[Path]:
        """Write every file for ``result`` and return their paths.

        Raises:
            UsageError: a file could not be written, naming it and the cause.
        """
        files: dict[str, str] = {
            "report.json": json.dumps(
                report_data(result, started_at=self.started_at), indent=2, ensure_ascii=False
            )
            + "\n",
            "report.md": render_markdown(
                result,
                started_at=self.started_at,
                directory=self.directory,
                replay_url=self.replay_url,
            ),
            "junit.xml": render_junit(result, started_at=self.started_at),
        }
        for _, item, number in _numbered(result):
            if number is not None:
                files |= divergence_files(item, number, result.url)
        for name, text in files.items():
            path = self.directory / name
            try:
                _write(path, text)
            except OSError as err:
                raise UsageError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
            self.written.append(path)
        return list(self.written)
