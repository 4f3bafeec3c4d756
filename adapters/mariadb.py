"""A durable MessageQueue on MariaDB 10.6+ (or MySQL 8.0.1+) with PyMySQL: the lease design.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a MariaDB
server (10.11 verified). Each queue name is one InnoDB table ``mqspec_q_<name>`` (the name
lower-cased, so queue names compare case-insensitively as in SQLite and PostgreSQL), created on
first use with its indexes, and a one-row table ``mqspec_clock_<name>`` (see Time below).

Design: the lease design, the same as `mqspec.adapters.postgresql`:

* A job's place in line is ``(band, ready_at, seq)`` with ``band = 2 - priority`` and never
  changes. An all-ascending index serves Reserve (descending index parts are only honoured from
  MariaDB 10.8), and Reserve names it with ``FORCE INDEX``: a filesort would lock every row it
  reads and starve the other consumers.
* A reservation is a lease (``visible_at = now + T`` and a ``lease`` token), so an expired lease
  restores the job in place with no sweeper.
* MariaDB before 13.0 has no ``UPDATE ... RETURNING``, so Reserve is ``SELECT ... FOR UPDATE``
  then ``UPDATE`` in one transaction, at READ COMMITTED (no gap locks on scanned rows). The
  connection runs with autocommit off, so the first statement opens the transaction itself.
* Not ``SKIP LOCKED``: InnoDB locks every row the scan reads *before* testing
  ``visible_at <= now`` (not in the index), so a Reserve for which the head is not ready yet
  holds its lock for a moment, and a concurrent Reserve for which it is ready would skip it and
  answer null, or a lower job, while the head was ready and nobody took it (found by the
  concurrency profile: MQ-READY-1, MQ-ORDER-1). Waiting for the lock instead costs throughput
  under contention, never correctness.
* Delete is one transaction: the guarded ``DELETE ... ORDER BY seq LIMIT 1``, then (only if it
  removed nothing) an existence check. Pushes that must check (``duplicates=reject``,
  ``max_jobs``) take the named lock ``GET_LOCK(<table>)`` so they take turns.
* Ids are ``LONGBLOB`` (exact bytes: no collation, no PAD SPACE, NUL allowed) with a prefix
  index; tasks are ``utf8mb4`` JSON text, returned exactly as pushed.

Time: the harness's ``now`` when given (virtual time); otherwise the server's
``UTC_TIMESTAMP(6)`` as epoch seconds (the session runs at ``time_zone = '+00:00'``, so
``UNIX_TIMESTAMP`` reads it as UTC). Either way it is only a lower bound: every Push, Reserve and
Delete first raises the high-water mark in the one-row table ``mqspec_clock_<name>`` to it
(``UPDATE ... SET now = GREATEST(now, <time>)``, which holds that row's lock until COMMIT) and
decides at the stored value, read back in the same transaction. Reading the time before waiting
for the locks would let an operation decide at a time older than one another connection already
committed: in virtual time each call carries its own invocation time, so a Reserve that waited
for a lock would miss a job a Push with a later ``now`` committed meanwhile, yet see the effects
of later calls; no order of the calls explains that (found by the concurrency profile:
MQ-ORDER-1, MQ-READY-1). Taking the clock row first also serializes the transactions of one
queue, Pushes and Deletes included (measured: about half their 4-client throughput, Reserve
unchanged), and the mark shields the queue from a server clock stepped back. ``reset(now)``
sets the mark to the case's start (``now``, or a huge negative number for real time). The clock
table is named ``mqspec_clock_<name>``, not ``<table>_clock``, so that it can never be the table
of another queue (``mqspec_q_a_clock`` is queue ``a_clock``'s table). A Reserve is four round
trips: clock, SELECT, UPDATE, COMMIT.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from mqspec.adapters.base import Task
from mqspec.adapters.json_store import check_room, id_bytes
from mqspec.adapters.server_sql import NO_TIME, ServerSqlQueue
from mqspec.adapters.server_url import CONNECT_TIMEOUT, parse_server_url
from mqspec.reference.errors import DriverError, UsageError

try:
    import pymysql
except ImportError:  # pragma: no cover - depends on the environment
    pymysql = None  # type: ignore[assignment]

__all__ = ["MariaDBQueue", "from_url"]

R = TypeVar("R")

_SERVER_NOW = "UNIX_TIMESTAMP(UTC_TIMESTAMP(6))"
_OP_TIMEOUT = 30  # seconds a reply may take before the call fails
_RETRY_CODES = {1205, 1213}  # lock wait timeout, deadlock: the transaction was rolled back
_LOST_CODES = {1927, 2006, 2013, 2055, 4031}  # killed, gone away, lost, read error, idle timeout


class MariaDBQueue(ServerSqlQueue):
    """One queue (a table ``mqspec_q_<queue>`` and its clock) in one MariaDB database.

    The outline (options, connection, reset, close, drop) is `ServerSqlQueue`'s; this class
    holds the SQL and how a transaction runs on PyMySQL.
    """

    ENGINE = "MariaDB"

    def __init__(self, connect: dict[str, Any], **options: Any) -> None:
        """Connect with PyMySQL's ``connect`` arguments and create the queue's table if needed.

        Raises:
            UsageError: a bad option.
            DriverError: no PyMySQL, the server cannot be reached or refuses the login, or it
                lacks SKIP LOCKED (MariaDB < 10.6, MySQL < 8.0.1); names host:port and cause.
        """
        where = f"{connect.get('host', 'localhost')}:{connect.get('port', 3306)}"
        super().__init__(where=where, options=options)
        if pymysql is None:
            raise DriverError("the mysql: scheme needs PyMySQL: pip install 'mqspec[mariadb]'")
        self._connect_args = connect
        self._open_connection()

    # -- the statements ------------------------------------------------------------------------

    def _insert(self, task: Task, text: str, now: float | None) -> None:
        cap = self._capabilities
        ident = id_bytes(task["id"])
        delay = task.get("delay", 0)
        t = self._now_sql
        insert = (
            f"INSERT INTO {self.table} (id, band, ready_at, visible_at, task)"
            f" VALUES (%s, %s, {t} + %s, {t} + %s, %s)"
        )
        values = (ident, 2 - task["priority"], delay, delay, text)
        checked = cap.max_jobs is not None or cap.duplicate_ids == "reject"

        def work(cur: Any) -> None:
            self._decision_time(cur, now)
            check_room(
                cap,
                task["id"],
                live=lambda: self._count(cur),
                exists=lambda: self._exists(cur, ident),
            )
            cur.execute(insert, values)

        self._run(work, named_lock=checked)

    def _lease(self, token: str, now: float | None) -> str | None:
        """One transaction: SELECT ... FOR UPDATE the head, then UPDATE it (no RETURNING)."""
        t = self._now_sql
        pick = (
            f"SELECT seq, task FROM {self.table} FORCE INDEX ({self.table}_order)"
            f" WHERE visible_at <= {t} ORDER BY band, ready_at, seq"
            " LIMIT 1 FOR UPDATE"
        )
        lease = f"UPDATE {self.table} SET visible_at = {t} + %s, lease = %s WHERE seq = %s"
        timeout = self._capabilities.reservation_timeout

        def work(cur: Any) -> str | None:
            self._decision_time(cur, now)
            cur.execute(pick)
            row = cur.fetchone()
            if row is None:
                return None
            seq, text = row
            cur.execute(lease, (timeout, token, seq))
            return str(text)

        return self._run(work)

    def _remove_reserved(self, ident: str, token: str | None, now: float | None) -> bool:
        tokens = self._capabilities.reservation_tokens
        key = id_bytes(ident)
        # With tokens on, a missing token binds NULL and `lease = NULL` never matches.
        match = " AND lease = %s" if tokens else ""
        sql = (
            f"DELETE FROM {self.table} WHERE id = %s AND lease IS NOT NULL"
            f" AND visible_at > {self._now_sql}{match} ORDER BY seq LIMIT 1"
        )
        params = (key,) + ((token,) if tokens else ())

        def work(cur: Any) -> bool:
            self._decision_time(cur, now)
            if cur.execute(sql, params):
                return True
            return not self._exists(cur, key)

        return self._run(work)

    def _empty(self, start: float) -> None:
        def work(cur: Any) -> None:
            cur.execute(f"DELETE FROM {self.table}")
            cur.execute(
                f"INSERT INTO {self.clock_table} (id, now) VALUES (0, %s)"
                " ON DUPLICATE KEY UPDATE now = %s",
                (start, start),
            )

        self._run(work)

    # -- the driver ----------------------------------------------------------------------------

    def _driver_errors(self) -> type[BaseException]:
        return pymysql.Error

    def _new_connection(self) -> Any:
        """A new connection at READ COMMITTED and UTC."""
        conn = pymysql.connect(
            **self._connect_args,
            connect_timeout=CONNECT_TIMEOUT,
            # The handshake is read with read_timeout: keep it short so that a peer that
            # accepts but never speaks MySQL fails the open within seconds, then lengthen it.
            read_timeout=CONNECT_TIMEOUT,
            write_timeout=_OP_TIMEOUT,
            charset="utf8mb4",
            autocommit=False,
            init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        )
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
        # PyMySQL has no public setter; it reads the attribute on every call.
        conn._read_timeout = _OP_TIMEOUT  # type: ignore[attr-defined]
        return conn

    def _close_quietly(self, conn: Any) -> None:
        if conn.open:
            conn.close()

    def _execute_once(self, conn: Any, sql: str) -> None:
        with conn.cursor() as cur:
            cur.execute(sql)

    def _attempt(self, conn: Any, action: Callable[[Any], R], **how: Any) -> R:
        """Run ``action(cursor)`` as one transaction, then COMMIT; any exception rolls back.

        ``named_lock=True`` holds ``GET_LOCK(<table>)`` around the transaction.
        """
        named_lock = bool(how.get("named_lock"))
        try:
            with conn.cursor() as cur:
                if named_lock:
                    cur.execute("SELECT GET_LOCK(%s, 30)", (self.table,))
                    if cur.fetchone()[0] != 1:
                        raise RuntimeError(f"timed out waiting for the lock {self.table}")
                try:
                    result = action(cur)
                    conn.commit()
                finally:
                    if named_lock and conn.open:
                        cur.execute("SELECT RELEASE_LOCK(%s)", (self.table,))
            return result
        except BaseException as exc:
            if conn.open and not self._connection_lost(conn, exc):
                conn.rollback()
            raise

    def _connection_lost(self, conn: Any, exc: BaseException) -> bool:
        return _error_code(exc) in _LOST_CODES or not conn.open

    def _retryable(self, exc: BaseException) -> bool:
        return _error_code(exc) in _RETRY_CODES

    @property
    def _now_sql(self) -> str:
        """SQL for the decision time of the transaction, once `_decision_time` has set it."""
        return f"(SELECT now FROM {self.clock_table} WHERE id = 0)"

    def _decision_time(self, cur: Any, now: float | None) -> None:
        """Raise the clock's high-water mark to ``now`` (or the server's time); lock it.

        The first statement of every Push, Reserve and Delete transaction: it waits for the
        clock row's lock, so the time it compares with was committed by the operation decided
        last, and it keeps that lock until COMMIT. The operation then decides at the stored
        mark (`_now_sql`, read back in the same transaction): ``max(now, mark)``, never older
        than a decision already committed, and never below the mark when the server's clock
        steps back. See the module docstring for why a time read before the locks is wrong.
        """
        args: tuple[float, ...]
        if now is None:
            sql, args = f"GREATEST(now, {_SERVER_NOW})", ()
        else:
            sql, args = "GREATEST(now, %s)", (float(now),)
        cur.execute(f"UPDATE {self.clock_table} SET now = {sql} WHERE id = 0", args)

    def _count(self, cur: Any) -> int:
        """The number of live jobs."""
        cur.execute(f"SELECT count(*) FROM {self.table}")
        (live,) = cur.fetchone()
        return int(live)

    def _exists(self, cur: Any, ident: bytes) -> bool:
        """Return whether a live job has the id ``ident``."""
        cur.execute(f"SELECT 1 FROM {self.table} WHERE id = %s LIMIT 1", (ident,))
        return cur.fetchone() is not None

    def _prepare(self) -> None:
        """Check the server's version, then create the tables unless they exist."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            (version,) = cur.fetchone()
        _check_version(version, self.where)
        self._create_schema()

    def _create_schema(self) -> None:
        """Create the table and its indexes, and the clock with its one row, unless they exist."""
        t = self.table
        with self._conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {t} ("
                " seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                " id LONGBLOB NOT NULL,"  # not UNIQUE: duplicates=distinct keeps two jobs
                " band TINYINT NOT NULL,"  # 2 - priority: band 0 is served first
                " ready_at DOUBLE NOT NULL,"  # push time + delay; never changes
                " visible_at DOUBLE NOT NULL,"  # ready_at, or the lease deadline
                " lease VARCHAR(32) CHARACTER SET ascii NULL,"
                " task LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,"
                f" KEY {t}_order (band, ready_at, seq),"
                f" KEY {t}_id (id(255))"
                ") ENGINE=InnoDB"
            )
            # The latest decision time committed (see _decision_time): one row, id 0.
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.clock_table} ("
                " id TINYINT NOT NULL PRIMARY KEY,"
                " now DOUBLE NOT NULL"
                ") ENGINE=InnoDB"
            )
            cur.execute(
                f"INSERT IGNORE INTO {self.clock_table} (id, now) VALUES (0, %s)", (NO_TIME,)
            )
        self._conn.commit()


