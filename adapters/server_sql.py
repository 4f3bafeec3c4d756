"""The outline the PostgreSQL and MariaDB adapters share: one queue in two tables on a server.

Responsibility: everything about a SQL-server queue that does not depend on the engine's SQL:
checking the options, naming the tables (`mqspec.adapters.options.table_names`), connecting
(a failure to open is a `DriverError`, a connection lost later a `ConnectionError`), the
running a transaction (a deadlock tried again, a lost connection reported), and reset, close
and drop; Push, Reserve and Delete follow `mqspec.adapters.json_store.JsonStoreQueue`. A
subclass (`mqspec.adapters.postgresql`, `mqspec.adapters.mariadb`) supplies the driver, its
statements and how one attempt at a transaction runs.

Rule: imports only the standard library and mqspec's vocabulary; never a driver or the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from mqspec.adapters.json_store import JsonStoreQueue
from mqspec.adapters.options import QueueOptions, table_names
from mqspec.adapters.server_url import reset_retried_once
from mqspec.reference.errors import DriverError

__all__ = ["NO_TIME", "ServerSqlQueue"]

R = TypeVar("R")

NO_TIME = -1e300
"""The clock's high-water mark after a reset in real time: below any server time."""

_ATTEMPTS = 3  # tries for a transaction that lost a deadlock (it took no effect)


class ServerSqlQueue(JsonStoreQueue):
    """One queue (a table ``mqspec_q_<queue>`` and its clock ``mqspec_clock_<queue>``) on one
    SQL server; a subclass supplies the engine.

    Thread-safe: one connection per instance, used under a lock by `_run`. A
    dropped connection makes the call that found it raise ``ConnectionError``; the next call
    connects again. ``close()`` keeps the tables (the queue is durable); ``drop()`` removes them.
    """

    ENGINE: ClassVar[str] = ""
    """The engine's name in messages (``PostgreSQL``, ``MariaDB``)."""

    _conn: Any
    """The open connection, or None after it dropped (the next call connects again)."""

    def __init__(self, *, where: str, options: dict[str, Any]) -> None:
        """Check the options and name the tables; `_open_connection` connects afterwards.

        Raises:
            UsageError: a bad option.
        """
        self._options = QueueOptions(**options)
        self.queue = self._options.queue
        self.where = where
        self.table, self.clock_table = table_names(self.queue)
        self._capabilities = self._options.capabilities(durable=True)
        self._lock = threading.Lock()
        self._open = True
        self._conn = None

    def _open_connection(self) -> None:
        """Connect and create the tables unless they exist (`_prepare`); close again on failure.

        Raises:
            DriverError: the server cannot be reached, refuses the login, is not fit
                (`_prepare` says why), or refused to create a table.
        """
        self._conn = self._connect(opening=True)
        try:
            self._prepare()
        except DriverError:
            self._conn.close()
            raise
        except self._driver_errors() as exc:
            self._conn.close()
            raise DriverError(f"cannot create table {self.table} at {self.where}: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self, now: float | None) -> None:
        """Delete every job of this queue's table and set its clock to the case's start.

        Other tables are untouched. A new case may start its virtual clock anew, so the
        high-water mark goes back to ``now`` (or below any time, for real time). Idempotent, so
        a connection found dropped is retried once on a fresh one.
        """
        start = NO_TIME if now is None else float(now)
        reset_retried_once(lambda: self._empty(start), self.table)

    def close(self) -> None:
        """Close the connection; the tables stay (the queue is durable)."""
        with self._lock:
            self._open = False
            conn, self._conn = self._conn, None
        if conn is not None:
            self._close_quietly(conn)

    def drop(self) -> None:
        """Drop this queue's table (and its indexes) and its clock; before or after ``close()``.

        Uses a connection of its own, so a dropped queue connection does not stop it.
        """
        conn = self._connect(opening=True)
        try:
            self._execute_once(conn, f"DROP TABLE IF EXISTS {self.table}, {self.clock_table}")
        except self._driver_errors() as exc:
            raise DriverError(f"cannot drop {self.table} at {self.where}: {exc}") from exc
        finally:
            self._close_quietly(conn)

    def __repr__(self) -> str:
        """Show the server and the queue name."""
        return f"{type(self).__name__}({self.where!r}, queue={self.queue!r})"

    # -- connections ---------------------------------------------------------------------------

    def _connect(self, *, opening: bool = False) -> Any:
        """A new connection (`_new_connection`); DriverError (opening) or ConnectionError."""
        try:
            return self._new_connection()
        except self._driver_errors() as exc:
            cause = f"{type(exc).__name__}: {str(exc).strip()}"
            if opening:
                raise DriverError(f"cannot open {self.ENGINE} at {self.where}: {cause}") from exc
            raise ConnectionError(f"{self.ENGINE} at {self.where}: {cause}") from exc

    def _run(self, action: Callable[[Any], R], **how: Any) -> R:
        """Run ``action`` as one transaction (`_attempt`) under the instance lock.

        Connects first if the last connection dropped. A lost connection raises
        ConnectionError (the outcome is unknown to the caller, and the next call connects
        again); a deadlock (`_retryable`) is tried again, since the losing transaction took no
        effect; other server errors raise RuntimeError.
        """
        with self._lock:
            if not self._open:
                raise ConnectionError(f"{self!r} is closed")
            for attempt in range(_ATTEMPTS):
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
                try:
                    return self._attempt(conn, action, **how)
                except self._driver_errors() as exc:
                    if self._connection_lost(conn, exc):
                        self._conn = None
                        self._close_quietly(conn)
                        raise ConnectionError(f"{self.ENGINE} at {self.where}: {exc}") from exc
                    if self._retryable(exc):
                        if attempt < _ATTEMPTS - 1:
                            continue
                        self._out_of_attempts(exc)
                    raise RuntimeError(f"{self.ENGINE} at {self.where}: {exc}") from exc
            raise AssertionError("unreachable")  # pragma: no cover

    # -- what the engine supplies --------------------------------------------------------------

    def _driver_errors(self) -> type[BaseException]:
        """The base class of the driver's errors."""
        raise NotImplementedError

    def _new_connection(self) -> Any:
        """Open one connection to the server, set up as the statements need it."""
        raise NotImplementedError

    def _close_quietly(self, conn: Any) -> None:
        """Close ``conn`` unless the driver already did."""
        raise NotImplementedError

    def _execute_once(self, conn: Any, sql: str) -> None:
        """Run one statement on ``conn`` outside the queue's transactions (drop uses it)."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Check the server and create the tables unless they exist, on ``self._conn``."""
        raise NotImplementedError

    def _empty(self, start: float) -> None:
        """Delete every job and set the clock's mark to ``start``."""
        raise NotImplementedError

    def _attempt(self, conn: Any, action: Callable[[Any], R], **how: Any) -> R:
        """Run ``action`` once as one transaction on ``conn``, committed; roll back on error."""
        raise NotImplementedError

    def _connection_lost(self, conn: Any, exc: BaseException) -> bool:
        """Whether the driver error ``exc`` means ``conn`` is gone."""
        raise NotImplementedError

    def _retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` rolled the transaction back for a reason that may pass (a deadlock)."""
        raise NotImplementedError

    def _out_of_attempts(self, exc: BaseException) -> None:
        """Called when the last attempt lost a deadlock too; the default lets RuntimeError say
        so."""
