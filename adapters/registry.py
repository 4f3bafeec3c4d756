"""Open a backend from a URL, following fn's ``MQ_URL`` convention.

Schemes: ``memory://`` (in-process), ``sqlite:///path/file.db`` (embedded, durable),
``exec:<command line>`` (a driver process speaking spec/driver-protocol.md), ``redis://``,
``postgresql://``, ``mysql://``/``mariadb://`` (servers), and ``py:package.module:factory``
(any Python adapter by import path: how a backend author plugs in without touching mqspec; the
factory is called with the URL's query options as keyword arguments, strings). Unknown
schemes, malformed URLs and failed imports raise `UsageError`; a backend that fails to open
raises `DriverError`. Both name the cause.
"""

from __future__ import annotations

import importlib
import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl

from mqspec.adapters.base import QueueAdapter
from mqspec.reference.errors import DriverError, MqspecError, UsageError

__all__ = ["SCHEMES", "load_factory", "open_adapter", "open_isolated", "open_isolated_url"]


def _memory(url: str) -> QueueAdapter:
    from mqspec.adapters.memory import from_url

    return from_url(url)


def _sqlite(url: str) -> QueueAdapter:
    from mqspec.adapters.sqlite import SqliteQueue

    return SqliteQueue.from_url(url)


def _python(url: str) -> QueueAdapter:
    target, _, query = url[len("py:") :].partition("?")
    factory = load_factory(target, url)
    options = dict(parse_qsl(query, keep_blank_values=True))
    try:
        adapter = factory(**options)
    except MqspecError:
        raise
    except Exception as err:
        raise DriverError(f"{url!r}: the factory raised {type(err).__name__}: {err}") from err
    if not isinstance(adapter, QueueAdapter):
        raise UsageError(
            f"{url!r}: the factory returned {type(adapter).__name__}, which lacks the adapter "
            "methods (capabilities, reset, push, reserve, delete, tick, close)"
        )
    return adapter


def load_factory(target: str, url: str) -> Callable[..., object]:
    """The callable ``package.module:factory`` names (``url`` is quoted in the errors).

    Raises:
        UsageError: ``target`` is malformed, its module cannot be imported or fails on import,
            or it names nothing callable.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"py: URL must be py:package.module:factory, got {url!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UsageError(f"cannot import {module_name!r} from {url!r}: {err}") from None
    except Exception as err:  # the module itself is broken (SyntaxError, a raise at import)
        raise UsageError(
            f"importing {module_name!r} from {url!r} failed: {type(err).__name__}: {err}"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UsageError(f"{module_name!r} has no callable {attr!r} (from {url!r})")
    return factory


def _exec(url: str, reservation_timeout: float | None = None) -> QueueAdapter:
    from mqspec.adapters.process import from_url

    return from_url(url, reservation_timeout=reservation_timeout)


def _redis(url: str) -> QueueAdapter:
    from mqspec.adapters.redis import from_url

    return from_url(url)


def _postgresql(url: str) -> QueueAdapter:
    from mqspec.adapters.postgresql import from_url

    return from_url(url)


def _mariadb(url: str) -> QueueAdapter:
    from mqspec.adapters.mariadb import from_url

    return from_url(url)


SCHEMES: dict[str, Callable[[str], QueueAdapter]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "py": _python,
    "exec": _exec,
    "redis": _redis,
    "postgresql": _postgresql,
    "postgres": _postgresql,
    "mysql": _mariadb,
    "mariadb": _mariadb,
}
"""Openers by URL scheme."""


def with_timeout(url: str, reservation_timeout: float) -> str:
    """``url`` asking for the reservation timeout T, where its options can say it.

    An ``exec:`` URL is the driver's command line, which mqspec must not change: there T
    travels in hello instead (`open_adapter`'s ``reservation_timeout``). A URL that already
    sets ``timeout=`` keeps the user's choice.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "exec" or re.search(r"[?&]timeout=", url):
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timeout={reservation_timeout:g}"


def open_adapter(url: str, *, reservation_timeout: float | None = None) -> QueueAdapter:
    """Open the backend ``url`` names; ``reservation_timeout`` asks an ``exec:`` driver for
    that T in hello (a settable driver adopts it; see `with_timeout` for the others).

    Raises:
        UsageError: the URL is malformed, its scheme unknown, or its module cannot be imported.
        DriverError: the backend itself failed to open.
    """
    if not isinstance(url, str) or ":" not in url:
        raise UsageError(f"not a queue URL: {url!r} (expected e.g. memory:// or sqlite:///q.db)")
    scheme = url.split(":", 1)[0].lower()
    opener = SCHEMES.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise UsageError(f"unknown queue URL scheme {scheme!r} in {url!r}; known: {known}")
    try:
        if scheme == "exec" and reservation_timeout is not None:
            return _exec(url, reservation_timeout)
        return opener(url)
    except MqspecError:
        raise
    except Exception as err:
        raise DriverError(f"{url!r} failed to open: {type(err).__name__}: {err}") from err


NAMESPACED = frozenset({"sqlite", "redis", "postgresql", "postgres", "mysql", "mariadb"})
"""Schemes whose adapters keep data outside the process and take a ``queue=<name>`` option
naming their namespace (a table, a key prefix)."""


def open_isolated(url: str) -> tuple[QueueAdapter, Callable[[], None]]:
    """Open ``url`` in a namespace of the harness's own, and return it with its cleanup.

    The suite never touches data it did not create: for a URL of a `NAMESPACED` scheme that
    names no namespace (no ``queue=``) a fresh one is chosen (``queue=mqspec_<random>``), and the
    cleanup drops it after closing. Where the URL names a namespace, the cleanup only closes,
    and the run empties that namespace (the caller chose it).
    """
    adapter, _, cleanup = open_isolated_url(url)
    return adapter, cleanup


def open_isolated_url(
    url: str, *, reservation_timeout: float | None = None
) -> tuple[QueueAdapter, str, Callable[[], None]]:
    """`open_isolated`, also returning the URL opened: ``url`` with the ``queue=`` chosen.

    Another process can open that URL to reach the same namespace (the crash profile does).
    ``reservation_timeout`` asks for that T: in the URL's options (`with_timeout`), or in an
    ``exec:`` driver's hello.
    """
    if reservation_timeout is not None:
        url = with_timeout(url, reservation_timeout)
    chosen = url
    created = False
    scheme = url.split(":", 1)[0].lower()
    if scheme in NAMESPACED and "queue=" not in url:
        joiner = "&" if "?" in url else "?"
        chosen = f"{url}{joiner}queue=mqspec_{secrets.token_hex(4)}"
        created = True
    adapter = open_adapter(chosen, reservation_timeout=reservation_timeout)

    def cleanup() -> None:
        adapter.close()
        drop = getattr(adapter, "drop", None)
        if created and callable(drop):
            drop()

    return adapter, chosen, cleanup
