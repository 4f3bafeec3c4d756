"""Shared helpers for the server adapter tests (Redis, PostgreSQL, MariaDB).

* Where the servers are: ``MQSPEC_REDIS_URL``, ``MQSPEC_POSTGRESQL_URL``, ``MQSPEC_MARIADB_URL``
  (defaults: the loopback servers `.ci/services` starts).
* `require`: skip with a visible reason when a server is unreachable, or fail instead when the
  environment variable ``CI`` is set (CI starts the servers, so an absent one is a failure).
* `ServerQueueTests`: the deterministic tests every server adapter must pass, run in virtual
  time. A test module subclasses it as ``Test<Engine>`` and fills in the engine hooks (how to
  kill the adapter's connection, how to seed and snapshot unrelated data, what a queue leaves
  behind).
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import pytest

from mqspec.adapters.registry import open_adapter, open_isolated
from mqspec.conformance.core import engine
from mqspec.reference import TOKEN_KEY, DriverError, UsageError

REDIS_URL = os.environ.get("MQSPEC_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRESQL_URL = os.environ.get(
    "MQSPEC_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("MQSPEC_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")

T = 60
SMALL = engine.Profile("quick", examples=12, steps=30)  # the suite, shrunk for test time


def job(ident: str, priority: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "priority": priority, **extra}


def fresh_name(kind: str = "t") -> str:
    return f"mqspec_{kind}_{secrets.token_hex(4)}"


def with_options(url: str, **options: Any) -> str:
    if not options:
        return url
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


def where(url: str) -> str:
    parts = urlsplit(url)
    default = {"redis": 6379, "postgresql": 5432, "postgres": 5432}.get(parts.scheme, 3306)
    return f"{parts.hostname or 'localhost'}:{parts.port or default}"


@functools.cache
def probe(url: str) -> str | None:
    """None when the server at ``url`` accepts a plain driver connection, else the cause."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "redis":
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=2)
            client.ping()
            client.close()
        elif parts.scheme in ("postgresql", "postgres"):
            import psycopg

            psycopg.connect(url, connect_timeout=2).close()
        else:
            import pymysql

            pymysql.connect(
                host=parts.hostname or "localhost",
                port=parts.port or 3306,
                user=unquote(parts.username or "root"),
                password=unquote(parts.password or ""),
                database=parts.path.lstrip("/") or None,
                connect_timeout=2,
            ).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).strip()}"
    return None


def require(engine_name: str, url: str) -> str:
    """Return ``url`` if its server answers; otherwise skip (or, with ``CI`` set, fail)."""
    cause = probe(url)
    if cause is not None:
        message = f"{engine_name} at {where(url)} unreachable: {cause}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: a missing server is a failure)")
        pytest.skip(message)
    return url


def ids(queue: Any, now: float | None, n: int) -> list[str | None]:
    """Reserve ``n`` times at ``now``; the ids taken (None for empty)."""
    out: list[str | None] = []
    for _ in range(n):
        got = queue.reserve(now)
        out.append(None if got is None else got["id"])
    return out


def run_suite(adapter: Any, url: str, monkeypatch: pytest.MonkeyPatch) -> engine.RunResult:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)
    *_, last = engine.run(adapter, url=url, profile="quick")
    assert isinstance(last, engine.RunFinished)
    return last.result


