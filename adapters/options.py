"""The queue options every adapter takes, parsed and checked in one place.

Responsibility: turn a URL's query (``?timeout=5&tokens=on&queue=jobs``) into checked option
values, and check the same options given as keyword arguments, so that ``memory://``,
``sqlite:``, ``redis://``, ``postgresql://`` and ``mysql://`` accept the same spellings, apply
the same limits and word their errors alike. Also: the names of the tables a queue owns in a
SQL database, the same in SQLite and on the servers.

Options: ``queue`` (the namespace: letters, digits and ``_``, 1 to 40 of them, so that table
and index names stay under PostgreSQL's 63 bytes), ``timeout`` (the reservation timeout T,
seconds, finite and > 0), ``tokens`` (a boolean: ``1 true yes on`` or ``0 false no off``, any
case), ``duplicates`` (``distinct`` or ``reject``), ``max_jobs`` (an integer >= 1). An
in-process queue has no namespace, so ``memory://`` takes all but ``queue``.

Rule: imports only the standard library and mqspec's vocabulary (``reference.types``,
``reference.errors``); never a driver and never the model.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl

from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "FALSE_WORDS",
    "IN_PROCESS_OPTIONS",
    "NAMESPACED_OPTIONS",
    "TRUE_WORDS",
    "QueueOptions",
    "check_seconds",
    "lease_capabilities",
    "parse_bool",
    "parse_query",
    "table_names",
]

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
IN_PROCESS_OPTIONS = ("timeout", "tokens", "duplicates", "max_jobs")
"""The options of a queue that lives in the process (``memory://``): no namespace."""
NAMESPACED_OPTIONS = ("queue", *IN_PROCESS_OPTIONS)
"""The options of a queue kept outside the process, in a namespace of its own."""

QUEUE_NAME_MAX = 40  # "mqspec_q_" + 40 + "_visible" is 57 bytes: under PostgreSQL's 63
_QUEUE_NAME = re.compile(rf"[A-Za-z0-9_]{{1,{QUEUE_NAME_MAX}}}")
_POLICIES = ("distinct", "reject")


class QueueOptions:
    """The queue options, checked when built.

    Args:
        queue: the namespace name (letters, digits and ``_``, 1 to 40 of them).
        timeout: the reservation timeout T in seconds (finite, > 0); kept as a float.
        tokens: whether Reserve hands out reservation tokens that Delete checks.
        duplicates: ``distinct`` or ``reject`` (MQ-PUSH-2).
        max_jobs: the capacity in live jobs, or None.

    Raises:
        UsageError: a value is out of range; the message names the option and the value.
    """

    __slots__ = ("duplicates", "max_jobs", "queue", "timeout", "tokens")

    def __init__(
        self,
        *,
        queue: str = "default",
        timeout: float = 60,
        tokens: bool = False,
        duplicates: str = "distinct",
        max_jobs: int | None = None,
    ) -> None:
        if not isinstance(queue, str) or not _QUEUE_NAME.fullmatch(queue):
            raise UsageError(
                f"option queue={queue!r}: use 1 to {QUEUE_NAME_MAX} letters, digits and _ only"
            )
        seconds = check_seconds("option timeout", timeout)
        if not isinstance(tokens, bool):
            raise UsageError(f"option tokens={tokens!r}: must be True or False")
        if duplicates not in _POLICIES:
            raise UsageError(f"option duplicates={duplicates!r}: must be distinct or reject")
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise UsageError(f"option max_jobs={max_jobs!r}: must be an integer >= 1")
        self.queue = queue
        self.timeout = seconds
        self.tokens = tokens
        self.duplicates = duplicates
        self.max_jobs = max_jobs

    def capabilities(self, *, durable: bool) -> Capabilities:
        """The declared record: a lease design on the harness's time, slack 0."""
        options = (self.timeout, self.tokens, self.duplicates, self.max_jobs)
        return lease_capabilities(*options, durable=durable)


def check_seconds(name: str, value: Any) -> float:
    """``value`` as a float of seconds: a number (not a bool), finite and > 0.

    Raises:
        UsageError: ``<name>=<value>: must be ...``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name}={value!r}: must be a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name}={value!r}: must be finite and > 0")
    return float(value)


def lease_capabilities(
    timeout: float,
    tokens: bool,
    duplicates: str,
    max_jobs: int | None,
    *,
    durable: bool,
    slack: float = 0,
) -> Capabilities:
    """What a lease design declares: settable T, virtual time, ``slack`` (0 unless a variant
    says otherwise), and the options (T, tokens, duplicate policy, capacity) as given."""
    return Capabilities(
        reservation_timeout=timeout,
        timeout_settable=True,
        slack=slack,
        virtual_time=True,
        durable=durable,
        reservation_tokens=tokens,
        duplicate_ids="reject" if duplicates == "reject" else "distinct",
        max_jobs=max_jobs,
    )


def table_names(queue: str) -> tuple[str, str]:
    """The jobs table and the one-row clock table of ``queue`` in a SQL database.

    The name is lower-cased: SQL folds unquoted identifiers, so queue names compare
    case-insensitively. The clock is ``mqspec_clock_<queue>``, not ``<jobs table>_clock``,
    so that it can never be the jobs table of another queue (``mqspec_q_a_clock`` is the jobs
    table of the queue ``a_clock``).
    """
    name = queue.lower()
    return f"mqspec_q_{name}", f"mqspec_clock_{name}"


def parse_bool(text: str) -> bool | None:
    """The boolean ``text`` spells (any case, surrounding blanks ignored), or None."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_query(
    query: str,
    *,
    scheme: str,
    url: str,
    known: tuple[str, ...] = NAMESPACED_OPTIONS,
    others_allowed: bool = False,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Split a URL's query into its queue options (converted from text) and the other pairs.

    ``known`` are the queue options the adapter takes; with ``others_allowed`` the remaining
    pairs are returned for the adapter to pass on (PostgreSQL hands them to libpq), otherwise
    the first one is an error. The values are converted here and range-checked by
    `QueueOptions`.

    Raises:
        UsageError: a malformed query, an option given twice, an unknown option (the message
            lists the known ones) or a value that is not of its kind; the message names the
            option and the value.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise UsageError(f"{scheme} URL {url!r} has a malformed query: {exc}") from None
    options: dict[str, Any] = {}
    others: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise UsageError(f"{scheme} URL option {key}={value!r} given twice")
        seen.add(key)
        if key in known:
            options[key] = _convert(scheme, key, value)
        elif others_allowed:
            others.append((key, value))
        else:
            raise UsageError(
                f"unknown {scheme} URL option {key}={value!r} (known: {', '.join(known)})"
            )
    return options, others


def _convert(scheme: str, key: str, value: str) -> Any:
    """One queue option from its URL text; UsageError names it when it is not of its kind."""
    if key == "timeout":
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{scheme} URL option timeout={value!r}: not a number") from None
    if key == "tokens":
        flag = parse_bool(value)
        if flag is None:
            words = "/".join(TRUE_WORDS + FALSE_WORDS)
            raise UsageError(f"{scheme} URL option tokens={value!r}: use one of {words}")
        return flag
    if key == "max_jobs":
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"{scheme} URL option max_jobs={value!r}: not an integer") from None
    return value  # queue, duplicates: checked by QueueOptions
