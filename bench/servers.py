"""Server adapter throughput: Push, Reserve and Delete per second, next to the engine's floor.

Run: ``.venv/bin/python bench/servers.py [--jobs N] [--clients 1,8] [--engines redis,mariadb]``
(engines: redis, postgresql, mariadb; default all three)

For each engine whose server answers (URLs from ``MQSPEC_REDIS_URL``, ``MQSPEC_POSTGRESQL_URL``,
``MQSPEC_MARIADB_URL``, defaulting to the loopback servers `.ci/services` starts) and for each
client count C:

* **floor**: C threads, each with its own raw driver connection, run the cheapest round trip in
  a loop (Redis ``PING``; PostgreSQL and MariaDB ``SELECT 1``): the engine's raw round-trip rate
  in the same run, on the same machine.
* **push / reserve / delete**: C threads, each with its own adapter instance on one fresh queue,
  push N jobs between them (mixed priorities), then reserve until the queue answers empty, then
  delete every job they reserved. Each phase starts on a barrier and is timed from the release
  to the last thread's finish (``time.perf_counter``). The adapters run on the server's clock
  (``now=None``), as in production. The reserve phase ends with all N jobs leased, and a SQL
  Reserve walks its index past the leased head rows, so its cost grows with the jobs in flight.
* **cycle**: C threads, each reserving then deleting, N jobs in all: at most C jobs in flight,
  as with real consumers. Printed as reserve+delete pairs per second.

Each figure is the best of ``--repeat`` runs (default 3), to damp a noisy machine.

"Reserve costs X round trips" is floor ops/s divided by reserve ops/s at the same C. Target: at
most 3 (printed with PASS/MISS; the process never fails on a miss). For PostgreSQL a second row
runs with ``synchronous_commit=off`` (NOT durable: a server crash may lose the last commits),
to show how much of the cost is the WAL flush each durable commit waits for. Every queue is
dropped afterwards.

Figures are from one run on a possibly noisy machine; the threads share one Python process, so
client-side Python time (the GIL) caps the 8-client figures, most visibly for Redis.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from mqspec.adapters.registry import open_adapter

URLS = {
    "redis": os.environ.get("MQSPEC_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "postgresql": os.environ.get(
        "MQSPEC_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("MQSPEC_MARIADB_URL", "mysql://root@127.0.0.1:3306/test"),
}
TARGET_ROUND_TRIPS = 3.0
FLOOR_OPS = 2000  # raw round trips per client


def raw_round_trip(url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """A raw connection to the server at ``url``: (one cheapest round trip, close)."""
    parts = urlsplit(url)
    if parts.scheme == "redis":
        import redis

        client = redis.Redis.from_url(url.split("?")[0], single_connection_client=True)
        return client.ping, client.close
    if parts.scheme in ("postgresql", "postgres"):
        import psycopg

        conn = psycopg.connect(url.split("?")[0], autocommit=True)
        return lambda: conn.execute("SELECT 1").fetchone(), conn.close
    import pymysql

    conn = pymysql.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        autocommit=True,
    )
    cur = conn.cursor()

    def select_one() -> None:
        cur.execute("SELECT 1")
        cur.fetchone()

    return select_one, conn.close


def timed(clients: int, work: Callable[[int], int]) -> float:
    """Run ``work(k)`` on ``clients`` threads from a common start; total items per second."""
    start = threading.Barrier(clients + 1)
    counts = [0] * clients
    errors: list[BaseException] = []

    def run(k: int) -> None:
        start.wait()
        try:
            counts[k] = work(k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def floor(url: str, clients: int) -> float:
    conns = [raw_round_trip(url) for _ in range(clients)]

    def work(k: int) -> int:
        once = conns[k][0]
        for _ in range(FLOOR_OPS):
            once()
        return FLOOR_OPS

    try:
        return timed(clients, work)
    finally:
        for _, close in conns:
            close()


def queue_phases(url: str, clients: int, jobs: int) -> dict[str, float]:
    name = f"mqspec_bench_{secrets.token_hex(4)}"
    joiner = "&" if "?" in url else "?"
    queues = [open_adapter(f"{url}{joiner}queue={name}&timeout=600") for _ in range(clients)]
    reserved: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    try:
        share = jobs // clients

        def push(k: int) -> int:
            for i in range(share):
                queues[k].push({"id": f"c{k}-{i}", "priority": i % 3, "payload": "x" * 64}, None)
            return share

        def reserve(k: int) -> int:
            while (got := queues[k].reserve(None)) is not None:
                reserved[k].append(got)
            return len(reserved[k])

        def delete(k: int) -> int:
            for task in reserved[k]:
                queues[k].delete(task, None)
            return len(reserved[k])

        def cycle(k: int) -> int:
            done = 0
            while (got := queues[k].reserve(None)) is not None:
                queues[k].delete(got, None)
                done += 1
            return done

        figures = {"push": timed(clients, push), "reserve": timed(clients, reserve)}
        taken = sum(len(part) for part in reserved)
        if taken != share * clients:
            raise AssertionError(f"reserved {taken} of {share * clients} jobs")
        figures["delete"] = timed(clients, delete)
        timed(clients, push)
        figures["cycle"] = timed(clients, cycle)
        return figures
    finally:
        for queue in queues:
            queue.close()
        queues[0].drop()


def reachable(url: str) -> str | None:
    try:
        _, close = raw_round_trip(url)
        close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per phase (default 1000)")
    parser.add_argument("--clients", default="1,8", help="client counts (default 1,8)")
    parser.add_argument("--engines", default="redis,postgresql,mariadb")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is kept")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(
        f"{args.jobs} jobs per phase; floor: {FLOOR_OPS} round trips per client;"
        f" best of {args.repeat} runs; one invocation on a possibly noisy machine\n"
    )
    rows: list[tuple[str, str]] = []
    for engine in args.engines.split(","):
        url = URLS[engine]
        rows.append((engine, url))
        if engine == "postgresql":
            joiner = "&" if "?" in url else "?"
            rows.append(
                (
                    "postgresql (synchronous_commit=off, not durable)",
                    f"{url}{joiner}options=-c%20synchronous_commit%3Doff",
                )
            )
    header = f"{'engine':<50} {'C':>2} {'floor/s':>9} {'push/s':>8} {'reserve/s':>9}"
    header += f" {'delete/s':>8} {'cycle/s':>8}"
    print(header)
    print("-" * len(header))
    verdicts: list[str] = []
    for label, url in rows:
        cause = reachable(url)
        if cause is not None:
            print(f"{label:<50} skipped: unreachable: {cause}")
            continue
        for clients in counts:
            raw = max(floor(url, clients) for _ in range(args.repeat))
            runs = [queue_phases(url, clients, args.jobs) for _ in range(args.repeat)]
            got = {key: max(run[key] for run in runs) for key in runs[0]}
            print(
                f"{label:<50} {clients:>2} {raw:>9.0f} {got['push']:>8.0f}"
                f" {got['reserve']:>9.0f} {got['delete']:>8.0f} {got['cycle']:>8.0f}"
            )
            cost = raw / got["reserve"]
            mark = "PASS" if cost <= TARGET_ROUND_TRIPS else "MISS"
            verdicts.append(
                f"{label}, {clients} client(s): Reserve costs {cost:.1f} round trips"
                f" (target <= {TARGET_ROUND_TRIPS:g}: {mark})"
            )
    print()
    for line in verdicts:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
