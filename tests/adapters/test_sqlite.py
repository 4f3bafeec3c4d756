"""Example tests of the SQLite adapter (mqspec.adapters.sqlite), in virtual time, one file each.

Each test names the clause it illustrates. These are deterministic examples; the generated
conformance runs live with the harness.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.sqlite import SqliteQueue
from mqspec.reference import TOKEN_KEY, Capabilities, DriverError, UsageError

T = 60


def job(ident: str, priority: int = 1, **extra: object) -> dict[str, object]:
    return {"id": ident, "priority": priority, **extra}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "q.db"


@pytest.fixture
def q(db: Path):
    queue = SqliteQueue(db, timeout=T)
    yield queue
    queue.close()


@pytest.fixture
def tq(db: Path):
    queue = SqliteQueue(db, timeout=T, tokens=True)
    yield queue
    queue.close()


def ids(queue: SqliteQueue, now: float, n: int) -> list[str | None]:
    """Reserve ``n`` times at ``now``; the ids taken (None for empty)."""
    out: list[str | None] = []
    for _ in range(n):
        got = queue.reserve(now)
        out.append(None if got is None else got["id"])
    return out


def rows(db: Path, table: str = "mqspec_q_default") -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- shape and capabilities --------------------------------------------------------------------


def test_is_a_queue_adapter_with_declared_capabilities(db: Path) -> None:
    queue = SqliteQueue(db, timeout=5, tokens=True, duplicates="reject", max_jobs=3)
    try:
        assert isinstance(queue, QueueAdapter)
        assert queue.capabilities == Capabilities(
            reservation_timeout=5,
            timeout_settable=True,
            slack=0,
            virtual_time=True,
            durable=True,
            reservation_tokens=True,
            duplicate_ids="reject",
            max_jobs=3,
        )
    finally:
        queue.close()


def test_empty_queue_reserves_none_MQ_RESERVE_1(q: SqliteQueue) -> None:
    assert q.reserve(0) is None
    q.tick(1)
    assert q.reserve(1) is None


# -- push and round trip -------------------------------------------------------------------------


def test_push_returns_task_as_pushed_MQ_PUSH_1(q: SqliteQueue) -> None:
    task = job("a", 2, delay=0, body={"x": [1, 2.5, None, True]})
    assert q.push(task, 0) == task


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"priority": 1},
        {"id": 7, "priority": 1},
        {"id": "", "priority": 1},
        {"id": "a"},
        {"id": "a", "priority": 3},
        {"id": "a", "priority": True},
        {"id": "a", "priority": 1, "delay": -1},
        {"id": "a", "priority": 1, "delay": 1.5},
        {"id": "a", "priority": 1, "x": float("nan")},
    ],
)
def test_invalid_task_refused_nothing_queued_MQ_TASK_1(q: SqliteQueue, bad: object) -> None:
    with pytest.raises(ValueError):
        q.push(bad, 0)  # type: ignore[arg-type]
    assert q.reserve(10_000) is None


def test_reserved_key_refused_only_by_a_token_queue_MQ_TASK_1(
    q: SqliteQueue, tq: SqliteQueue
) -> None:
    task = {"id": "a", "priority": 1, TOKEN_KEY: "x"}
    with pytest.raises(ValueError):
        tq.push(task, 0)
    assert tq.reserve(10_000) is None
    assert q.push(task, 0) == task  # opaque where the queue issues no tokens
    assert q.reserve(1) == task


def test_round_trip_unicode_nested_big_MQ_TASK_2(q: SqliteQueue) -> None:
    tasks = [
        job("uni", 1, text='héllo ✓ 日本語 \U0001f600 \x00 \n"q"', key_é="v"),
        job("nest", 1, a={"b": [{"c": [[], {}, [1, [2, [3]]]]}], "n": None}, f=-0.5, e=1e300),
        job("ints", 1, big=2**53, neg=-(2**53), zero=0, flag=False),
        job("big", 1, blob="x" * (64 * 1024)),
        job("surrogate", 1, s="\ud800"),
    ]
    for task in tasks:
        assert q.push(task, 0) == task
    got = [q.reserve(1) for _ in tasks]
    assert got == tasks
    assert type(got[2]["big"]) is int and type(got[2]["flag"]) is bool  # type: ignore[index]


# -- order ---------------------------------------------------------------------------------------


def test_fifo_within_priority_MQ_ORDER_2(q: SqliteQueue) -> None:
    for i in range(5):
        q.push(job(f"j{i}"), 0)
    assert ids(q, 0, 6) == ["j0", "j1", "j2", "j3", "j4", None]


def test_highest_ready_priority_first_MQ_ORDER_1(q: SqliteQueue) -> None:
    q.push(job("low", 0), 0)
    q.push(job("mid", 1), 0)
    q.push(job("high-later", 2, delay=10), 0)
    q.push(job("high", 2), 0)
    assert ids(q, 1, 3) == ["high", "mid", "low"]
    assert ids(q, 9, 1) == [None]
    assert ids(q, 10, 2) == ["high-later", None]


def test_fifo_survives_deleting_the_newest_row_MQ_ORDER_2(q: SqliteQueue) -> None:
    # AUTOINCREMENT: a deleted newest seq is not reused, so a later push stays behind.
    q.push(job("a"), 0)
    q.push(job("b"), 0)
    assert q.reserve(0)["id"] == "a"  # type: ignore[index]
    assert q.reserve(0)["id"] == "b"  # type: ignore[index]
    q.delete(job("b"), 0)
    q.push(job("c"), 1)
    assert ids(q, T, 2) == ["a", "c"]


# -- delay ---------------------------------------------------------------------------------------


def test_delay_boundaries_MQ_READY_1_MQ_READY_2_MQ_READY_3(q: SqliteQueue) -> None:
    q.push(job("now"), 100)
    q.push(job("later", delay=5), 100)
    assert ids(q, 100, 1) == ["now"]  # MQ-READY-1: at once
    assert q.reserve(104.999) is None  # MQ-READY-2: not before push + delay
    assert ids(q, 105, 2) == ["later", None]  # MQ-READY-3: at push + delay (slack 0)


def test_delayed_job_orders_by_ready_time_MQ_ORDER_2(q: SqliteQueue) -> None:
    q.push(job("d", delay=3), 0)
    q.push(job("x"), 1)
    q.push(job("y"), 5)
    assert ids(q, 5, 3) == ["x", "d", "y"]


# -- reserve and restore -------------------------------------------------------------------------


def test_reserved_job_hidden_until_deadline_MQ_RESERVE_3_MQ_RESTORE_1(q: SqliteQueue) -> None:
    q.push(job("a"), 0)
    assert ids(q, 0, 1) == ["a"]
    assert q.reserve(T - 0.001) is None
    assert ids(q, T, 2) == ["a", None]


def test_restore_keeps_original_place_MQ_RESTORE_3(q: SqliteQueue) -> None:
    for name in "ABC":
        q.push(job(name), 0)
    assert ids(q, 0, 2) == ["A", "B"]
    q.delete(job("B"), 1)
    assert ids(q, T, 3) == ["A", "C", None]


def test_restored_job_keeps_priority_MQ_RESTORE_2(q: SqliteQueue) -> None:
    q.push(job("p0", 0), 0)
    assert ids(q, 0, 1) == ["p0"]
    q.push(job("p1", 1), 1)
    q.push(job("p2", 2), 2)
    assert ids(q, 2, 1) == ["p2"]
    assert ids(q, T, 3) == ["p1", "p0", None]


# -- delete matrix -------------------------------------------------------------------------------


def test_delete_pending_succeeds_and_removes_for_good_MQ_DELETE_1(q: SqliteQueue) -> None:
    q.push(job("a"), 0)
    got = q.reserve(0)
    assert got is not None
    q.delete(got, 1)
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
    q: SqliteQueue, delay: int, reserved: bool, delete_at: float, ready_at: float
) -> None:
    q.push(job("a", delay=delay), 0)
    if reserved:
        assert ids(q, 0, 1) == ["a"]
    with pytest.raises(LookupError, match="not reserved"):
        q.delete(job("a"), delete_at)
    if ready_at > delete_at:
        assert q.reserve(delete_at) is None  # unchanged: still delayed
    assert ids(q, ready_at, 2) == ["a", None]  # unchanged: still there, ready as before


def test_delete_of_expired_job_after_rereserve_by_other_MQ_DELETE_2(q: SqliteQueue) -> None:
    q.push(job("a"), 0)
    q.push(job("b"), 0)
    assert ids(q, 0, 1) == ["a"]
    with pytest.raises(LookupError):
        q.delete(job("b"), 1)  # b is ready, not reserved
    assert ids(q, 1, 2) == ["b", None]


def test_delete_absent_succeeds_MQ_DELETE_3(q: SqliteQueue) -> None:
    q.delete(job("never"), 0)
    q.push(job("a"), 0)
    got = q.reserve(0)
    assert got is not None
    q.delete(got, 1)
    q.delete(got, 2)  # twice: the second is of an id that is no longer live
    assert q.reserve(10 * T) is None


def test_stale_delete_with_tokens_fails_MQ_DELETE_5_MQ_TOKEN_1(tq: SqliteQueue) -> None:
    tq.push(job("a"), 0)
    first = tq.reserve(0)
    assert first is not None and isinstance(first[TOKEN_KEY], str)
    second = tq.reserve(T)
    assert second is not None and second[TOKEN_KEY] != first[TOKEN_KEY]
    with pytest.raises(LookupError):
        tq.delete(first, T + 1)
    assert tq.reserve(T + 1) is None  # still reserved by its new holder
    tq.delete(second, T + 2)
    assert tq.reserve(10 * T) is None


def test_delete_without_token_fails_when_tokens_on_MQ_DELETE_5(tq: SqliteQueue) -> None:
    tq.push(job("a"), 0)
    assert tq.reserve(0) is not None
    with pytest.raises(LookupError):
        tq.delete(job("a"), 1)


def test_stale_delete_without_tokens_acks_current_MQ_DELETE_5(q: SqliteQueue) -> None:
    q.push(job("a"), 0)
    first = q.reserve(0)
    assert first is not None and TOKEN_KEY not in first
    assert q.reserve(T) is not None
    q.delete(first, T + 1)  # acknowledges the current reservation
    assert q.reserve(10 * T) is None


# -- duplicates and capacity ---------------------------------------------------------------------


def test_duplicates_distinct_keeps_two_jobs_MQ_PUSH_2(q: SqliteQueue) -> None:
    q.push(job("a", n=1), 0)
    q.push(job("a", n=2), 0)
    first, second = q.reserve(0), q.reserve(0)
    assert [first["n"], second["n"]] == [1, 2]  # type: ignore[index]
    q.delete(first, 1)  # type: ignore[arg-type]
    q.delete(second, 1)  # type: ignore[arg-type]
    assert q.reserve(10 * T) is None


def test_duplicates_reject_refuses_live_id_MQ_PUSH_2(db: Path) -> None:
    queue = SqliteQueue(db, duplicates="reject", timeout=T)
    try:
        queue.push(job("a", n=1), 0)
        with pytest.raises(ValueError, match="duplicate"):
            queue.push(job("a", n=2), 0)
        got = queue.reserve(0)
        assert got is not None and got["n"] == 1
        with pytest.raises(ValueError):  # a reserved job is still live
            queue.push(job("a", n=3), 1)
        queue.delete(got, 1)
        queue.push(job("a", n=4), 2)  # deleted: the id is free again
        assert ids(queue, 2, 2) == ["a", None]
    finally:
        queue.close()


def test_capacity_refuses_push_when_full_MQ_PUSH_3(db: Path) -> None:
    queue = SqliteQueue(db, max_jobs=2, timeout=T)
    try:
        queue.push(job("a"), 0)
        queue.push(job("b"), 0)
        with pytest.raises(ValueError, match="queue full"):
            queue.push(job("c"), 0)
        got = queue.reserve(0)
        queue.delete(got, 0)  # type: ignore[arg-type]
        queue.push(job("c"), 1)
        assert ids(queue, 1, 3) == ["b", "c", None]
    finally:
        queue.close()


# -- durability, namespaces, lifecycle -----------------------------------------------------------


def test_jobs_and_reservations_survive_reopen(db: Path) -> None:
    first = SqliteQueue(db, timeout=T, tokens=True)
    first.push(job("a"), 0)
    first.push(job("b", 2, delay=5), 0)
    first.push(job("c", body="é"), 0)
    held = first.reserve(0)
    first.close()
    assert held is not None and held["id"] == "a"

    again = SqliteQueue(db, timeout=T, tokens=True)
    try:
        got = again.reserve(1)
        assert got is not None and (got["id"], got["body"]) == ("c", "é")
        assert again.reserve(1) is None  # a is still reserved, b still delayed
        again.delete(held, 2)  # the reservation (and its token) survived
        assert ids(again, 5, 2) == ["b", None]
    finally:
        again.close()


def test_reset_empties_only_its_table(db: Path) -> None:
    a = SqliteQueue(db, queue="alpha")
    b = SqliteQueue(db, queue="beta")
    try:
        a.push(job("x"), 0)
        b.push(job("y"), 0)
        a.reset(1)
        assert a.reserve(1) is None
        assert ids(b, 1, 2) == ["y", None]
    finally:
        a.close()
        b.close()


def test_queue_names_isolated_and_drop_keeps_others(db: Path) -> None:
    a = SqliteQueue(db)
    b = SqliteQueue(db, queue="other_1")
    a.push(job("x"), 0)
    b.push(job("y"), 0)
    assert ids(a, 0, 2) == ["x", None]
    b.delete(job("x"), 1)  # not live in b: ok, and a's reservation is untouched
    a.delete(job("x"), 1)
    a.push(job("z"), 2)
    b.drop()
    b.close()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "mqspec_q_default" in tables and "mqspec_q_other_1" not in tables
    assert ids(a, 2, 2) == ["z", None]
    a.close()
    SqliteQueue(db).drop()  # drop also works on a freshly opened queue
    assert rows_or_none(db) is None


def table_names_in(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_tables_are_named_as_on_the_servers(db: Path) -> None:
    SqliteQueue(db, queue="Jobs").close()
    assert {"mqspec_q_jobs", "mqspec_clock_jobs"} <= table_names_in(db)


def test_tables_of_an_older_file_are_left_alone(db: Path) -> None:
    with sqlite3.connect(db) as conn:  # the layout an older mqspec wrote
        conn.execute("CREATE TABLE mq_default (seq INTEGER PRIMARY KEY, task TEXT)")
        conn.execute("INSERT INTO mq_default (task) VALUES ('{}')")
    queue = SqliteQueue(db)
    try:
        assert queue.reserve(0) is None  # the old table's job is not read
        queue.reset(0)
    finally:
        queue.close()
    queue.drop()
    assert "mq_default" in table_names_in(db)
    assert rows(db, "mq_default") == 1


def test_queue_names_are_capped_at_40_characters(db: Path) -> None:
    SqliteQueue(db, queue="q" * 40).close()
    with pytest.raises(UsageError, match="1 to 40"):
        SqliteQueue(db, queue="q" * 41)


@pytest.mark.parametrize(("word", "expected"), [("on", True), ("Yes", True), ("off", False)])
def test_from_url_boolean_spellings(tmp_path: Path, word: str, expected: bool) -> None:
    queue = SqliteQueue.from_url(f"sqlite://{tmp_path}/q.db?tokens={word}")
    try:
        assert queue.capabilities.reservation_tokens is expected
    finally:
        queue.close()


def rows_or_none(db: Path) -> int | None:
    try:
        return rows(db)
    except sqlite3.OperationalError:
        return None


def test_drop_after_close(db: Path) -> None:
    queue = SqliteQueue(db, queue="gone")
    queue.push(job("a"), 0)
    queue.close()
    queue.drop()
    assert rows_or_none(db) is None
    with pytest.raises(sqlite3.OperationalError):
        rows(db, "mqspec_q_gone")


def test_closed_queue_raises(q: SqliteQueue) -> None:
    q.close()
    q.close()  # idempotent
    with pytest.raises(sqlite3.ProgrammingError):
        q.reserve(0)


def test_missing_directory_is_a_driver_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(DriverError, match=str(missing)):
        SqliteQueue(missing / "q.db")
    assert not missing.exists()  # never created


def test_unopenable_path_is_a_driver_error(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match=str(tmp_path)):
        SqliteQueue(tmp_path)  # a directory, not a database file


@pytest.mark.parametrize(
    "kwargs",
    [
        {"queue": "bad-name"},
        {"queue": ""},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"duplicates": "merge"},
        {"max_jobs": 0},
    ],
)
def test_bad_constructor_options_are_usage_errors(db: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        SqliteQueue(db, **kwargs)  # type: ignore[arg-type]


# -- from_url ------------------------------------------------------------------------------------


def test_from_url_absolute_path_and_options(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/q.db?timeout=5&tokens=1&duplicates=reject&max_jobs=100&queue=jobs"
    queue = SqliteQueue.from_url(url)
    try:
        assert queue.path == tmp_path / "q.db"
        assert queue.queue == "jobs"
        cap = queue.capabilities
        assert cap.reservation_timeout == 5
        assert cap.reservation_tokens is True
        assert cap.duplicate_ids == "reject"
        assert cap.max_jobs == 100
    finally:
        queue.close()
    assert rows(tmp_path / "q.db", "mqspec_q_jobs") == 0


@pytest.mark.parametrize("url", ["sqlite:///./rel.db", "sqlite:rel.db", "sqlite:./rel.db"])
def test_from_url_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.chdir(tmp_path)
    queue = SqliteQueue.from_url(url)
    try:
        assert not queue.path.is_absolute()
        cap = queue.capabilities
        assert (cap.reservation_timeout, cap.reservation_tokens) == (60, False)
        assert (cap.duplicate_ids, cap.max_jobs, queue.queue) == ("distinct", None, "default")
    finally:
        queue.close()
    assert (tmp_path / "rel.db").is_file()


@pytest.mark.parametrize(
    ("suffix", "needle"),
    [
        ("?colour=red", "colour"),
        ("?timeout=soon", "soon"),
        ("?timeout=-1", "-1"),
        ("?tokens=maybe", "maybe"),
        ("?duplicates=merge", "merge"),
        ("?max_jobs=lots", "lots"),
        ("?max_jobs=0", "max_jobs"),
        ("?queue=a-b", "a-b"),
        ("?timeout=1&timeout=2", "twice"),
        ("?timeout", "timeout"),
    ],
)
def test_from_url_bad_options(tmp_path: Path, suffix: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        SqliteQueue.from_url(f"sqlite://{tmp_path}/q.db{suffix}")


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:", "sqlite:///", "sqlite:?timeout=1", "postgres:///x", "sqlite://h/x.db"],
)
def test_from_url_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        SqliteQueue.from_url(url)


def test_from_url_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="nowhere"):
        SqliteQueue.from_url(f"sqlite://{tmp_path}/nowhere/q.db")


# -- several processes ---------------------------------------------------------------------------

NOW = 1000.0


def _worker(path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue = SqliteQueue(path, timeout=T)
    taken: list[str] = []
    try:
        while (got := queue.reserve(NOW)) is not None:
            taken.append(got["id"])
            queue.delete(got, NOW)
    finally:
        queue.close()
        results.put(taken)


def test_four_processes_reserve_each_job_once_MQ_RESERVE_3_MQ_LOSS_1(db: Path) -> None:
    queue = SqliteQueue(db, timeout=T)
    for i in range(400):
        queue.push(job(f"j{i:03d}", i % 3), NOW)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(db), results)) for _ in range(4)]
    for p in procs:
        p.start()
    taken = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    counts = Counter(i for part in taken for i in part)
    assert len(counts) == 400 and set(counts.values()) == {1}
    assert queue.reserve(NOW + 10 * T) is None
    queue.close()
    assert rows(db) == 0


def test_threads_share_one_queue_MQ_RESERVE_3(q: SqliteQueue) -> None:
    for i in range(200):
        q.push(job(f"t{i:03d}"), NOW)
    taken: list[str] = []

    def drain() -> None:
        while (got := q.reserve(NOW)) is not None:
            taken.append(got["id"])
            q.delete(got, NOW)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == [f"t{i:03d}" for i in range(200)]
