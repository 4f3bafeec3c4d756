"""A durable MessageQueue on PostgreSQL (psycopg 3): the lease design, one statement per Reserve.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a
PostgreSQL server (15 verified; 12+ needed for ``AS MATERIALIZED``). Each queue name is one
table ``mqspec_q_<name>`` (the name lower-cased: PostgreSQL folds unquoted identifiers, so queue
names compare case-insensitively, as in SQLite), created on first use with its indexes.

Design: the lease design, the same as `mqspec.adapters.sqlite`:

* A job's place in line is ``(priority DESC, ready_at, seq)`` and never changes; an index in that
  order serves Reserve. ``seq`` is an identity column.
* A reservation is a lease: Reserve sets ``visible_at = now + T`` and a ``lease`` token, so an
  expired lease puts the job back in its old place with no sweeper (MQ-RESTORE-1..3).
* Reserve is one statement: a ``MATERIALIZED`` CTE picks the head with ``FOR UPDATE SKIP
  LOCKED`` (so concurrent consumers never wait on, or take, the same row, and the planner cannot
  re-run the LIMIT subquery) and the UPDATE leases it, in autocommit. No crash between "take" and
  "record" can lose the job.
* Delete runs in one transaction: the guarded DELETE, then (only if it removed nothing) an
  existence check in a fresh snapshot, so an absent id succeeds and a live one errors.
* Ids are stored as ``bytea`` (exact bytes: no collation, NUL and lone surrogates allowed) with a
  hash index (no size limit); tasks as JSON ``text``, returned exactly as pushed.

Time: the harness's ``now`` when given (virtual time); otherwise the server's
``clock_timestamp()`` as epoch seconds; never ``now()``, which is frozen at transaction start.
Every Push, Reserve and Delete decides at the larger of that time and the latest time a
statement on this queue already decided at, kept in the one-row table ``mqspec_clock_<name>``
and raised first in each operation's transaction (``UPDATE ... SET now = GREATEST(...) RETURNING
now``, which holds the row until commit); the operation's own statement comes after, so its
snapshot (READ COMMITTED: one per statement) sees every operation that decided before it.
With several clients a call can reach the server after a call with a later time ran; deciding
at its older time would miss
a job that call pushed while seeing what came after it, which no order of the calls explains
(found by the concurrency profile, MQ-READY-1). The cost: writers on one queue take turns on
that row. Named so that it can never be the table of another queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlunsplit

from mqspec.adapters.base import Task
from mqspec.adapters.json_store import check_room, id_bytes
from mqspec.adapters.server_sql import NO_TIME, ServerSqlQueue
from mqspec.adapters.server_url import CONNECT_TIMEOUT, parse_server_url
from mqspec.reference.errors import DriverError, UsageError

try:
    import psycopg
    from psycopg import errors as pgerrors
except ImportError:  # pragma: no cover - depends on the environment
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresQueue", "from_url"]

R = TypeVar("R")

# The time an operation decides at (see the module docstring), raised in {clock}, the clock
# table, then handed to the operation's statement as the CTE `t`.
_DECIDE = (
    "UPDATE {clock} SET now = GREATEST(now, coalesce(%(now)s::float8,"
    " extract(epoch FROM clock_timestamp())::float8)) WHERE id = 0 RETURNING now"
)
_CLOCK = "t AS MATERIALIZED (SELECT %(now)s::float8 AS now)"


class PostgresQueue(ServerSqlQueue):
    """One queue (a table ``mqspec_q_<queue>`` and its clock) on one PostgreSQL database.

    The outline (options, connection, reset, close, drop) is `ServerSqlQueue`'s; this class
    holds the SQL and how a transaction runs on psycopg.
    """

    ENGINE = "PostgreSQL"

    def __init__(self, conninfo: str, *, where: str, **options: Any) -> None:
        """Connect with the libpq ``conninfo`` and create the queue's table if needed.

        ``where`` (host:port) names the server in messages. Options as in `QueueOptions`.

        Raises:
            UsageError: a bad option, or a connection option libpq rejects.
            DriverError: no psycopg, or the server cannot be reached or refuses the login.
        """
        super().__init__(where=where, options=options)
        self._clock = _CLOCK
        self._decide_sql = _DECIDE.format(clock=self.clock_table)
        if psycopg is None:
            raise DriverError(
                "the postgresql: scheme needs psycopg: pip install 'mqspec[postgresql]'"
            )
        self._conninfo = conninfo
        # Serialises checked pushes (duplicates=reject, max_jobs) and schema creation.
        self._lock_key = int.from_bytes(
            hashlib.sha256(self.table.encode()).digest()[:8], "big", signed=True
        )
        self._open_connection()

    # -- the statements ------------------------------------------------------------------------

    def _insert(self, task: Task, text: str, now: float | None) -> None:
        cap = self._capabilities
        params = {
            "now": now,
            "id": id_bytes(task["id"]),
            "p": task["priority"],
            "delay": task.get("delay", 0),
            "task": text,
            "key": self._lock_key,
        }
        insert = (
            f"WITH {self._clock} INSERT INTO {self.table}"
            " (id, priority, ready_at, visible_at, task)"
            " SELECT %(id)s, %(p)s, now + %(delay)s, now + %(delay)s, %(task)s FROM t"
        )

        def checked(conn: Any) -> None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%(key)s)", params)
                params["now"] = self._decide(conn, now)
                check_room(
                    cap,
                    task["id"],
                    live=lambda: conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0],
                    exists=lambda: self._exists(conn, params["id"]),
                )
                conn.execute(insert, params)

        def plain(conn: Any) -> None:
            with conn.transaction():
                params["now"] = self._decide(conn, now)
                conn.execute(insert, params)

        if cap.max_jobs is None and cap.duplicate_ids == "distinct":
            self._run(plain)
        else:
            self._run(checked)

    def _lease(self, token: str, now: float | None) -> str | None:
        """One statement: the MATERIALIZED CTE picks the head, the UPDATE leases it."""
        params = {
            "now": now,
            "timeout": self._capabilities.reservation_timeout,
            "token": token,
        }
        sql = (
            f"WITH {self._clock}, c AS MATERIALIZED ("
            f" SELECT seq FROM {self.table} WHERE visible_at <= (SELECT now FROM t)"
            " ORDER BY priority DESC, ready_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
            f" UPDATE {self.table} m SET visible_at = (SELECT now FROM t) + %(timeout)s,"
            " lease = %(token)s FROM c WHERE m.seq = c.seq RETURNING m.task"
        )

        def lease(conn: Any) -> Any:
            with conn.transaction():
                params["now"] = self._decide(conn, now)
                return conn.execute(sql, params).fetchone()

        row = self._run(lease)
        return None if row is None else str(row[0])

    def _remove_reserved(self, ident: str, token: str | None, now: float | None) -> bool:
        # With tokens on, a missing token binds NULL and `lease = NULL` never matches.
        match = " AND lease = %(token)s" if self._capabilities.reservation_tokens else ""
        key = id_bytes(ident)
        params = {"now": now, "id": key, "token": token}
        sql = (
            f"WITH {self._clock} DELETE FROM {self.table} WHERE seq = (SELECT seq FROM {self.table}"
            " WHERE id = %(id)s AND lease IS NOT NULL AND visible_at > (SELECT now FROM t)"
            f"{match} ORDER BY seq LIMIT 1 FOR UPDATE)"
        )

        def guarded(conn: Any) -> bool:
            with conn.transaction():
                params["now"] = self._decide(conn, now)
                if conn.execute(sql, params).rowcount:
                    return True
                # A fresh snapshot (READ COMMITTED): a job deleted meanwhile counts as absent.
                return not self._exists(conn, key)

        return self._run(guarded)

    def _empty(self, start: float) -> None:
        def empty(conn: Any) -> None:
            with conn.transaction():
                conn.execute(f"DELETE FROM {self.table}")
                # A new case may start its clock anew: forget the old high-water mark.
                conn.execute(f"UPDATE {self.clock_table} SET now = %s WHERE id = 0", (start,))

        self._run(empty)

    # -- the driver ----------------------------------------------------------------------------

    def _driver_errors(self) -> type[BaseException]:
        return psycopg.Error

    def _new_connection(self) -> Any:
        """A new autocommit connection; UsageError for a connection option libpq rejects."""
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.ProgrammingError as exc:
            raise UsageError(f"bad PostgreSQL connection option for {self.where}: {exc}") from exc

    def _close_quietly(self, conn: Any) -> None:
        conn.close()  # psycopg: closing a closed connection does nothing

    def _execute_once(self, conn: Any, sql: str) -> None:
        conn.execute(sql)

    def _attempt(self, conn: Any, action: Callable[[Any], R], **how: Any) -> R:
        return action(conn)  # autocommit: each action opens its own transaction block

    def _connection_lost(self, conn: Any, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.OperationalError) and bool(conn.closed or conn.broken)

    def _retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, pgerrors.DeadlockDetected)

    def _out_of_attempts(self, exc: BaseException) -> None:
        raise exc  # a deadlock that lost every attempt reaches the caller as psycopg raised it

    def _decide(self, conn: Any, now: float | None) -> float:
        """Raise the queue's clock to ``now`` (or the server clock) and return the time to
        decide at: never below one an earlier operation decided at (module docstring)."""
        (decided,) = conn.execute(self._decide_sql, {"now": now}).fetchone()
        return float(decided)

    def _exists(self, conn: Any, ident: bytes) -> bool:
        """Return whether a live job has the id ``ident``."""
        row = conn.execute(f"SELECT 1 FROM {self.table} WHERE id = %s LIMIT 1", (ident,))
        return row.fetchone() is not None

    def _prepare(self) -> None:
        """Create the table and its indexes unless they exist (safe against racing openers)."""
        table = self._table_sql()
        with self._conn.transaction():
            # CREATE ... IF NOT EXISTS can still collide in the catalogue when two sessions run
            # it at once; the advisory lock makes them take turns.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            for statement in table:
                self._conn.execute(statement)

    def _table_sql(self) -> list[str]:
        t = self.table
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " id bytea NOT NULL,"  # not UNIQUE: duplicates=distinct keeps two jobs
            " priority smallint NOT NULL,"
            " ready_at double precision NOT NULL,"  # push time + delay; never changes
            " visible_at double precision NOT NULL,"  # ready_at, or the lease deadline
            " lease text,"
            " task text NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {t}_order ON {t} (priority DESC, ready_at, seq)",
            f"CREATE INDEX IF NOT EXISTS {t}_id ON {t} USING hash (id)",
            f"CREATE TABLE IF NOT EXISTS {self.clock_table} ("
            " id smallint PRIMARY KEY, now double precision NOT NULL)",
            f"INSERT INTO {self.clock_table} (id, now) VALUES (0, {NO_TIME})"
            " ON CONFLICT (id) DO NOTHING",
        ]


def from_url(url: str) -> PostgresQueue:
    """Open the queue a URL names: ``postgresql://[user[:password]@]host[:port]/db[?options]``.

    Options (`mqspec.adapters.options`): ``queue`` (namespace, default ``default``; table
    ``mqspec_q_<queue>``), ``timeout`` (seconds), ``tokens`` (1/0, true/false, yes/no, on/off),
    ``duplicates`` (distinct/reject), ``max_jobs`` (integer). Other query parameters
    (``sslmode=...``) go to libpq, which rejects the ones it does not know.

    Raises:
        UsageError: a malformed URL, a bad option value or an option libpq rejects.
        DriverError: the server cannot be reached or refuses the login (names host:port, cause).
    """
    server = parse_server_url(
        url, ("postgresql", "postgres"), default_port=5432, others_allowed=True
    )
    rest = list(server.others)
    given = {key for key, _ in rest}
    if "application_name" not in given:  # lets an operator find (or kill) our connection
        rest.append(("application_name", f"mqspec:{server.options.get('queue', 'default')}"))
    if "connect_timeout" not in given:
        rest.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    # quote, not quote_plus: libpq's URI parser decodes %XX only, so "+" would stay a plus.
    query = urlencode(rest, quote_via=quote)
    conninfo = urlunsplit(("postgresql", server.parts.netloc, server.parts.path, query, ""))
    return PostgresQueue(conninfo, where=server.where, **server.options)