def _error_code(exc: BaseException) -> int:
    """The server's error number of a PyMySQL error (0 when it has none)."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0


def _check_version(version: str, where: str) -> None:
    """Raise DriverError unless the server has SKIP LOCKED (MariaDB 10.6+, MySQL 8.0.1+)."""
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    numbers = tuple(int(x) for x in found.groups()) if found else (0, 0, 0)
    needed = (10, 6, 0) if "mariadb" in version.lower() else (8, 0, 1)
    if numbers < needed:
        wanted = ".".join(map(str, needed))
        raise DriverError(f"server at {where} is {version}; SKIP LOCKED needs {wanted} or later")


def from_url(url: str) -> MariaDBQueue:
    """Open the queue a URL names: ``mysql://[user[:password]@]host[:port]/database[?options]``.

    ``mariadb://`` is the same. Options (`mqspec.adapters.options`): ``queue`` (namespace,
    default ``default``; table ``mqspec_q_<queue>``), ``timeout`` (seconds), ``tokens`` (1/0,
    true/false, yes/no, on/off), ``duplicates`` (distinct/reject), ``max_jobs`` (integer).

    Raises:
        UsageError: a malformed URL, no database, an unknown option or a bad value.
        DriverError: the server cannot be reached or refuses the login (names host:port, cause).
    """
    server = parse_server_url(url, ("mysql", "mariadb"), default_port=3306)
    database = server.path
    if not database or "/" in database:
        raise UsageError(f"mysql URL {url!r} must name one database: mysql://host:port/database")
    connect: dict[str, Any] = {"host": server.host, "port": server.port, "database": database}
    if server.username:
        connect["user"] = server.username
    if server.password:
        connect["password"] = server.password
    return MariaDBQueue(connect, **server.options)
