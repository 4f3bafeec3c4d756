"""Which clauses a run judges: ``--only`` and ``--skip``, by clause ID or group.

A run judges every clause by default. ``--only`` keeps the clauses it names, ``--skip`` drops
the ones it names; each name is a clause ID (``MQ-ORDER-2``) or a group (``MQ-ORDER``, or
``ORDER``), in any case. What is not selected is not judged: its scenarios do not run, and a
divergence the search finds on it is set aside, shown as such and not counted in the verdict
(the search goes on looking for other clauses: each clause's failure is shrunk on its own).

Rule: a value module: the clause catalogue and the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable

from mqspec.reference.clauses import CATALOGUE
from mqspec.reference.errors import UsageError

__all__ = ["NOT_SELECTED", "deselected_by"]

NOT_SELECTED = "not selected (--only/--skip)"
"""The reason a clause outside the selection is skipped."""


def deselected_by(only: Iterable[str] = (), skip: Iterable[str] = ()) -> frozenset[str]:
    """The IDs of the clauses ``only`` and ``skip`` leave out (empty: every clause judged).

    Each argument is a list of names, each possibly several joined by commas.

    Raises:
        UsageError: a name that is neither a clause ID nor a group; or a selection that
            leaves no clause at all.
    """
    live = [c.id for c in CATALOGUE.values() if not c.withdrawn]
    kept = set(_named(only)) if _names(only) else set(live)
    kept -= _named(skip)
    if not kept:
        raise UsageError("--only and --skip leave no clause to judge")
    return frozenset(c for c in live if c not in kept)


def _names(given: Iterable[str]) -> list[str]:
    return [n.strip() for text in given for n in text.split(",") if n.strip()]


def _named(given: Iterable[str]) -> set[str]:
    """The clause IDs the names in ``given`` stand for."""
    live = [c for c in CATALOGUE.values() if not c.withdrawn]
    out: set[str] = set()
    for name in _names(given):
        key = name.upper()
        if not key.startswith("MQ-"):
            key = f"MQ-{key}"
        matched = {c.id for c in live if c.id == key or f"MQ-{c.area}" == key}
        if not matched:
            groups = sorted({c.area for c in live})
            raise UsageError(
                f"--only/--skip: {name!r} names no clause or group; give an ID like "
                f"MQ-ORDER-2 or a group: {', '.join(groups)}"
            )
        out |= matched
    return out
