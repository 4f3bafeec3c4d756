"""The clause catalogue, loaded once from ``spec/clauses.toml`` into frozen values.

Code names clauses through :func:`clause`, which fails at import time for an unknown ID, so a
typo can never ship as a silent magic string. No I/O besides reading the packaged catalogue.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Literal

import attrs

from mqspec.reference.errors import UsageError

__all__ = ["CATALOGUE", "Clause", "clause"]

Level = Literal["MUST", "SHOULD", "MAY"]


@attrs.frozen
class Clause:
    """One normative clause: its stable ID, RFC 2119 level and one-line title."""

    id: str
    level: Level = attrs.field(validator=attrs.validators.in_(("MUST", "SHOULD", "MAY")))
    title: str
    withdrawn: bool = False

    @property
    def area(self) -> str:
        """The group a clause belongs to: ``MQ-ORDER-2`` -> ``ORDER``."""
        return self.id.split("-")[1]

    def __str__(self) -> str:
        return self.id


def _load() -> dict[str, Clause]:
    text = resources.files("mqspec.spec").joinpath("clauses.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    out: dict[str, Clause] = {}
    for entry in data["clause"]:
        item = Clause(**entry)
        if item.id in out:
            raise UsageError(f"clauses.toml: clause {item.id!r} is defined twice")
        out[item.id] = item
    return out


CATALOGUE: dict[str, Clause] = _load()
"""Every clause, keyed by ID, in catalogue order."""


def clause(clause_id: str) -> Clause:
    """Return the catalogue entry for ``clause_id``.

    Raises:
        UsageError: the ID is not in the catalogue.
    """
    try:
        return CATALOGUE[clause_id]
    except KeyError:
        raise UsageError(f"unknown clause ID {clause_id!r}") from None
