"""What the server adapters (Redis, PostgreSQL, MariaDB) share about reaching a server.

Responsibility: split a server URL (``scheme://[user[:password]@]host[:port]/path?options``)
into the address, the credentials, the path and the queue options (parsed by
`mqspec.adapters.options`), with the same checks and wording for every engine; the seconds an
adapter waits for a server to accept a connection; and the one retry a reset gets when its
connection was found dropped.

Rule: imports only the standard library and mqspec's vocabulary; never a driver or the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import attrs

from mqspec.adapters.options import NAMESPACED_OPTIONS, parse_query
from mqspec.reference.errors import DriverError, UsageError

__all__ = ["CONNECT_TIMEOUT", "ServerUrl", "parse_server_url", "reset_retried_once"]

CONNECT_TIMEOUT = 3
"""Seconds an adapter waits for a server to accept a connection before it gives up."""


@attrs.frozen
class ServerUrl:
    """A server URL taken apart.

    Attributes:
        parts: the `urlsplit` result, for an adapter that rebuilds the URL (PostgreSQL).
        host, port: the server's address (the defaults when the URL names none).
        username, password: the credentials, percent-decoded, or None.
        path: the path after the first ``/``, percent-decoded (a database name or number).
        options: the queue options, converted (`QueueOptions` checks their ranges).
        others: the other query pairs, in order, when the engine takes any.
    """

    parts: SplitResult
    host: str
    port: int
    username: str | None
    password: str | None
    path: str
    options: dict[str, Any]
    others: list[tuple[str, str]]

    @property
    def where(self) -> str:
        """``host:port``, as messages name the server."""
        return f"{self.host}:{self.port}"


def parse_server_url(
    url: str,
    schemes: tuple[str, ...],
    *,
    default_port: int,
    others_allowed: bool = False,
) -> ServerUrl:
    """Take a server URL apart; ``schemes[0]`` names the engine in messages.

    Raises:
        UsageError: another scheme, a fragment, a malformed query, a bad port, or a queue
            option that is unknown (unless ``others_allowed``), given twice or not of its kind;
            the message names the URL part at fault.
    """
    engine = schemes[0]
    if not isinstance(url, str):
        raise UsageError(f"not a {engine} URL: {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise UsageError(f"not a {engine} URL: {url!r} (expected {engine}://host:port/...)")
    if parts.fragment:
        raise UsageError(f"{engine} URL {url!r} has a fragment #{parts.fragment}")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{engine} URL {url!r} has a bad port: {exc}") from None
    options, others = parse_query(
        parts.query,
        scheme=engine,
        url=url,
        known=NAMESPACED_OPTIONS,
        others_allowed=others_allowed,
    )
    return ServerUrl(
        parts=parts,
        host=parts.hostname or "localhost",
        port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=unquote(parts.path.lstrip("/")),
        options=options,
        others=others,
    )


def reset_retried_once(action: Callable[[], object], what: str) -> None:
    """Run a reset ``action``; once more when it found its connection dropped.

    A reset is idempotent, so a second attempt on a fresh connection is safe; the adapter's
    call connects again after a `ConnectionError`.

    Raises:
        DriverError: the second attempt lost its connection too, or the server refused the
            reset (``RuntimeError``); the message says ``cannot reset <what>`` and the cause.
    """
    try:
        try:
            action()
        except ConnectionError:
            action()
    except (ConnectionError, RuntimeError) as exc:
        raise DriverError(f"cannot reset {what}: {exc}") from exc
