"""The exact checker: is a concurrent history linearizable against the reference model?

Responsibility: search for a linearization (Wing & Gong, as in Porcupine): an order of the
operations that respects real time (an operation that completed before another was invoked
comes first), with a queue time for each inside its [invoke, complete] window, never running
backwards, under which `mqspec.reference.Model` accepts every observed result. The answer is
`Linearizable` (with the witness), `NotLinearizable` (the longest prefix found, the operation
that could not be placed next, and the model's finding), or `Undecided` (budget exhausted, the
model's bound on possible states exceeded, or a verdict that would hang on timing, see below).
It never answers `NotLinearizable` when unsure.

Search. At each step the candidates are the pending operations invoked no later than the
earliest completion among the pending ones. Each is applied to a copy of the model; a state is
skipped when the same set of operations already reached an equivalent model state
(memoisation, `state_key`: the jobs in order, without the instants nothing can compare any
more). A call that never returned (result Unknown) may be placed anywhere after its invocation,
or nowhere: the search succeeds once every call that returned is placed. Candidates are tried
in a heuristic order (`_ranks`): a Push just before the first Reserve that returned its job,
anything else by the middle of its window.

Time. Each operation is applied at now = max(its invocation, the previous one's now): the
earliest instant the order allows, which never rules out a later operation. Where a threshold
(ready time, deadline, slack end) falls inside an operation's window, the first instant of each
region past it is tried too; for an operation that sets a threshold others may compare with, the
latest allowed instant too. In a time-separated history (`timing`) this is exact; otherwise a
witness is still genuine but a failure is reported as `Undecided`. Windows: a quick capped search
over the whole history, then window by window between quiescent points, carrying every
distinct final state (at most ``max_carry``) into the next window, so a failure deep in the
history does not re-explore every order of the windows before it. spec/history-format.md gives
the argument for each choice.

Rule: no I/O, no threads; the clock is read only to enforce the budget.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from typing import Any

import attrs

from mqspec.conformance.concurrency.history import History, Operation, quiescent_windows, timing
from mqspec.reference.clauses import Clause
from mqspec.reference.model import Model
from mqspec.reference.types import Finding, Verdict

__all__ = [
    "Linearizable",
    "NotLinearizable",
    "Result",
    "Undecided",
    "check",
    "quiescent_windows",
    "timing",
]

INF = math.inf


@attrs.frozen
class Linearizable:
    """A witness: the operations (indices) in linearization order, and the now of each."""

    order: tuple[int, ...]
    times: tuple[float, ...]
    nodes: int = 0


@attrs.frozen
class NotLinearizable:
    """No linearization exists.

    ``prefix``/``times``: the longest linearizable prefix found; ``operation``: the operation
    that could not be placed after it; ``finding``: the model's rejection of that operation.
    """

    prefix: tuple[int, ...]
    times: tuple[float, ...]
    operation: int
    finding: Finding
    nodes: int = 0

    @property
    def clause(self) -> Clause:
        """The clause of the best rejection."""
        return self.finding.clause


@attrs.frozen
class Undecided:
    """Undecided: ``reason`` says why; ``failure`` is the rejection a timing-exact run found."""

    reason: str
    nodes: int = 0
    failure: NotLinearizable | None = None


Result = Linearizable | NotLinearizable | Undecided


def fork(model: Model) -> Model:
    """An independent copy of ``model`` (`Model.fork`)."""
    return model.fork()


def state_key(model: Model, scale: _Scale | None = None) -> Any:
    """A hashable summary of the model's possible states: equal keys behave the same.

    Without ``scale``: `Model.state_key` exact (every instant, and the clock). With ``scale``:
    only the instants that can still make a difference (see `_Scale`); so orders that differ
    only in where a commuting operation went, or in instants nothing will compare, share one
    key.
    """
    return model.state_key(None if scale is None else scale.instants)


class _Scale:
    """Which instants in a model state can still change a verdict, for `state_key`.

    In a time-separated history none can (see `timing`), so the key is exact. Otherwise a
    deadline matters only when it (to its slack end) meets the window of a Reserve or Delete;
    any other deadline is summed up by where it falls among those windows, which is all a later
    comparison sees. The instants of delayed jobs, and of immediate ones when the history has
    delayed pushes, are kept as they are. The clock itself is left out: two nodes that differ
    only in it are merged, which may lose a witness, never make one up (a witness found is
    replayed at its own instants); and a failure there is `Undecided` anyway.
    """

    def __init__(self, history: History, separated: bool) -> None:
        ops = history.operations
        self.separated = separated
        self.slack = history.capabilities.slack
        looking = [op for op in ops if op.op != "push"]
        self.starts = sorted(op.invoke for op in looking)
        self.ends = sorted(op.end for op in looking)
        self.delays = any(
            op.op == "push" and isinstance(op.task, dict) and op.task.get("delay", 0) for op in ops
        )

    def instants(
        self, deadline: float, delayed: bool, lo: float, hi: float, ready_at: float
    ) -> tuple[Any, ...]:
        """The job's instants as far as they can matter (`mqspec.reference.model.Instants`)."""
        if self.separated:
            return ()
        mark: Any = deadline
        if deadline != INF:
            before = bisect_left(self.ends, deadline)  # windows over before the deadline
            after = bisect_right(self.starts, deadline + self.slack)  # begun by its slack end
            if after - before <= 0:  # no window meets it: only its place among them matters
                mark = (before, after)
        if delayed:
            return mark, lo, hi, ready_at
        return (mark, hi) if self.delays else (mark,)