class ServerQueueTests:
    """Tests every server adapter must pass. Subclass as ``Test<Engine>`` and set the hooks."""

    ENGINE: ClassVar[str]
    URL: ClassVar[str]

    # -- engine hooks --------------------------------------------------------------------------

    def kill_connection(self, queue: Any) -> None:
        """Close ``queue``'s server connection from the server side, and wait until it is gone."""
        raise NotImplementedError

    def seed_unrelated(self) -> tuple[Callable[[], Any], Callable[[], None]]:
        """Create data the queue must not touch; return (snapshot, remove)."""
        raise NotImplementedError

    def leftovers(self, queue_name: str) -> list[str]:
        """The keys or tables of the queue named ``queue_name`` that exist on the server."""
        raise NotImplementedError

    # -- fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def make(self) -> Iterator[Callable[..., Any]]:
        """Open queues on fresh namespaces; every one is closed and dropped afterwards."""
        base = require(self.ENGINE, self.URL)
        opened: list[Any] = []

        def make(**options: Any) -> Any:
            options.setdefault("queue", fresh_name())
            options.setdefault("timeout", T)
            queue = open_adapter(with_options(base, **options))
            opened.append(queue)
            return queue

        yield make
        for queue in opened:
            queue.close()
            queue.drop()
            assert self.leftovers(queue.queue) == []

    @pytest.fixture
    def q(self, make: Callable[..., Any]) -> Any:
        return make()

    @pytest.fixture
    def tq(self, make: Callable[..., Any]) -> Any:
        return make(tokens=1)

    # -- semantics -----------------------------------------------------------------------------

    def test_declares_capabilities(self, make: Callable[..., Any]) -> None:
        queue = make(timeout=5, tokens=1, duplicates="reject", max_jobs=3)
        cap = queue.capabilities
        assert (cap.reservation_timeout, cap.timeout_settable, cap.slack) == (5, True, 0)
        assert (cap.virtual_time, cap.reservation_tokens) == (True, True)
        assert (cap.duplicate_ids, cap.max_jobs) == ("reject", 3)

    def test_restore_keeps_original_place_MQ_RESTORE_3(self, q: Any) -> None:
        for name in "ABC":
            q.push(job(name), 0)
        assert ids(q, 1, 1) == ["A"]
        b = q.reserve(2)
        assert b is not None and b["id"] == "B"
        q.delete(b, 3)
        assert ids(q, 1 + T, 3) == ["A", "C", None]  # [A, C], not [C, A]

    def test_restored_job_keeps_priority_MQ_RESTORE_2(self, q: Any) -> None:
        q.push(job("p0", 0), 0)
        assert ids(q, 0, 1) == ["p0"]
        q.push(job("p1", 1), 1)
        q.push(job("p2", 2), 2)
        assert ids(q, 2, 1) == ["p2"]
        assert ids(q, T, 3) == ["p1", "p0", None]

    def test_priorities_then_fifo_MQ_ORDER_1_MQ_ORDER_2(self, q: Any) -> None:
        q.push(job("low", 0), 0)
        q.push(job("mid1", 1), 0)
        q.push(job("high-later", 2, delay=10), 0)
        q.push(job("mid2", 1), 0)
        q.push(job("high", 2), 0)
        assert ids(q, 1, 5) == ["high", "mid1", "mid2", "low", None]
        assert ids(q, 10, 2) == ["high-later", None]

    def test_delay_boundaries_MQ_READY_2_MQ_READY_3(self, q: Any) -> None:
        q.push(job("now"), 100)
        q.push(job("later", delay=5), 100)
        assert ids(q, 100, 1) == ["now"]
        assert q.reserve(104.999) is None
        assert ids(q, 105, 2) == ["later", None]

    def test_delayed_job_enqueued_when_ready_MQ_ORDER_2(self, q: Any) -> None:
        q.push(job("D", delay=5), 0)
        q.push(job("E"), 3)
        q.push(job("F"), 6)
        assert ids(q, 7, 4) == ["E", "D", "F", None]

    def test_delete_pending_then_absent_MQ_DELETE_1_MQ_DELETE_3(self, q: Any) -> None:
        q.delete(job("never"), 0)
        q.push(job("a"), 0)
        got = q.reserve(0)
        q.delete(got, 1)
        q.delete(got, 2)  # no longer live: succeeds again
        assert q.reserve(10 * T) is None

    @pytest.mark.parametrize(
        ("delay", "reserved", "delete_at", "ready_at"),
        [
            pytest.param(0, False, 1, 1, id="ready"),
            pytest.param(100, False, 1, 100, id="delayed"),
            pytest.param(0, True, T, T, id="expired-at-deadline"),
            pytest.param(0, True, T + 50, T + 50, id="expired-long-ago"),
        ],
    )
    def test_delete_without_pending_fails_unchanged_MQ_DELETE_2(
        self, q: Any, delay: int, reserved: bool, delete_at: float, ready_at: float
    ) -> None:
        q.push(job("a", delay=delay), 0)
        if reserved:
            assert ids(q, 0, 1) == ["a"]
        with pytest.raises(LookupError, match="not reserved"):
            q.delete(job("a"), delete_at)
        if ready_at > delete_at:
            assert q.reserve(delete_at) is None
        assert ids(q, ready_at, 2) == ["a", None]

    def test_stale_token_fails_and_keeps_new_holder_MQ_DELETE_5(self, tq: Any) -> None:
        tq.push(job("a"), 0)
        first = tq.reserve(0)
        assert isinstance(first[TOKEN_KEY], str)
        second = tq.reserve(T)
        assert second[TOKEN_KEY] != first[TOKEN_KEY]
        with pytest.raises(LookupError):
            tq.delete(first, T + 1)
        with pytest.raises(LookupError):
            tq.delete(job("a"), T + 1)  # no token at all
        assert tq.reserve(T + 1) is None  # still held by the second holder
        tq.delete(second, T + 2)
        assert tq.reserve(10 * T) is None

    def test_stale_delete_without_tokens_acks_current_MQ_DELETE_5(self, q: Any) -> None:
        q.push(job("a"), 0)
        first = q.reserve(0)
        assert TOKEN_KEY not in first
        assert q.reserve(T) is not None
        q.delete(first, T + 1)
        assert q.reserve(10 * T) is None

    def test_duplicates_distinct_keeps_two_jobs_MQ_PUSH_2(self, q: Any) -> None:
        q.push(job("a", n=1), 0)
        q.push(job("a", n=2), 0)
        first, second = q.reserve(0), q.reserve(0)
        assert [first["n"], second["n"]] == [1, 2]
        q.delete(first, 1)
        q.delete(second, 1)
        q.delete(second, 1)
        assert q.reserve(10 * T) is None

    def test_duplicates_reject_refuses_live_id_MQ_PUSH_2(self, make: Callable[..., Any]) -> None:
        queue = make(duplicates="reject")
        queue.push(job("a", n=1), 0)
        with pytest.raises(ValueError, match="duplicate"):
            queue.push(job("a", n=2), 0)
        got = queue.reserve(0)
        assert got["n"] == 1
        with pytest.raises(ValueError, match="duplicate"):
            queue.push(job("a", n=3), 1)  # a reserved job is live
        queue.delete(got, 1)
        queue.push(job("a", n=4), 2)
        assert queue.reserve(2)["n"] == 4

    def test_capacity_refuses_when_full_MQ_PUSH_3(self, make: Callable[..., Any]) -> None:
        queue = make(max_jobs=2)
        queue.push(job("a"), 0)
        queue.push(job("b"), 0)
        with pytest.raises(ValueError, match="queue full"):
            queue.push(job("c"), 0)
        queue.delete(queue.reserve(0), 0)
        queue.push(job("c"), 1)
        assert ids(queue, 1, 3) == ["b", "c", None]

    def test_ids_compare_exactly(self, q: Any) -> None:
        # No collation, no trailing-space padding, NUL and lone surrogates allowed.
        names = ["a", "A", "a ", "a\x00", "é", "e\u0301", "\ud800", "x" * 3000]
        for name in names:
            q.push(job(name), 0)
        taken = [q.reserve(0) for _ in names]
        assert [t["id"] for t in taken] == names
        q.delete(job("a"), 1)  # acknowledges "a" only; the rest expire and come back in order
        assert ids(q, T, len(names)) == [*names[1:], None]

    def test_round_trip_MQ_TASK_2(self, q: Any) -> None:
        tasks = [
            job("u", text="ünïcødé ✓ 😀 \u2028", empty="", nul="a\x00b", lone="\udfff"),
            job("n", 2, nested={"a": [1, 2.5, {"b": None, "c": [True, False]}], "d": {}}),
            job("big", 0, blob="x" * 65536, huge=2**70, neg=-1e-300, flag=True),
        ]
        for task in tasks:
            assert q.push(task, 0) == task
        got = [q.reserve(1) for _ in tasks]
        assert got == [tasks[1], tasks[0], tasks[2]]
        assert type(got[2]["huge"]) is int and type(got[2]["flag"]) is bool

    def test_invalid_task_refused_MQ_TASK_1(self, q: Any) -> None:
        for bad in [
            {"id": "", "priority": 1},
            {"id": "a", "priority": 3},
            ["a"],
            job("a", x=1e400),
        ]:
            with pytest.raises(ValueError):
                q.push(bad, 0)
        assert q.reserve(1) is None

    def test_server_clock_when_now_is_none(self, q: Any) -> None:
        q.push(job("a"), None)
        q.push(job("later", delay=3600), None)
        got = q.reserve(None)
        assert got["id"] == "a"
        assert q.reserve(None) is None  # a is held for T real seconds, later is delayed
        q.delete(got, None)
        with pytest.raises(LookupError):
            q.delete(job("later"), None)

    def test_reopen_keeps_jobs_and_reservations(self, make: Callable[..., Any]) -> None:
        first = make(tokens=1)
        first.push(job("a"), 0)
        first.push(job("b", 2, delay=5), 0)
        held = first.reserve(0)
        first.close()
        again = make(tokens=1, queue=first.queue)
        assert again.reserve(1) is None
        again.delete(held, 2)
        assert ids(again, 5, 2) == ["b", None]

    def test_reset_and_drop_touch_only_their_namespace(self, make: Callable[..., Any]) -> None:
        a, b = make(), make()
        a.push(job("x"), 0)
        b.push(job("y"), 0)
        a.reset(1)
        assert a.reserve(1) is None
        assert ids(b, 1, 2) == ["y", None]
        a.push(job("z"), 2)
        b.drop()
        assert self.leftovers(b.queue) == []
        assert self.leftovers(a.queue) != []
        assert ids(a, 2, 2) == ["z", None]

    # -- the conformance suite -----------------------------------------------------------------

    def test_conformance_suite_conforms(self, make: Callable[..., Any], monkeypatch) -> None:
        # The shrunk suite with every option declared. The default configuration gets it in
        # the isolation test below, and the whole quick profile in tests/conformance/
        # test_matrix.py (a soak run: the matrix row must read "conforms", with no warning).
        queue = make(tokens=1, duplicates="reject", max_jobs=4, timeout=5)
        result = run_suite(queue, self.URL, monkeypatch)
        assert result.verdict == "conforms", [d.finding.render() for d in result.divergences]
        assert not result.warnings

    def test_isolation_suite_leaves_unrelated_data_alone(self, monkeypatch) -> None:
        """The shrunk suite on the default configuration, in a namespace of the harness's own,
        next to data of the same server that looks like a queue's: conforms with no warning,
        and afterwards that data is unchanged and the namespace is gone."""
        require(self.ENGINE, self.URL)
        snapshot, remove = self.seed_unrelated()
        try:
            before = snapshot()
            adapter, cleanup = open_isolated(self.URL)
            try:
                result = run_suite(adapter, self.URL, monkeypatch)
            finally:
                cleanup()
            assert result.verdict == "conforms", [d.finding.render() for d in result.divergences]
            assert not result.warnings
            assert adapter.queue.startswith("mqspec_")
            assert self.leftovers(adapter.queue) == []
            assert snapshot() == before
        finally:
            remove()

    # -- faults --------------------------------------------------------------------------------

    def test_killed_connection_raises_then_reconnects(self, q: Any) -> None:
        q.push(job("a"), 0)
        q.push(job("b"), 0)
        self.kill_connection(q)
        with pytest.raises(ConnectionError, match=where(self.URL)):
            q.reserve(1)  # an error, never an empty answer
        assert ids(q, 1, 1) == ["a"]  # the next call connected again
        self.kill_connection(q)
        with pytest.raises(ConnectionError):
            q.push(job("c"), 2)
        got = q.reserve(2)
        assert got["id"] == "b"
        q.delete(got, 3)
        assert ids(q, 1 + T, 2) == ["a", None]
        self.kill_connection(q)
        q.reset(4)  # idempotent: retried once on a fresh connection
        self.kill_connection(q)  # the fixture's close and drop must still leave nothing behind

    def test_unreachable_server_is_a_fast_driver_error(self) -> None:
        parts = urlsplit(self.URL)
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        for host in ("127.0.0.1:1", "10.255.255.1:1"):
            url = parts._replace(netloc=f"{netloc}{host}").geturl()
            started = time.monotonic()
            with pytest.raises(DriverError, match=host):
                open_adapter(with_options(url, queue=fresh_name()))
            assert time.monotonic() - started < 6

    @pytest.mark.parametrize(
        ("suffix", "needle"),
        [
            ("colour=red", "colour"),
            ("timeout=soon", "soon"),
            ("timeout=-1", "-1"),
            ("tokens=maybe", "maybe"),
            ("duplicates=merge", "merge"),
            ("max_jobs=0", "max_jobs"),
            ("queue=a-b", "a-b"),
            ("timeout=1&timeout=2", "twice"),
            ("timeout", "timeout"),
        ],
    )
    def test_bad_url_options_are_usage_errors(self, suffix: str, needle: str) -> None:
        joiner = "&" if "?" in self.URL else "?"
        with pytest.raises(UsageError, match=needle):
            open_adapter(f"{self.URL}{joiner}{suffix}")

    # -- concurrency ---------------------------------------------------------------------------

    def test_concurrent_workers_reserve_each_job_once_MQ_RESERVE_3(
        self, make: Callable[..., Any]
    ) -> None:
        workers, per_worker, now = 4, 200, 1000.0
        first = make(timeout=3600)
        queues = [first] + [make(timeout=3600, queue=first.queue) for _ in range(workers - 1)]
        taken: list[list[str]] = [[] for _ in queues]
        errors: list[BaseException] = []
        start = threading.Barrier(workers)

        def work(k: int) -> None:
            queue = queues[k]
            try:
                for i in range(per_worker):
                    queue.push(job(f"w{k}-{i:03d}", i % 3), now)
                start.wait()
                while (got := queue.reserve(now)) is not None:
                    taken[k].append(got["id"])
                    queue.delete(got, now)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        counts = Counter(name for part in taken for name in part)
        assert len(counts) == workers * per_worker and set(counts.values()) == {1}
        assert first.reserve(now + 10**6) is None  # nothing left behind, nothing lost
