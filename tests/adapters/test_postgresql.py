"""Tests of the PostgreSQL adapter (mqspec.adapters.postgresql) against a live server.

The shared semantic, suite, isolation, fault and concurrency tests come from
`ServerQueueTests`; this module adds the PostgreSQL hooks and what is PostgreSQL-specific
(schema, plan, URL forms, open failures). Skips with the reason when the server is unreachable
(fails in CI).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from mqspec.adapters.postgresql import PostgresQueue, from_url
from mqspec.reference import DriverError, UsageError

from .servers import POSTGRESQL_URL, ServerQueueTests, fresh_name, job, require

psycopg = pytest.importorskip(
    "psycopg", reason="install the driver: pip install -e '.[postgresql]'"
)

pytestmark = pytest.mark.server


def admin() -> psycopg.Connection:
    return psycopg.connect(require("PostgreSQL", POSTGRESQL_URL), autocommit=True)


class TestPostgreSQL(ServerQueueTests):
    ENGINE = "PostgreSQL"
    URL = POSTGRESQL_URL

    def kill_connection(self, queue: Any) -> None:
        pid = queue._conn.info.backend_pid
        with admin() as conn:
            # The timeout form waits until the backend has exited.
            assert conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]

    def seed_unrelated(self) -> tuple[Any, Any]:
        conn = admin()
        tables = [f"mqspec_unrelated_{secrets.token_hex(4)}", f"mqspec_q_{secrets.token_hex(4)}_x"]
        for table in tables:
            conn.execute(
                f"CREATE TABLE {table} (seq serial PRIMARY KEY, id bytea, task text, doc jsonb)"
            )
            conn.execute(
                f"INSERT INTO {table} (id, task, doc) SELECT convert_to('j' || g, 'UTF8'),"
                " 'payload é ' || g, jsonb_build_object('n', g) FROM generate_series(1, 50) g"
            )

        def snapshot() -> list[Any]:
            out: list[Any] = []
            for table in tables:
                out.append(conn.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall())
                out.append(
                    conn.execute(
                        "SELECT column_name, data_type FROM information_schema.columns"
                        " WHERE table_name = %s ORDER BY ordinal_position",
                        (table,),
                    ).fetchall()
                )
            return out

        def remove() -> None:
            for table in tables:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.close()

        return snapshot, remove

    def leftovers(self, queue_name: str) -> list[str]:
        out = []
        for table in (f"mqspec_q_{queue_name.lower()}", f"mqspec_clock_{queue_name.lower()}"):
            with admin() as conn:
                rows = conn.execute(
                    "SELECT relname FROM pg_class WHERE relname = %s OR left(relname, %s) = %s",
                    (table, len(table) + 1, table + "_"),
                ).fetchall()
            out += [r[0] for r in rows]
        return sorted(out)

    # -- PostgreSQL-specific -------------------------------------------------------------------

    def test_schema_and_indexes(self, q: PostgresQueue) -> None:
        assert q.capabilities.durable is True
        assert self.leftovers(q.queue) == sorted(
            [
                *(q.table, f"{q.table}_id", f"{q.table}_order", f"{q.table}_pkey"),
                *(f"{q.table}_seq_seq", q.clock_table, f"{q.clock_table}_pkey"),
            ]
        )

    def test_a_call_with_an_older_now_decides_at_the_latest_time(self, q: PostgresQueue) -> None:
        """With several clients a call may reach the server after one with a later now: it
        decides at the later time, so it sees the job that call pushed (MQ-READY-1)."""
        q.push(job("a"), 10)
        assert q.reserve(5)["id"] == "a"  # decided at 10: a was ready
        q.reset(0)  # a new case starts its clock anew
        q.push(job("b", delay=3), 0)
        assert q.reserve(1) is None  # b is ready at 3, and the clock is back at 1

    def test_reserve_plan_uses_the_order_index(self, q: PostgresQueue) -> None:
        for i in range(300):
            q.push(job(f"j{i}", i % 3), 0)
        with admin() as conn:
            conn.execute(f"ANALYZE {q.table}")
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    f"EXPLAIN SELECT seq FROM {q.table} WHERE visible_at <= 5"
                    " ORDER BY priority DESC, ready_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED"
                )
            )
        assert f"Index Scan using {q.table}_order" in plan and "Sort" not in plan

    def test_connection_is_named_after_the_queue(self, q: PostgresQueue) -> None:
        with admin() as conn:
            (name,) = conn.execute(
                "SELECT application_name FROM pg_stat_activity WHERE pid = %s",
                (q._conn.info.backend_pid,),
            ).fetchone()
        assert name == f"mqspec:{q.queue}"

    @pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
    def test_from_url_options(self, scheme: str) -> None:
        require("PostgreSQL", POSTGRESQL_URL)
        name = fresh_name()
        base = POSTGRESQL_URL.replace("postgresql://", f"{scheme}://", 1)
        queue = from_url(f"{base}?queue={name}&timeout=5&tokens=1&max_jobs=9&sslmode=disable")
        try:
            cap = queue.capabilities
            assert (queue.table, cap.reservation_timeout, cap.reservation_tokens) == (
                f"mqspec_q_{name}",
                5,
                True,
            )
            assert cap.max_jobs == 9
        finally:
            queue.close()
            queue.drop()

    @pytest.mark.parametrize(
        "url",
        ["postgresql://h:port/db", "mysql://127.0.0.1/test", "postgresql://127.0.0.1/test#frag"],
    )
    def test_bad_urls_are_usage_errors(self, url: str) -> None:
        with pytest.raises(UsageError):
            from_url(url)

    @pytest.mark.parametrize(
        ("url", "needle"),
        [
            ("postgresql://mqspec_nosuchuser@127.0.0.1:5432/test", "mqspec_nosuchuser"),
            ("postgresql://postgres@127.0.0.1:5432/mqspec_nosuchdb", "mqspec_nosuchdb"),
        ],
    )
    def test_refused_open_is_a_driver_error(self, url: str, needle: str) -> None:
        require("PostgreSQL", POSTGRESQL_URL)
        with pytest.raises(DriverError, match=rf"127\.0\.0\.1:5432.*{needle}"):
            from_url(f"{url}?queue={fresh_name()}")
