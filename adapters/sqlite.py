"""A durable MessageQueue on one SQLite file: the lease design, checked on every operation.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a single
SQLite database file that several processes (and threads) may share. Each queue name is one
table ``mqspec_q_<name>`` holding one row per live job, and a one-row table
``mqspec_clock_<name>`` (see Time below), named as on the servers
(`mqspec.adapters.options.table_names`). A file written by an older mqspec, whose tables were
``mq_<name>`` and ``mqclock_<name>``, simply holds tables this version does not read: its jobs
are not seen, and ``drop()`` leaves those tables alone.

Design: the lease design.

* A job's place in line is ``(priority DESC, ready_at, seq)`` and never changes. ``seq`` is an
  ``AUTOINCREMENT`` key, so it is never reused, even after the newest row is deleted (a plain
  rowid can be reused, which breaks FIFO).
* A reservation is a lease, not a move: Reserve sets ``visible_at = now + T`` and a ``lease``
  token. A row is reservable when ``visible_at <= now``, so an expired lease puts the job back in
  its old place with no sweeper (MQ-RESTORE-1..3), and there is nothing to tick.
* Every read-then-write runs in ``BEGIN IMMEDIATE``: a deferred transaction that tries to upgrade
  its read lock while another connection writes fails with SQLITE_BUSY at once, ignoring the busy
  timeout. IMMEDIATE takes the write lock first, so it waits (up to the timeout) instead.
* ``journal_mode=WAL`` lets readers run beside the writer; ``synchronous=FULL`` makes each commit
  survive a power loss (NORMAL may roll back the last commits in WAL mode).

Time: with a ``now`` from the harness (virtual time) every decision uses it; with ``now=None``
the wall clock ``time.time()`` is used, the one clock all processes on a host share. Either way
an operation never decides at a time older than the latest one committed, kept in
``mqspec_clock_<name>`` (see ``_decision_time``).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from mqspec.adapters.base import Task
from mqspec.adapters.json_store import JsonStoreQueue, check_room, not_reserved_error
from mqspec.adapters.options import NAMESPACED_OPTIONS, QueueOptions, parse_query, table_names
from mqspec.reference.errors import DriverError, UsageError

__all__ = ["SqliteQueue"]

_BUSY_TIMEOUT = 10  # seconds a writer waits for the file's write lock before SQLITE_BUSY


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with WAL and FULL sync; raise DriverError on failure."""
    try:
        # isolation_level=None: Python's default mode sends its own *deferred* BEGIN before DML,
        # which is exactly the lock-upgrade trap; we send BEGIN IMMEDIATE ourselves.
        # check_same_thread=False: the queue serialises calls itself with a lock.
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise DriverError(f"cannot open SQLite queue file {str(path)!r}: {exc}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss.
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise DriverError(f"cannot open SQLite queue file {str(path)!r}: {exc}") from exc
    return conn


class SqliteQueue(JsonStoreQueue):
    """One queue (a table ``mqspec_q_<queue>``) in one SQLite file; see the module docstring.

    Thread-safe (one lock per instance) and process-safe (SQLite's file locks). ``close()``
    keeps the file and the table, because the queue is durable; ``drop()`` removes the table.
    Queue names compare case-insensitively, as SQLite identifiers do.
    """

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        """Open (creating if needed) the file at ``path`` and the table of ``queue``.

        Options as in `mqspec.adapters.options.QueueOptions`: ``queue``, ``timeout``,
        ``tokens``, ``duplicates``, ``max_jobs``. Raises UsageError for a bad option and
        DriverError when the file cannot be opened, including when its directory does not exist
        (it is never created).
        """
        checked = QueueOptions(**options)
        self.path = Path(path)
        self.queue = checked.queue
        self._table, self._clock_table = table_names(self.queue)
        # T declared exactly as given (60, not 60.0, by default), as this adapter always has:
        # the declared record is printed and written to reports.
        self._capabilities = attrs.evolve(
            checked.capabilities(durable=True), reservation_timeout=options.get("timeout", 60)
        )
        directory = self.path.parent
        if not directory.is_dir():
            raise DriverError(
                f"cannot open SQLite queue file {str(self.path)!r}: "
                f"directory {str(directory)!r} does not exist"
            )
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = _connect(self.path)
        try:
            self._create_schema()
        except sqlite3.Error as exc:
            self.close()
            raise DriverError(
                f"cannot create table {self._table} in {str(self.path)!r}: {exc}"
            ) from exc

    @classmethod
    def from_url(cls, url: str) -> SqliteQueue:
        """Open the queue a ``sqlite:`` URL names.

        ``sqlite:///tmp/q.db`` is the absolute path ``/tmp/q.db``; ``sqlite:///./q.db`` and
        ``sqlite:q.db`` are relative. Options (`mqspec.adapters.options`): ``timeout``
        (seconds), ``tokens`` (1/0, true/false, yes/no, on/off), ``duplicates``
        (distinct/reject), ``max_jobs`` (integer), ``queue`` (the namespace).
        Raises UsageError naming the option and value for anything else.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "sqlite":
            raise UsageError(f"not a sqlite URL: {url!r}")
        if parts.netloc:
            raise UsageError(
                f"sqlite URL {url!r} names a host {parts.netloc!r}; use sqlite:///path"
            )
        if parts.fragment:
            raise UsageError(f"sqlite URL {url!r} has a fragment #{parts.fragment}")
        raw = unquote(parts.path)
        if raw.startswith(("/./", "/../")):
            raw = raw[1:]  # sqlite:///./q.db: the third slash only separates, the path is ./q.db
        if raw in ("", "/"):
            raise UsageError(f"sqlite URL {url!r} has no file path")
        options, _ = parse_query(parts.query, scheme="sqlite", url=url, known=NAMESPACED_OPTIONS)
        return cls(raw, **options)

    # -- the statements (the outline is JsonStoreQueue's) ------------------------------------

    def _insert(self, task: Task, text: str, now: float | None) -> None:
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            check_room(
                self._capabilities,
                task["id"],
                live=lambda: conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0],
                exists=lambda: self._exists(conn, task["id"]),
            )
            ready_at = t + task.get("delay", 0)
            conn.execute(
                f"INSERT INTO {self._table} (id, priority, ready_at, visible_at, lease, task)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                (task["id"], task["priority"], ready_at, ready_at, text),
            )

    def _lease(self, token: str, now: float | None) -> str | None:
        """One UPDATE picks and leases the row, so no crash between "take" and "record" can lose
        the job. The position columns are left alone: an expired lease restores the job in place.
        """
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            rows = conn.execute(
                f"UPDATE {self._table} SET visible_at = :deadline, lease = :token"
                f" WHERE seq = (SELECT seq FROM {self._table} WHERE visible_at <= :now"
                "  ORDER BY priority DESC, ready_at, seq LIMIT 1)"
                " RETURNING task",
                {"deadline": t + self._capabilities.reservation_timeout, "token": token, "now": t},
            ).fetchall()  # read to the end: a RETURNING statement left open blocks COMMIT
        return str(rows[0][0]) if rows else None

    def _remove_reserved(self, ident: str, token: str | None, now: float | None) -> bool:
        """Raises the refusal itself, inside the transaction, so that a refused delete also
        rolls back its raise of the clock (see `_decision_time`)."""
        tokens = self._capabilities.reservation_tokens
        # With tokens on, a missing token binds NULL and `lease = NULL` never matches.
        match = " AND lease = :token" if tokens else ""
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            deleted = conn.execute(
                f"DELETE FROM {self._table} WHERE seq = (SELECT seq FROM {self._table}"
                f" WHERE id = :id AND lease IS NOT NULL AND visible_at > :now{match}"
                "  ORDER BY seq LIMIT 1)",
                {"id": ident, "now": t, "token": token},
            ).rowcount
            if deleted == 0 and self._exists(conn, ident):
                raise not_reserved_error(ident, tokens=tokens)
        return True

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self, now: float | None) -> None:
        """Delete every job of this queue's table (other tables in the file are untouched)."""
        try:
            with self._transaction() as conn:
                conn.execute(f"DELETE FROM {self._table}")
                # A new case may start its virtual clock anew: forget the old high-water mark.
                conn.execute(f"UPDATE {self._clock_table} SET now = ?", (_start(now),))
        except sqlite3.Error as exc:
            raise DriverError(f"cannot reset {self._table} in {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        """Close the connection; the file and the table stay (the queue is durable)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise DriverError(f"cannot close {str(self.path)!r}: {exc}") from exc

    def drop(self) -> None:
        """Remove this queue's table (and its indexes); works before or after ``close()``."""
        with self._lock:
            conn = self._conn if self._conn is not None else _connect(self.path)
            try:
                conn.execute(f"DROP TABLE IF EXISTS {self._table}")
                conn.execute(f"DROP TABLE IF EXISTS {self._clock_table}")
            except sqlite3.Error as exc:
                raise DriverError(
                    f"cannot drop {self._table} in {str(self.path)!r}: {exc}"
                ) from exc
            finally:
                if conn is not self._conn:
                    conn.close()

    def __repr__(self) -> str:
        """Show the file and the queue name."""
        return f"SqliteQueue({str(self.path)!r}, queue={self.queue!r})"

    # -- helpers -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in BEGIN IMMEDIATE under the instance lock; ROLLBACK on any exception.

        IMMEDIATE takes the write lock up front, so a concurrent writer makes us wait (up to the
        busy timeout) instead of failing at once with SQLITE_BUSY on a lock upgrade.
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise sqlite3.ProgrammingError(f"{self!r} is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (e.g. SQLITE_FULL); never mask the cause.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _decision_time(self, conn: sqlite3.Connection, now: float | None) -> float:
        """The time this operation decides at, read once the write lock is held.

        Reading the clock before waiting for the lock would let an operation decide at a time
        older than one another connection already committed: a Reserve that waited would miss
        a job pushed while it waited, yet see what happened after; no order of the calls
        explains that. So the time is read inside the transaction and never goes below the
        latest committed one (kept in ``mqspec_clock_<queue>``, shared by every connection), which
        also shields the queue from a wall clock stepped back.
        """
        (high,) = conn.execute(f"SELECT now FROM {self._clock_table}").fetchone()
        t = _clock(now)
        if t <= high:
            return float(high)
        conn.execute(f"UPDATE {self._clock_table} SET now = ?", (t,))
        return t

    def _exists(self, conn: sqlite3.Connection, ident: str) -> bool:
        """Return whether a live job has ``ident``."""
        row = conn.execute(f"SELECT 1 FROM {self._table} WHERE id = ? LIMIT 1", (ident,))
        return row.fetchone() is not None

    def _create_schema(self) -> None:
        """Create the table and its indexes unless they exist (safe to race across processes)."""
        table = self._table
        with self._transaction() as conn:
            # AUTOINCREMENT: seq is never reused, so enqueue order survives deletes (FIFO).
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " id TEXT NOT NULL,"  # not UNIQUE: duplicates=distinct keeps two jobs
                " priority INTEGER NOT NULL,"
                " ready_at REAL NOT NULL,"
                " visible_at REAL NOT NULL,"
                " lease TEXT,"
                " task TEXT NOT NULL)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_order ON {table}"
                " (priority DESC, ready_at, seq)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_visible ON {table} (visible_at)")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_id ON {table} (id)")
            # The latest decision time committed (see _decision_time): one row.
            clock = self._clock_table
            conn.execute(f"CREATE TABLE IF NOT EXISTS {clock} (now REAL NOT NULL)")
            conn.execute(
                f"INSERT INTO {clock} SELECT ? WHERE NOT EXISTS (SELECT 1 FROM {clock})",
                (_start(None),),
            )


def _clock(now: float | None) -> float:
    """The time of a decision: the harness's ``now``, or the host's wall clock when None."""
    return time.time() if now is None else float(now)


def _start(now: float | None) -> float:
    """The clock's high-water mark at a reset: the case's start, or nothing in real time."""
    return -math.inf if now is None else float(now)
