"""Tests of the MariaDB adapter (mqspec.adapters.mariadb) against a live server.

The shared semantic, suite, isolation, fault and concurrency tests come from
`ServerQueueTests`; this module adds the MariaDB hooks and what is MariaDB-specific (schema,
plan, version check, URL forms, open failures). Skips with the reason when the server is
unreachable (fails in CI).
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from mqspec.adapters.mariadb import MariaDBQueue, _check_version, from_url
from mqspec.reference import DriverError, UsageError

from .servers import MARIADB_URL, ServerQueueTests, fresh_name, job, require

pymysql = pytest.importorskip("pymysql", reason="install the driver: pip install -e '.[mariadb]'")

pytestmark = pytest.mark.server


def admin() -> pymysql.Connection:
    parts = urlsplit(require("MariaDB", MARIADB_URL))
    return pymysql.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        autocommit=True,
        charset="utf8mb4",
    )


def query(sql: str, args: Any = None) -> list[Any]:
    conn = admin()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


class TestMariaDB(ServerQueueTests):
    ENGINE = "MariaDB"
    URL = MARIADB_URL

    def kill_connection(self, queue: Any) -> None:
        thread = queue._conn.thread_id()
        query(f"KILL {int(thread)}")
        for _ in range(500):
            if not query("SELECT 1 FROM information_schema.processlist WHERE id = %s", (thread,)):
                return
            time.sleep(0.01)
        raise AssertionError(f"connection {thread} still alive after KILL")

    def seed_unrelated(self) -> tuple[Any, Any]:
        conn = admin()
        tables = [f"mqspec_unrelated_{secrets.token_hex(4)}", f"mqspec_q_{secrets.token_hex(4)}_x"]
        with conn.cursor() as cur:
            for table in tables:
                cur.execute(
                    f"CREATE TABLE {table} (seq INT AUTO_INCREMENT PRIMARY KEY, id BLOB,"
                    " task TEXT CHARACTER SET utf8mb4, n DOUBLE) ENGINE=InnoDB"
                )
                cur.executemany(
                    f"INSERT INTO {table} (id, task, n) VALUES (%s, %s, %s)",
                    [(f"j{i}".encode(), f"payload é {i}", i / 7) for i in range(50)],
                )

        def snapshot() -> list[Any]:
            out: list[Any] = []
            with conn.cursor() as cur:
                for table in tables:
                    cur.execute(f"SELECT * FROM {table} ORDER BY seq")
                    out.append(cur.fetchall())
                    cur.execute(f"SHOW CREATE TABLE {table}")
                    out.append(cur.fetchall())
            return out

        def remove() -> None:
            with conn.cursor() as cur:
                for table in tables:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
            conn.close()

        return snapshot, remove

    def leftovers(self, queue_name: str) -> list[str]:
        table = f"mqspec_q_{queue_name.lower()}"
        rows = query(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = %s",
            (table,),
        )
        return [r[0] for r in rows]

    # -- MariaDB-specific ----------------------------------------------------------------------

    def test_schema_declares_durable_innodb(self, q: MariaDBQueue) -> None:
        assert q.capabilities.durable is True
        (engine,) = query(
            "SELECT engine FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = %s",
            (q.table,),
        )[0]
        assert engine == "InnoDB"

    def test_reserve_plan_uses_the_order_index_without_filesort(self, q: MariaDBQueue) -> None:
        for i in range(300):
            q.push(job(f"j{i}", i % 3), 0)
        (row,) = query(
            f"EXPLAIN SELECT seq FROM {q.table} FORCE INDEX ({q.table}_order)"
            " WHERE visible_at <= 5 ORDER BY band, ready_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        assert row[5] == f"{q.table}_order" and "filesort" not in (row[9] or "")

    @pytest.mark.parametrize(
        ("version", "ok"),
        [
            ("10.11.19-MariaDB-0+deb12u1", True),
            ("10.6.0-MariaDB", True),
            ("10.5.23-MariaDB", False),
            ("8.0.36", True),
            ("5.7.44-log", False),
        ],
    )
    def test_version_check_needs_skip_locked(self, version: str, ok: bool) -> None:
        if ok:
            _check_version(version, "h:1")
        else:
            with pytest.raises(DriverError, match="SKIP LOCKED"):
                _check_version(version, "h:1")

    @pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
    def test_from_url_options(self, scheme: str) -> None:
        require("MariaDB", MARIADB_URL)
        name = fresh_name()
        base = MARIADB_URL.replace("mysql://", f"{scheme}://", 1)
        queue = from_url(f"{base}?queue={name}&timeout=5&tokens=0&duplicates=reject")
        try:
            cap = queue.capabilities
            assert (queue.table, cap.reservation_timeout, cap.reservation_tokens) == (
                f"mqspec_q_{name}",
                5,
                False,
            )
            assert cap.duplicate_ids == "reject"
        finally:
            queue.close()
            queue.drop()

    @pytest.mark.parametrize(
        "url",
        [
            "mysql://root@127.0.0.1:3306/",
            "mysql://root@127.0.0.1:3306/a/b",
            "mysql://root@127.0.0.1:port/test",
            "mysql://root@127.0.0.1:3306/test?sslmode=disable",
        ],
    )
    def test_bad_urls_are_usage_errors(self, url: str) -> None:
        with pytest.raises(UsageError):
            from_url(url)

    @pytest.mark.parametrize(
        ("url", "needle"),
        [
            ("mysql://mqspec_nosuchuser@127.0.0.1:3306/test", "mqspec_nosuchuser"),
            ("mysql://root@127.0.0.1:3306/mqspec_nosuchdb", "mqspec_nosuchdb"),
        ],
    )
    def test_refused_open_is_a_driver_error(self, url: str, needle: str) -> None:
        require("MariaDB", MARIADB_URL)
        with pytest.raises(DriverError, match=rf"127\.0\.0\.1:3306.*{needle}"):
            from_url(f"{url}?queue={fresh_name()}")