def apply(model: Model, op: Operation, now: float) -> Verdict:
    """Feed ``op`` with its observed result to ``model`` at ``now``."""
    if op.op == "push":
        return model.push(op.task, now, op.result)
    if op.op == "reserve":
        return model.reserve(now, op.result, final=op.drain)
    return model.delete(op.task, now, op.result)


@attrs.define
class _Search:
    """State shared by the searches of one `check` call."""

    history: History
    deadline: float
    watch: list[bool]
    late: list[bool]
    rank: list[tuple[float, int, float]]
    scale: _Scale
    nodes: int = 0
    inconclusive: bool = False
    best_depth: int = -1
    best: tuple[tuple[tuple[int, float], ...], int, Finding] | None = None

    def out_of_time(self) -> bool:
        return self.nodes & 255 == 1 and time.perf_counter() > self.deadline

    def run(
        self,
        members: list[int],
        starts: list[tuple[Model, tuple[tuple[int, float], ...]]],
        collect: int,
        cap: int | None,
    ) -> tuple[str, list[tuple[Model, tuple[tuple[int, float], ...]]]]:
        """Search the operations ``members`` from each start.

        With ``collect`` = 0, stop at the first success: ("found", [final]). Otherwise explore
        everything and return ("found", finals) with the distinct final states. ("overflow",
        []) past ``collect`` finals or ``cap`` nodes (None: no cap); ("failed", []) when nothing
        succeeds; ("budget", []) when the time budget ran out.
        """
        ops = self.history.operations
        m = len(members)
        inv = [ops[g].invoke for g in members]
        end = [ops[g].end for g in members]
        need = sum(1 << i for i in range(m) if end[i] < INF)
        by_end = sorted((i for i in range(m) if end[i] < INF), key=end.__getitem__)
        by_inv = sorted(range(m), key=inv.__getitem__)
        rank = [self.rank[g] for g in members]
        finals: dict[Any, tuple[Model, tuple[tuple[int, float], ...]]] = {}
        used = 0
        seen: set[Any] = set()  # (placed, state) pairs already explored, from any start

        def moves(model: Model, placed: int) -> list[tuple[int, float]]:
            soonest = next((end[i] for i in by_end if not placed >> i & 1), INF)
            ready = []
            for i in by_inv:
                if inv[i] > soonest:
                    break
                if not placed >> i & 1:
                    ready.append(i)
            ready.sort(key=rank.__getitem__)
            out: list[tuple[int, float]] = []
            for i in ready:
                floor = max(inv[i], model.now)
                times = [floor]
                g = members[i]
                if self.watch[g]:
                    times += [t for t in model.next_events() if floor < t <= soonest]
                if self.late[g] and floor < soonest < INF and soonest not in times:
                    times.append(soonest)
                out.extend((i, t) for t in times)
            return out

        if need == 0:
            return "found", list(starts)
        for start, prefix in starts:
            path = list(prefix)
            stack = [(start, 0, iter(moves(start, 0)))]
            while stack:
                model, placed, pending = stack[-1]
                move = next(pending, None)
                if move is None:
                    stack.pop()
                    if stack:
                        path.pop()
                    continue
                self.nodes += 1
                used += 1
                if self.out_of_time():
                    return "budget", []
                if cap is not None and used > cap:
                    return "overflow", []
                i, now = move
                child = fork(model)
                verdict = apply(child, ops[members[i]], now)
                if verdict.violation is not None:
                    if len(path) > self.best_depth:
                        self.best_depth = len(path)
                        self.best = (tuple(path), members[i], verdict.violation)
                    continue
                if child.inconclusive:
                    self.inconclusive = True
                    continue
                now_placed = placed | 1 << i
                key = (now_placed, state_key(child, self.scale))
                if key in seen:
                    continue
                seen.add(key)
                path.append((members[i], now))
                if now_placed & need == need:
                    if not collect:
                        return "found", [(child, tuple(path))]
                    finals.setdefault(key[1], (child, tuple(path)))
                    if len(finals) > collect:
                        return "overflow", []
                    path.pop()
                    continue
                stack.append((child, now_placed, iter(moves(child, now_placed))))
        return ("found", list(finals.values())) if finals else ("failed", [])


