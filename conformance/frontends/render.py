"""The one renderer: every front end (CLI, pytest, `check`, replay) prints findings through here.

Text is identical everywhere, so a failure seen in CI reads the same as one seen locally.
"""

from __future__ import annotations

from mqspec.conformance.core.engine import Divergence, RunResult

__all__ = ["render_divergence", "render_failure", "render_summary"]

_MARK = {"pass": "pass", "fail": "FAIL", "warn": "warn", "skip": "skip"}


def render_divergence(divergence: Divergence) -> str:
    """A broken clause: the finding, where it was found, and the minimal program."""
    lines = [divergence.finding.render(), f"  found by: {divergence.source}"]
    if divergence.transcript is not None:
        clock = "real" if divergence.transcript.clock == "real" else "virtual"
        lines.append(f"  minimal program ({clock} time t, call, what the backend answered):")
        lines += ["    " + row for row in divergence.transcript.listing().splitlines()]
    return "\n".join(lines)


def render_summary(result: RunResult) -> str:
    """The clause table: ID, level, status, and the reason for anything not a plain pass."""
    width = max(len(c.clause.id) for c in result.clauses)
    rows = [f"{'clause':<{width}}  level   status  note"]
    for item in result.clauses:
        note = "" if item.status == "pass" else item.reason
        rows.append(
            f"{item.clause.id:<{width}}  {item.clause.level:<6}  {_MARK[item.status]:<6}  {note}"
        )
    return "\n".join(rows)


def render_failure(result: RunResult) -> str:
    """Everything a failing run has to say: the divergences, then the clause table."""
    parts = [f"{result.url} diverges from the contract (seed {result.seed}):", ""]
    for divergence in result.divergences:
        parts += [render_divergence(divergence), ""]
    for warning in result.warnings:
        parts += [render_divergence(warning), ""]
    parts.append(render_summary(result))
    return "\n".join(parts)
