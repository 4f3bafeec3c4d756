"""What the server adapters share: URL options, option checks, task encoding, error wording.

Responsibility: the parts of ``redis://``, ``postgresql://`` and ``mysql://``/``mariadb://`` that
do not depend on the engine, so the three parse and check their options exactly as
`mqspec.adapters.sqlite` does and word their errors alike. (The name is historical: the Redis
adapter uses the option and encoding helpers too.)

Rule: imports only the standard library and mqspec's vocabulary (``reference.types``,
``reference.errors``, ``reference.tasks``); never a driver and never the model.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "CONNECT_TIMEOUT",
    "QueueOptions",
    "encode_task",
    "id_bytes",
    "split_url",
]

CONNECT_TIMEOUT = 3
"""Seconds an adapter waits for a server to accept a connection before it gives up."""

_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")  # 40: table and index names stay under 63 bytes
_POLICIES = ("distinct", "reject")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
OWN_OPTIONS = ("queue", "timeout", "tokens", "duplicates", "max_jobs")


class QueueOptions:
    """The queue options every server adapter takes, checked when built.

    Args:
        queue: the namespace name (letters, digits and ``_``, at most 40).
        timeout: the reservation timeout T in seconds (finite, > 0).
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
        if not isinstance(queue, str) or not _NAME.fullmatch(queue):
            raise UsageError(f"option queue={queue!r}: use 1 to 40 letters, digits and _ only")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise UsageError(f"option timeout={timeout!r}: must be a number of seconds")
        if not math.isfinite(timeout) or timeout <= 0:
            raise UsageError(f"option timeout={timeout!r}: must be finite and > 0")
        if not isinstance(tokens, bool):
            raise UsageError(f"option tokens={tokens!r}: must be True or False")
        if duplicates not in _POLICIES:
            raise UsageError(f"option duplicates={duplicates!r}: must be distinct or reject")
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise UsageError(f"option max_jobs={max_jobs!r}: must be an integer >= 1")
        self.queue = queue
        self.timeout = float(timeout)
        self.tokens = tokens
        self.duplicates = duplicates
        self.max_jobs = max_jobs

    def capabilities(self, *, durable: bool) -> Capabilities:
        """The declared record: a lease design on the harness's time, slack 0."""
        return Capabilities(
            reservation_timeout=self.timeout,
            timeout_settable=True,
            slack=0,
            virtual_time=True,
            durable=durable,
            reservation_tokens=self.tokens,
            duplicate_ids="reject" if self.duplicates == "reject" else "distinct",
            max_jobs=self.max_jobs,
        )


def split_url(
    url: str, schemes: tuple[str, ...], engine: str
) -> tuple[Any, dict[str, Any], list[tuple[str, str]]]:
    """Split a server URL into its parts, its queue options, and the other query pairs.

    Returns ``(urlsplit result, options for QueueOptions, remaining (key, value) pairs)``.

    Raises:
        UsageError: another scheme, a fragment, a malformed query, a bad port, an option given
            twice or with a bad value; the message names the URL part at fault.
    """
    if not isinstance(url, str):
        raise UsageError(f"not a {engine} URL: {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise UsageError(f"not a {engine} URL: {url!r} (expected {schemes[0]}://host:port/...)")
    if parts.fragment:
        raise UsageError(f"{engine} URL {url!r} has a fragment #{parts.fragment}")
    try:
        _ = parts.port
    except ValueError as exc:
        raise UsageError(f"{engine} URL {url!r} has a bad port: {exc}") from None
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise UsageError(f"{engine} URL {url!r} has a malformed query: {exc}") from None
    options: dict[str, Any] = {}
    rest: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise UsageError(f"{engine} URL option {key}={value!r} given twice")
        seen.add(key)
        if key in OWN_OPTIONS:
            options[key] = _parse_option(engine, key, value)
        else:
            rest.append((key, value))
    return parts, options, rest


def _parse_option(engine: str, key: str, value: str) -> Any:
    """Convert one queue option from its URL text; UsageError names it when bad."""
    if key == "timeout":
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{engine} URL option timeout={value!r}: not a number") from None
    if key == "tokens":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise UsageError(f"{engine} URL option tokens={value!r}: use 1 or 0")
    if key == "max_jobs":
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"{engine} URL option max_jobs={value!r}: not an integer") from None
    return value  # queue, duplicates: checked by QueueOptions


def encode_task(task: Any) -> str:
    """Return ``task`` as JSON text that parses back to an equal value; ValueError if not JSON.

    The text is always valid UTF-8: control characters are escaped by ``json``, and a lone
    surrogate (which UTF-8 cannot carry) makes the whole text ASCII with ``\\u`` escapes, which
    round-trip exactly.
    """
    try:
        text = json.dumps(task, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task is not a JSON value: {exc}") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(task, ensure_ascii=True, allow_nan=False)
    return text


def id_bytes(ident: str) -> bytes:
    """The id as the bytes a server column stores: UTF-8, with lone surrogates kept distinct.

    Bytes compare exactly (no collation, no trailing-space padding, NUL allowed), so two ids
    match in the database exactly when they are equal strings.
    """
    return ident.encode("utf-8", "surrogatepass")