def check(
    history: History,
    *,
    budget: float = 10.0,
    windows: bool = True,
    max_carry: int = 8,
    window_nodes: int = 50,
    quick_nodes: int = 20,
    max_worlds: int = 64,
) -> Result:
    """Decide whether ``history`` is linearizable against the reference model.

    Args:
        history: the operations, with the queue's capabilities.
        budget: seconds of search before answering `Undecided`.
        windows: cut the history at quiescent points (see the module docstring).
        max_carry: the most distinct final states a window may hand to the next.
        window_nodes: a window's exhaustive exploration may visit this many nodes per operation.
        quick_nodes: the first, whole-history search may visit this many nodes per operation
            before the windowed search takes over (0: go straight to the windows).
        max_worlds: the model's bound on possible states (`Model`); past it, `Undecided`.

    Returns:
        `Linearizable`, `NotLinearizable` or `Undecided`; never `NotLinearizable` unless certain.
    """
    if not history.operations:
        return Linearizable((), ())
    separated, watch, late = timing(history)
    search = _Search(
        history,
        time.perf_counter() + budget,
        watch,
        late,
        _ranks(history),
        _Scale(history, separated),
    )
    start_time = min((op.invoke for op in history.operations), default=0.0)
    initial = Model(history.capabilities, min(0.0, start_time), max_worlds=max_worlds)
    everything = list(range(len(history.operations)))
    start: list[tuple[Model, tuple[tuple[int, float], ...]]] = [(initial, ())]
    if not windows:
        return _answer(search, *search.run(everything, start, 0, None), budget, separated)
    if quick_nodes > 0:
        # Quick pass: the whole history in one search, with a node cap. A valid history's
        # witness is usually found at a few nodes per operation.
        status, finals = search.run(everything, start, 0, quick_nodes * len(everything) + 1)
        if status != "overflow":
            return _answer(search, status, finals, budget, separated)
    # Exact pass: carry every final state of each window (while few and cheap to find), so a
    # failure deep in the history does not re-explore every order of what came before it.
    pieces = quiescent_windows(history)
    starts = start
    for n, piece in enumerate(pieces):
        if n == len(pieces) - 1:
            status, finals = search.run(piece, starts, 0, None)
            break
        status, finals = search.run(piece, starts, max_carry, window_nodes * len(piece))
        if status == "overflow":
            rest = [g for later in pieces[n:] for g in later]
            status, finals = search.run(rest, starts, 0, None)
            break
        if status != "found":
            break
        starts = finals
    return _answer(search, status, finals, budget, separated)


def _ranks(history: History) -> list[tuple[float, int, float]]:
    """The order the search tries candidates in: a heuristic, irrelevant to correctness.

    Operations go by the middle of their window, except that a Push goes by the middle of the
    window of the first Reserve that returned its job (just before it): concurrent pushes are
    tried in the order their jobs came out, which is the FIFO order the queue must have given
    them, and a Push is placed as late as real time allows, which never makes a Reserve of
    another job fail. Calls that never returned go last.
    """
    ops = history.operations
    middle = [(op.invoke + op.end) / 2 for op in ops]
    taken: dict[str, float] = {}
    for g, op in enumerate(ops):
        value = op.returned if op.op == "reserve" else None
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            taken[value["id"]] = min(taken.get(value["id"], INF), middle[g])
    ranks = []
    for g, op in enumerate(ops):
        if op.op == "push" and isinstance(op.task, dict) and op.task.get("id") in taken:
            ranks.append((taken[op.task["id"]], 0, op.invoke))
        else:
            ranks.append((middle[g], 1, op.invoke))
    return ranks


def _answer(
    search: _Search,
    status: str,
    finals: list[tuple[Model, tuple[tuple[int, float], ...]]],
    budget: float,
    separated: bool,
) -> Result:
    if status == "found":
        _, path = finals[0]
        return Linearizable(tuple(g for g, _ in path), tuple(t for _, t in path), search.nodes)
    if status == "budget":
        return Undecided(
            f"the search budget of {budget:g}s ran out", search.nodes, _failure(search)
        )
    if search.inconclusive:
        return Undecided(
            "the model's bound on possible states was exceeded (inconclusive)",
            search.nodes,
            _failure(search),
        )
    failure = _failure(search)
    if failure is None:  # pragma: no cover - every failed branch ends in a rejection
        return Undecided("no linearization, and no rejection to report", search.nodes)
    if not separated:
        return Undecided(
            "no linearization at the instants tried, and the history is not "
            "time-separated: other instants inside the windows might explain it",
            search.nodes,
            failure,
        )
    return failure


def _failure(search: _Search) -> NotLinearizable | None:
    if search.best is None:
        return None
    path, operation, finding = search.best
    return NotLinearizable(
        tuple(g for g, _ in path), tuple(t for _, t in path), operation, finding, search.nodes
    )
