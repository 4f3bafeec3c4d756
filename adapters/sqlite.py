"""A durable MessageQueue on one SQLite file: the lease design, checked on every operation.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a single
SQLite database file that several processes (and threads) may share. Each queue name is one
table ``mq_<name>`` holding one row per live job.

Design (spec/research notes, backends.md section 6):

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
the wall clock ``time.time()`` is used, the one clock all processes on a host share.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mqspec.adapters.base import Task
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = ["SqliteQueue"]

_NAME = re.compile(r"[A-Za-z0-9_]+")
_POLICIES = ("distinct", "reject")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
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


class SqliteQueue:
    """One queue (a table ``mq_<queue>``) in one SQLite file; see the module docstring.

    Thread-safe (one lock per instance) and process-safe (SQLite's file locks). ``close()``
    keeps the file and the table, because the queue is durable; ``drop()`` removes the table.
    Queue names compare case-insensitively, as SQLite identifiers do.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        queue: str = "default",
        timeout: float = 60,
        tokens: bool = False,
        duplicates: str = "distinct",
        max_jobs: int | None = None,
    ) -> None:
        """Open (creating if needed) the file at ``path`` and the table of ``queue``.

        Raises UsageError for a bad option and DriverError when the file cannot be opened,
        including when its directory does not exist (it is never created).
        """
        if not isinstance(queue, str) or not _NAME.fullmatch(queue):
            raise UsageError(f"option queue={queue!r}: use only letters, digits and _")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise UsageError(f"option timeout={timeout!r}: must be a number of seconds")
        if not math.isfinite(timeout) or timeout <= 0:
            raise UsageError(f"option timeout={timeout!r}: must be finite and > 0")
        if duplicates not in _POLICIES:
            raise UsageError(f"option duplicates={duplicates!r}: must be distinct or reject")
        if max_jobs is not None and (
            isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1
        ):
            raise UsageError(f"option max_jobs={max_jobs!r}: must be an integer >= 1")
        self.path = Path(path)
        self.queue = queue
        self._table = f"mq_{queue}"
        # Not f"{table}_clock": that is the table of the queue named "<queue>_clock".
        self._clock_table = f"mqclock_{queue}"
        self._capabilities = Capabilities(
            reservation_timeout=timeout,
            timeout_settable=True,
            slack=0,
            virtual_time=True,
            durable=True,
            reservation_tokens=bool(tokens),
            duplicate_ids="reject" if duplicates == "reject" else "distinct",
            max_jobs=max_jobs,
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
        ``sqlite:q.db`` are relative. Options: ``timeout`` (seconds), ``tokens`` (1/0),
        ``duplicates`` (distinct/reject), ``max_jobs`` (integer), ``queue`` (table name).
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
        try:
            pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError as exc:
            raise UsageError(f"sqlite URL {url!r} has a malformed query: {exc}") from exc
        options: dict[str, Any] = {}
        for key, value in pairs:
            if key in options:
                raise UsageError(f"sqlite URL option {key}={value!r} given twice")
            options[key] = _parse_option(key, value)
        return cls(raw, **options)

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares: a lease design with settable T, no slack, durable."""
        return self._capabilities

    # -- the contract --------------------------------------------------------------------------

    def push(self, task: Task, now: float | None) -> Task:
        """Queue ``task`` and return it as stored; raise ValueError to refuse it.

        Refused: an invalid task (MQ-TASK-1), a live id under ``duplicates=reject`` (MQ-PUSH-2),
        a full queue (MQ-PUSH-3). A refused push queues nothing.
        """
        problem = task_problem(task, tokens=self._capabilities.reservation_tokens)
        if problem is not None:
            raise ValueError(problem)
        text = _encode(task)
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            cap = self._capabilities
            if cap.max_jobs is not None:
                (live,) = conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()
                if live >= cap.max_jobs:
                    raise ValueError(f"queue full: {live} live jobs, capacity {cap.max_jobs}")
            if cap.duplicate_ids == "reject" and self._exists(conn, task["id"]):
                raise ValueError(f"duplicate id {task['id']!r}: a live job already has it")
            ready_at = t + task.get("delay", 0)
            conn.execute(
                f"INSERT INTO {self._table} (id, priority, ready_at, visible_at, lease, task)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                (task["id"], task["priority"], ready_at, ready_at, text),
            )
        stored: Task = json.loads(text)
        return stored

    def reserve(self, now: float | None) -> Task | None:
        """Lease the first reservable job for T seconds; None when no job is ready.

        One UPDATE picks and leases the row, so no crash between "take" and "record" can lose
        the job. The position columns are left alone: an expired lease restores the job in place.
        """
        token = uuid.uuid4().hex
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            rows = conn.execute(
                f"UPDATE {self._table} SET visible_at = :deadline, lease = :token"
                f" WHERE seq = (SELECT seq FROM {self._table} WHERE visible_at <= :now"
                "  ORDER BY priority DESC, ready_at, seq LIMIT 1)"
                " RETURNING task, lease",
                {"deadline": t + self._capabilities.reservation_timeout, "token": token, "now": t},
            ).fetchall()  # read to the end: a RETURNING statement left open blocks COMMIT
        if not rows:
            return None
        text, lease = rows[0]
        task: Task = json.loads(text)
        if self._capabilities.reservation_tokens:
            task[TOKEN_KEY] = lease
        return task

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``.

        Succeeds when a pending reservation matched (and removes the job for good) or when no job
        has the id (MQ-DELETE-3); raises LookupError when the job exists but has no pending
        reservation, or (with tokens) the token is not the current one (MQ-DELETE-2, -5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise ValueError("delete needs the task Reserve returned (an object with a string id)")
        ident = task["id"]
        tokens = self._capabilities.reservation_tokens
        # With tokens on, a missing token binds NULL and `lease = NULL` never matches.
        match = " AND lease = :token" if tokens else ""
        with self._transaction() as conn:
            t = self._decision_time(conn, now)
            deleted = conn.execute(
                f"DELETE FROM {self._table} WHERE seq = (SELECT seq FROM {self._table}"
                f" WHERE id = :id AND lease IS NOT NULL AND visible_at > :now{match}"
                "  ORDER BY seq LIMIT 1)",
                {"id": ident, "now": t, "token": task.get(TOKEN_KEY)},
            ).rowcount
            if deleted == 0 and self._exists(conn, ident):
                why = "with this reservation token" if tokens else "(queued, delayed or expired)"
                raise LookupError(f"not reserved: job {ident!r} has no pending reservation {why}")

    def tick(self, now: float | None) -> None:
        """Nothing to do: leases are checked against ``now`` on every operation."""

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
        latest committed one (kept in ``mqclock_<queue>``, shared by every connection), which
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


def _encode(task: Task) -> str:
    """Return ``task`` as JSON text that parses back to an equal value; ValueError if not JSON."""
    try:
        text = json.dumps(task, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task is not a JSON value: {exc}") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be stored as UTF-8 text; \u escapes round-trip it exactly.
        text = json.dumps(task, ensure_ascii=True, allow_nan=False)
    return text


def _parse_option(key: str, value: str) -> Any:
    """Convert one URL query option to its constructor value; UsageError names it if bad."""
    if key == "timeout":
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"sqlite URL option timeout={value!r}: not a number") from None
    if key == "tokens":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise UsageError(f"sqlite URL option tokens={value!r}: use 1 or 0")
    if key == "max_jobs":
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"sqlite URL option max_jobs={value!r}: not an integer") from None
    if key in ("duplicates", "queue"):
        return value  # checked by the constructor
    raise UsageError(f"unknown sqlite URL option {key}={value!r}")
