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

from .servers import MARIADB_URL, ServerQueueTests, T, fresh_name, ids, job, require

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
        tables = (f"mqspec_q_{queue_name.lower()}", f"mqspec_clock_{queue_name.lower()}")
        rows = query(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name IN (%s, %s)",
            tables,
        )
        return sorted(r[0] for r in rows)

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
            f"EXPLAIN SELECT seq, task FROM {q.table} FORCE INDEX ({q.table}_order)"
            f" WHERE visible_at <= {q._now_sql} ORDER BY band, ready_at, seq LIMIT 1 FOR UPDATE"
        )[0:1]
        assert row[5] == f"{q.table}_order" and "filesort" not in (row[9] or "")

    # -- the clock: decisions never go back in time (see mqspec.adapters.mariadb) ----------------

    def clock(self, queue: MariaDBQueue) -> float:
        (row,) = query(f"SELECT now FROM {queue.clock_table} WHERE id = 0")
        return float(row[0])

    def test_clock_table_is_created_with_one_row(self, q: MariaDBQueue) -> None:
        assert q.clock_table == f"mqspec_clock_{q.queue.lower()}"
        assert sorted(self.leftovers(q.queue)) == sorted([q.table, q.clock_table])
        assert len(query(f"SELECT * FROM {q.clock_table}")) == 1
        (engine,) = query(
            "SELECT engine FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = %s",
            (q.clock_table,),
        )[0]
        assert engine == "InnoDB"

    def test_older_now_decides_at_the_latest_committed_time(self, q: MariaDBQueue) -> None:
        q.push(job("late", delay=3), 10)  # ready at 13
        q.push(job("now"), 10)  # ready at 10
        assert self.clock(q) == 10
        got = q.reserve(5)  # arrives after the push at 10: decides at 10, not 5
        assert got is not None and got["id"] == "now"
        assert q.reserve(12) is None  # "late" is not ready before 13
        assert q.reserve(13)["id"] == "late"  # type: ignore[index]
        q.delete(got, 2)  # decided at 13: the lease taken at 10 runs to 10 + T
        assert q.reserve(1) is None
        assert self.clock(q) == 13

    def test_older_now_push_is_queued_at_the_latest_time(self, q: MariaDBQueue) -> None:
        assert q.reserve(20) is None  # even an empty Reserve raises the mark
        q.push(job("a", delay=1), 4)  # decided at 20: ready at 21, not 5
        assert q.reserve(20) is None
        assert ids(q, 21, 2) == ["a", None]

    def test_lease_deadline_counts_from_the_decision_time(self, q: MariaDBQueue) -> None:
        q.push(job("a"), 100)
        a = q.reserve(0)  # decided at 100: leased until 100 + T
        assert a is not None
        assert q.reserve(99 + T) is None
        q.delete(a, 99 + T)
        assert ids(q, 200 + T, 1) == [None]

    def test_reset_restores_the_clock_to_the_case_start(self, q: MariaDBQueue) -> None:
        q.push(job("a"), 50)
        q.reset(0)
        assert self.clock(q) == 0 and q.reserve(0) is None
        q.push(job("b", delay=5), 1)  # the old mark (50) is forgotten: ready at 6
        assert q.reserve(5) is None
        assert q.reserve(6)["id"] == "b"  # type: ignore[index]
        q.reset(None)
        assert self.clock(q) < -1e299
        q.push(job("c"), None)
        assert q.reserve(None)["id"] == "c"  # type: ignore[index]

    def test_real_time_never_goes_below_the_mark(self, q: MariaDBQueue) -> None:
        q.reset(None)
        q.push(job("a"), None)
        server = self.clock(q)
        assert abs(server - time.time()) < 600  # the server's clock, as epoch seconds
        query(f"UPDATE {q.clock_table} SET now = %s", (server + 1000,))  # a clock stepped back
        q.push(job("b", delay=1), None)  # decided at server + 1000: ready at server + 1001
        assert q.reserve(None)["id"] == "a"  # type: ignore[index]
        assert q.reserve(None) is None
        assert self.clock(q) == server + 1000

    def test_drop_removes_the_clock_table(self, make: Any) -> None:
        queue = make()
        assert self.leftovers(queue.queue) != []
        queue.close()
        queue.drop()
        assert self.leftovers(queue.queue) == []

    def test_clock_is_not_another_queues_table(self, make: Any) -> None:
        a = make()
        b = make(queue=f"{a.queue}_clock")  # its table would be mqspec_q_<a>_clock
        a.push(job("a"), 0)
        b.push(job("b"), 0)
        assert (a.reserve(0)["id"], b.reserve(0)["id"]) == ("a", "b")  # type: ignore[index]
        assert len({a.table, a.clock_table, b.table, b.clock_table}) == 4

    def test_clock_survives_another_instance_opening(self, q: MariaDBQueue) -> None:
        q.push(job("a"), 30)
        other = MariaDBQueue(q._connect_args, queue=q.queue, timeout=T)
        try:
            assert self.clock(q) == 30  # opening keeps the existing mark
            assert other.reserve(1)["id"] == "a"  # type: ignore[index]
        finally:
            other.close()

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
