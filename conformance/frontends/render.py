"""The one renderer: every front end (CLI, pytest, `check`, replay) prints findings through here.

Text is identical everywhere, so a failure seen in CI reads the same as one seen locally.
"""

from __future__ import annotations

from mqspec.conformance.core.events import PhaseDone
from mqspec.conformance.core.results import Divergence, RunResult

__all__ = ["render_divergence", "render_failure", "render_phase", "render_summary"]

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
    if result.error:
        # A run that could not be carried out: its cause first, not a table of skips.
        parts = [f"{result.url} could not be checked (seed {result.seed}): {result.error}", ""]
    else:
        parts = [f"{result.url} diverges from the contract (seed {result.seed}):", ""]
    for divergence in result.divergences:
        parts += [render_divergence(divergence), ""]
    for warning in result.warnings:
        parts += [render_divergence(warning), ""]
    parts.append(render_summary(result))
    return "\n".join(parts)


def render_phase(done: PhaseDone, deselected: frozenset[str] = frozenset()) -> str:
    """One line for a finished search phase: what ran, its counts, and ``ok`` or ``diverges``;
    divergences only on ``deselected`` clauses (``--only``/``--skip``) are ``ok`` and named
    as set aside."""
    judged = [d for d in done.broken if d.clause.id not in deselected]
    aside = sorted({d.clause.id for d in done.broken} - {d.clause.id for d in judged})
    status = "diverges" if judged else "ok"
    if aside:
        status += f" ({', '.join(aside)} set aside: not selected)"
    dropped = (
        f" ({done.dropped} dropped unjudged: a call slower than the margin)" if done.dropped else ""
    )
    if done.phase == "faults" and done.faults is not None:
        stats = done.faults
        fired = sum(stats.fired.values())
        clock = (
            f" on the real clock, {done.workers} workers, in {done.elapsed:.0f}s"
            if done.clock == "real"
            else ""
        )
        return (
            f"state machine with faults{clock}, {done.examples} examples{dropped}, {fired} "
            f"faults hit, lost {stats.lost}, duplicated {stats.duplicated}, unexpected "
            f"{stats.unexpected}: {status}"
        )
    if done.phase == "crash":
        clock = (
            f" on the real clock, {done.workers} worker{'' if done.workers == 1 else 's'}, "
            f"in {done.elapsed:.0f}s"
            if done.clock == "real"
            else ""
        )
        return (
            f"state machine with crashes{clock}, {done.examples} examples{dropped}, "
            f"{done.restarts} restarts, {done.cuts} inside operations: {status}"
        )
    if done.phase == "concurrency" and done.concurrency is not None:
        counts = done.concurrency
        return (
            f"concurrency, {counts.histories} histories of {counts.clients} clients, "
            f"{counts.unknown_count} undecided: {status}"
        )
    if done.clock == "real":
        return (
            f"state machine on the real clock, {done.workers} workers, {done.examples} "
            f"examples{dropped}, {done.steps} operations in {done.elapsed:.0f}s: {status}"
        )
    return f"state machine, {done.examples} examples: {status}"
