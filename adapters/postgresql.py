"""A durable MessageQueue on PostgreSQL (psycopg 3): the lease design, one statement per Reserve.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a
PostgreSQL server (15 verified; 12+ needed for ``AS MATERIALIZED``). Each queue name is one
table ``mqspec_q_<name>`` (the name lower-cased: PostgreSQL folds unquoted identifiers, so queue
names compare case-insensitively, as in SQLite), created on first use with its indexes.

Design (backends.md sections 0.2 and 2.2), the same as `mqspec.adapters.sqlite`:

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
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlunsplit

from mqspec.adapters._sqlcommon import (
    CONNECT_TIMEOUT,
    QueueOptions,
    encode_task,
    id_bytes,
    split_url,
)
from mqspec.adapters.base import Task
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

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
_NO_TIME = -1e300  # the clock at a reset in real time: any server time is later
_RETRIES = 3  # attempts for a statement that lost a deadlock (it took no effect)


class PostgresQueue:
    """One queue (a table ``mqspec_q_<queue>``) on one PostgreSQL database.

    Thread-safe: one connection per instance, used under a lock. A dropped connection makes the
    call that found it raise ``ConnectionError``; the next call connects again. ``close()``
    keeps the table (the queue is durable); ``drop()`` removes it.
    """

    def __init__(self, conninfo: str, *, where: str, **options: Any) -> None:
        """Connect with the libpq ``conninfo`` and create the queue's table if needed.

        ``where`` (host:port) names the server in messages. Options as in `QueueOptions`.

        Raises:
            UsageError: a bad option, or a connection option libpq rejects.
            DriverError: no psycopg, or the server cannot be reached or refuses the login.
        """
        self._options = QueueOptions(**options)
        self.queue = self._options.queue
        self.where = where
        self.table = f"mqspec_q_{self.queue.lower()}"
        self.clock_table = f"mqspec_clock_{self.queue.lower()}"
        self._clock = _CLOCK
        self._decide_sql = _DECIDE.format(clock=self.clock_table)
        self._capabilities = self._options.capabilities(durable=True)
        if psycopg is None:
            raise DriverError(
                "the postgresql: scheme needs psycopg: pip install 'mqspec[postgresql]'"
            )
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._open = True
        # Serialises checked pushes (duplicates=reject, max_jobs) and schema creation.
        self._lock_key = int.from_bytes(
            hashlib.sha256(self.table.encode()).digest()[:8], "big", signed=True
        )
        self._conn: Any = self._connect(opening=True)
        try:
            self._create_schema()
        except psycopg.Error as exc:
            self._conn.close()
            raise DriverError(f"cannot create table {self.table} at {self.where}: {exc}") from exc

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares: a lease design with settable T, no slack, durable."""
        return self._capabilities

    # -- the contract --------------------------------------------------------------------------

    def push(self, task: Task, now: float | None) -> Task:
        """Queue ``task``; raise ValueError to refuse it (MQ-TASK-1, MQ-PUSH-2, MQ-PUSH-3)."""
        problem = task_problem(task, tokens=self._capabilities.reservation_tokens)
        if problem is not None:
            raise ValueError(problem)
        text = encode_task(task)
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
                if cap.max_jobs is not None:
                    (live,) = conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()
                    if live >= cap.max_jobs:
                        raise ValueError(f"queue full: {live} live jobs, capacity {cap.max_jobs}")
                if cap.duplicate_ids == "reject" and self._exists(conn, params["id"]):
                    raise ValueError(f"duplicate id {task['id']!r}: a live job already has it")
                conn.execute(insert, params)

        def plain(conn: Any) -> None:
            with conn.transaction():
                params["now"] = self._decide(conn, now)
                conn.execute(insert, params)

        if cap.max_jobs is None and cap.duplicate_ids == "distinct":
            self._run(plain)
        else:
            self._run(checked)
        stored: Task = json.loads(text)
        return stored

    def reserve(self, now: float | None) -> Task | None:
        """Lease the first ready job for T seconds in one statement; None when none is ready."""
        params = {
            "now": now,
            "timeout": self._capabilities.reservation_timeout,
            "token": uuid.uuid4().hex,
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
        if row is None:
            return None
        task: Task = json.loads(row[0])
        if self._capabilities.reservation_tokens:
            task[TOKEN_KEY] = params["token"]
        return task

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``; LookupError when it has none.

        Absent ids succeed (MQ-DELETE-3); a live job without a pending reservation, or (with
        tokens) without one carrying this token, raises and stays as it was (MQ-DELETE-2, -5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise ValueError("delete needs the task Reserve returned (an object with a string id)")
        ident = task["id"]
        tokens = self._capabilities.reservation_tokens
        token = task.get(TOKEN_KEY)
        # With tokens on, a missing token binds NULL and `lease = NULL` never matches.
        match = " AND lease = %(token)s" if tokens else ""
        params = {
            "now": now,
            "id": id_bytes(ident),
            "token": token if isinstance(token, str) else None,
        }
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
                return not self._exists(conn, params["id"])

        if not self._run(guarded):
            why = "with this reservation token" if tokens else "(queued, delayed or expired)"
            raise LookupError(f"not reserved: job {ident!r} has no pending reservation {why}")

    def tick(self, now: float | None) -> None:
        """Nothing to do: leases are checked against ``now`` on every operation."""

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self, now: float | None) -> None:
        """Delete every job of this queue's table (other tables are untouched).

        Idempotent, so a connection found dropped is retried once on a fresh one.
        """
        start = _NO_TIME if now is None else float(now)

        def empty(conn: Any) -> None:
            with conn.transaction():
                conn.execute(f"DELETE FROM {self.table}")
                # A new case may start its clock anew: forget the old high-water mark.
                conn.execute(f"UPDATE {self.clock_table} SET now = %s WHERE id = 0", (start,))

        try:
            try:
                self._run(empty)
            except ConnectionError:
                self._run(empty)
        except (ConnectionError, RuntimeError) as exc:
            raise DriverError(f"cannot reset {self.table}: {exc}") from exc

    def close(self) -> None:
        """Close the connection; the table stays (the queue is durable)."""
        with self._lock:
            self._open = False
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def drop(self) -> None:
        """Drop this queue's table (and its indexes); works before or after ``close()``.

        Uses a connection of its own, so a dropped queue connection does not stop it.
        """
        conn = self._connect(opening=True)
        try:
            conn.execute(f"DROP TABLE IF EXISTS {self.table}, {self.clock_table}")
        except psycopg.Error as exc:
            raise DriverError(f"cannot drop {self.table} at {self.where}: {exc}") from exc
        finally:
            conn.close()

    def __repr__(self) -> str:
        """Show the server and the queue name."""
        return f"PostgresQueue({self.where!r}, queue={self.queue!r})"

    # -- helpers -------------------------------------------------------------------------------

    def _connect(self, *, opening: bool = False) -> Any:
        """A new autocommit connection; DriverError (opening) or ConnectionError otherwise."""
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.ProgrammingError as exc:  # a connection option libpq rejects
            raise UsageError(f"bad PostgreSQL connection option for {self.where}: {exc}") from exc
        except psycopg.Error as exc:
            cause = f"{type(exc).__name__}: {str(exc).strip()}"
            if opening:
                raise DriverError(f"cannot open PostgreSQL at {self.where}: {cause}") from exc
            raise ConnectionError(f"PostgreSQL at {self.where}: {cause}") from exc

    def _run(self, action: Callable[[Any], R]) -> R:
        """Run ``action(conn)`` under the lock, connecting first if the last connection dropped.

        A lost connection raises ConnectionError (the outcome is unknown to the caller, and the
        next call connects again); a deadlock is retried, since the losing statement took no
        effect; other server errors raise RuntimeError.
        """
        with self._lock:
            if not self._open:
                raise ConnectionError(f"{self!r} is closed")
            for attempt in range(_RETRIES):
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
                try:
                    return action(conn)
                except pgerrors.DeadlockDetected:
                    if attempt == _RETRIES - 1:
                        raise
                except psycopg.OperationalError as exc:
                    if conn.closed or conn.broken:
                        self._conn = None
                        conn.close()
                        raise ConnectionError(f"PostgreSQL at {self.where}: {exc}") from exc
                    raise RuntimeError(f"PostgreSQL at {self.where}: {exc}") from exc
                except psycopg.Error as exc:
                    raise RuntimeError(f"PostgreSQL at {self.where}: {exc}") from exc
            raise AssertionError("unreachable")  # pragma: no cover

    def _decide(self, conn: Any, now: float | None) -> float:
        """Raise the queue's clock to ``now`` (or the server clock) and return the time to
        decide at: never below one an earlier operation decided at (module docstring)."""
        (decided,) = conn.execute(self._decide_sql, {"now": now}).fetchone()
        return float(decided)

    def _exists(self, conn: Any, ident: bytes) -> bool:
        """Return whether a live job has the id ``ident``."""
        row = conn.execute(f"SELECT 1 FROM {self.table} WHERE id = %s LIMIT 1", (ident,))
        return row.fetchone() is not None

    def _create_schema(self) -> None:
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
            f"INSERT INTO {self.clock_table} (id, now) VALUES (0, {_NO_TIME})"
            " ON CONFLICT (id) DO NOTHING",
        ]


def from_url(url: str) -> PostgresQueue:
    """Open the queue a URL names: ``postgresql://[user[:password]@]host[:port]/db[?options]``.

    Options: ``queue`` (namespace, default ``default``; table ``mqspec_q_<queue>``), ``timeout``
    (seconds), ``tokens`` (1/0), ``duplicates`` (distinct/reject), ``max_jobs`` (integer). Other
    query parameters (``sslmode=...``) go to libpq, which rejects the ones it does not know.

    Raises:
        UsageError: a malformed URL, a bad option value or an option libpq rejects.
        DriverError: the server cannot be reached or refuses the login (names host:port, cause).
    """
    parts, options, rest = split_url(url, ("postgresql", "postgres"), "postgresql")
    given = {key for key, _ in rest}
    if "application_name" not in given:  # lets an operator find (or kill) our connection
        rest.append(("application_name", f"mqspec:{options.get('queue', 'default')}"))
    if "connect_timeout" not in given:
        rest.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    # quote, not quote_plus: libpq's URI parser decodes %XX only, so "+" would stay a plus.
    query = urlencode(rest, quote_via=quote)
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return PostgresQueue(conninfo, where=where, **options)
