"""Where the searches keep the failing programs they find: Hypothesis's example database.

By default a run keeps nothing: the same seed, profile and versions repeat the same run. A CI
matrix of many workers and drivers can instead share what it finds: ``--example-db`` (or the
``MQSPEC_EXAMPLE_DB`` environment variable; the pytest plugin's ``--mq-example-db``) names a
database, and every state machine then saves the failing programs it finds there and replays
the saved ones first, before it generates any. A failure one worker found is tried first by
every worker that starts a search afterwards, and by every later run (as with any database, the
runs then no longer follow from the seed alone).

Two kinds: ``redis://host:port/db`` (Hypothesis's `RedisExampleDatabase`, needs the redis
package: ``pip install 'mqspec[redis]'``; keys under ``mqspec-example:``, expiring after 8
days) shared across machines, and a directory path (Hypothesis's directory database) for one
machine. Entries are kept per search and per queue URL as given, so one driver's failures are
replayed on that driver.

Rule: a process-wide setting, like Hypothesis's own; the front ends set it once per run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from mqspec.reference.errors import DriverError, UsageError

__all__ = [
    "ENV",
    "KEY_PREFIX",
    "ExampleDatabase",
    "current",
    "from_option",
    "open_example_db",
    "use",
]

ENV = "MQSPEC_EXAMPLE_DB"
"""The environment variable naming the database when no option does."""

KEY_PREFIX = b"mqspec-example:"
"""The Redis keys' prefix: everything mqspec keeps in a shared Redis is under it."""

_current: ExampleDatabase | None = None


def open_example_db(where: str, *, key_prefix: bytes = KEY_PREFIX) -> ExampleDatabase:
    """The database ``where`` names: ``redis://host:port/db`` or a directory path.

    Raises:
        UsageError: an unknown URL scheme.
        DriverError: no redis package, or Redis does not answer (host:port and the cause).
    """
    if where.startswith(("redis://", "rediss://")):
        return _redis_db(where, key_prefix)
    if "://" in where:
        raise UsageError(
            f"example database {where!r}: give redis://host:port/db or a directory path"
        )
    return DirectoryBasedExampleDatabase(str(Path(where).expanduser()))


def _redis_db(url: str, key_prefix: bytes) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise DriverError(
            "a Redis example database needs the redis package: pip install 'mqspec[redis]'"
        ) from None
    client: Any = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
    where = urlsplit(url).netloc.rpartition("@")[2] or url
    try:
        client.ping()
    except redis.RedisError as err:
        raise DriverError(f"cannot open the example database at {where}: {err}") from None
    return RedisExampleDatabase(client, key_prefix=key_prefix)


def use(database: ExampleDatabase | None) -> None:
    """Make ``database`` the one every state machine of this process uses (None: none)."""
    global _current
    _current = database


def current() -> ExampleDatabase | None:
    """The database in use: the one `use` set, or none."""
    return _current


def from_option(given: str | None) -> ExampleDatabase | None:
    """The database an option names, else the one `ENV` names, else None.

    Raises:
        UsageError, DriverError: as `open_example_db`.
    """
    where = given or os.environ.get(ENV, "")
    return open_example_db(where) if where else None
