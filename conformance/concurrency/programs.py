"""Parallel programs for a queue: their instructions, and the Hypothesis strategy drawing them.

Responsibility: the values `Push`, `Reserve`, `Delete` and `Program` (a sequential prefix,
then 2-3 branches meant to run at the same time), their rendering as calls, and `programs`,
the strategy `mqspec.conformance.concurrency.parallel` draws and shrinks them with. Values only:
running
a program is `mqspec.conformance.concurrency.parallel.run_program`.

Rule: imports attrs, Hypothesis's strategies and the error vocabulary only; no I/O.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st

from mqspec.reference.errors import UsageError

__all__ = [
    "Delete",
    "Instruction",
    "Program",
    "Push",
    "Reserve",
    "instructions",
    "programs",
]


@attrs.frozen
class Push:
    """Push a fresh job ``id`` with ``priority`` and ``delay`` (seconds, 0 for none)."""

    id: str
    priority: int = 0
    delay: int = 0

    def task(self) -> dict[str, Any]:
        """The task this instruction pushes."""
        task: dict[str, Any] = {"id": self.id, "priority": self.priority}
        if self.delay:
            task["delay"] = self.delay
        return task

    def render(self) -> str:
        """``push('j0', priority=1, delay=2)``."""
        delay = f", delay={self.delay}" if self.delay else ""
        return f"push({self.id!r}, priority={self.priority}{delay})"


@attrs.frozen
class Reserve:
    """Reserve; the branch keeps what it got for a later `Delete`."""

    def render(self) -> str:
        """``reserve()``."""
        return "reserve()"


@attrs.frozen
class Delete:
    """Delete the task pushed as ``id`` (as pushed, without token), or with ``id`` None the task
    this branch reserved last and has not deleted yet (token included); skipped when there is
    none."""

    id: str | None = None

    def render(self) -> str:
        """``delete(reserved)`` or ``delete('j0')``."""
        return "delete(reserved)" if self.id is None else f"delete({self.id!r})"


Instruction = Push | Reserve | Delete
"""One call a program makes: the calls are planned before the queue answers any."""


@attrs.frozen
class Program:
    """A sequential ``prefix``, then ``branches`` run in parallel (one thread each)."""

    prefix: tuple[Instruction, ...]
    branches: tuple[tuple[Instruction, ...], ...]

    @property
    def size(self) -> int:
        """The number of instructions in all."""
        return len(self.prefix) + sum(len(b) for b in self.branches)

    def pushed_task(self, ident: str) -> dict[str, Any]:
        """The task the program pushes as ``ident``, as a Delete of that id sends it: a caller
        holds the whole task, never a bare id (a queue may find the job by any field)."""
        for s in instructions(self):
            if isinstance(s, Push) and s.id == ident:
                return s.task()
        return {"id": ident, "priority": 0}  # never pushed: still a valid task with the id

    def render(self) -> str:
        """One line for the prefix and one per branch, each instruction as a call."""
        lines = ["prefix: " + ("; ".join(s.render() for s in self.prefix) or "(none)")]
        for n, branch in enumerate(self.branches, start=1):
            lines.append(f"branch {n}: " + "; ".join(s.render() for s in branch))
        return "\n".join(lines)


def _raw_instruction(delays: bool) -> st.SearchStrategy[tuple[Any, ...]]:
    # Push first: Hypothesis shrinks a one_of towards its first branch, and the simplest
    # program that shows a queue bug pushes before it reserves.
    delay = st.one_of(st.just(0), st.integers(1, 3)) if delays else st.just(0)
    return st.one_of(
        st.tuples(st.just("push"), st.integers(0, 2), delay),
        st.tuples(st.just("reserve")),
        st.tuples(st.just("delete"), st.one_of(st.none(), st.integers(0, 15))),
    )


def programs(
    *,
    delays: bool = True,
    max_prefix: int = 5,
    min_branches: int = 2,
    max_branches: int = 3,
    max_branch: int = 5,
) -> st.SearchStrategy[Program]:
    """A strategy for `Program`: 0-``max_prefix`` instructions, then 2-3 branches of 1-5.

    Pushed ids are fresh (``j0``, ``j1``, ... in program order) and are numbered after drawing,
    so shrinking an instruction away never leaves a duplicate. A Delete names either the task its
    branch reserved last, or one of the program's pushed ids. Instructions shrink towards a Push of
    priority 0 without delay, and programs towards fewer, shorter branches.
    """
    if not 2 <= min_branches <= max_branches or max_prefix < 0 or max_branch < 1:
        raise UsageError(
            f"need 2 <= min_branches <= max_branches, max_prefix >= 0 and max_branch >= 1, "
            f"got {min_branches}, {max_branches}, {max_prefix}, {max_branch}"
        )
    raw = _raw_instruction(delays)
    shape = st.tuples(
        st.lists(raw, max_size=max_prefix),
        st.lists(
            st.lists(raw, min_size=1, max_size=max_branch),
            min_size=min_branches,
            max_size=max_branches,
        ),
    )
    return shape.map(lambda parts: _build(parts[0], parts[1]))


def _build(prefix: list[tuple[Any, ...]], branches: list[list[tuple[Any, ...]]]) -> Program:
    everything = [*prefix, *(s for branch in branches for s in branch)]
    ids = [f"j{n}" for n in range(sum(1 for s in everything if s[0] == "push"))]
    counter = iter(ids)

    def instruction(raw: tuple[Any, ...]) -> Instruction:
        if raw[0] == "push":
            return Push(next(counter), raw[1], raw[2])
        if raw[0] == "reserve":
            return Reserve()
        which = raw[1]
        return Delete(None if which is None or not ids else ids[which % len(ids)])

    return Program(
        tuple(map(instruction, prefix)), tuple(tuple(map(instruction, b)) for b in branches)
    )


def instructions(program: Program) -> list[Instruction]:
    """Every instruction of ``program``: the prefix, then each branch in turn."""
    return [*program.prefix, *(s for b in program.branches for s in b)]
