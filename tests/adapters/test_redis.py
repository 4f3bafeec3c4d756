"""Tests of the Redis adapter (mqspec.adapters.redis) against a live server, in virtual time.

The shared semantic, suite, isolation, fault and concurrency tests come from
`ServerQueueTests`; this module adds the Redis hooks and what is Redis-specific (key layout,
URL forms, open failures). Skips with the reason when the server is unreachable (fails in CI).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from mqspec.adapters.redis import RedisQueue, from_url
from mqspec.reference import DriverError, UsageError

from .servers import REDIS_URL, ServerQueueTests, fresh_name, job, require

redis = pytest.importorskip("redis", reason="install the driver: pip install -e '.[redis]'")

pytestmark = pytest.mark.server


def admin() -> redis.Redis:
    return redis.Redis.from_url(require("Redis", REDIS_URL), socket_connect_timeout=3)


class TestRedis(ServerQueueTests):
    ENGINE = "Redis"
    URL = REDIS_URL

    def kill_connection(self, queue: Any) -> None:
        client = admin()
        name = f"mqspec:{queue.queue}"
        ours = [c["id"] for c in client.client_list() if c.get("name") == name]
        assert ours, f"no connection named {name}"
        for ident in ours:
            client.client_kill_filter(_id=ident)
        for _ in range(100):
            if not any(c.get("name") == name for c in client.client_list()):
                break
            time.sleep(0.01)
        client.close()

    def seed_unrelated(self) -> tuple[Any, Any]:
        client = admin()
        p = f"mqspec_unrelated_{secrets.token_hex(4)}"
        keys = [
            f"{p}:str",
            f"{p}:hash",
            f"{p}:list",
            f"{p}:set",
            f"{p}:zset",
            f"{p}:stream",
            f"{p}:ttl",
            f"{{{p}}}:tasks",
            f"{{{p}}}:ready:1",
            f"{p}",
        ]
        client.set(keys[0], b"\x00\xffbytes")
        client.hset(keys[1], mapping={"a": "1", "b": "é"})
        client.rpush(keys[2], "x", "y", "z")
        client.sadd(keys[3], "m1", "m2")
        client.zadd(keys[4], {"j1": 1.5, "j2": 2})
        client.xadd(keys[5], {"f": "v"})
        client.set(keys[6], "expiring", ex=3600)
        client.hset(keys[7], "0000000000000001", '{"id": "not ours"}')  # looks like a queue
        client.zadd(keys[8], {"0000000000000001": 0})
        client.set(keys[9], "bare")

        def snapshot() -> list[tuple[str, bytes, bool]]:
            return [(k, client.dump(k), client.pttl(k) > 0) for k in keys]

        def remove() -> None:
            client.delete(*keys)
            client.close()

        return snapshot, remove

    def leftovers(self, queue_name: str) -> list[str]:
        client = admin()
        try:
            return sorted(k.decode() for k in client.scan_iter(match=f"{{{queue_name}}}:*"))
        finally:
            client.close()

    # -- Redis-specific ------------------------------------------------------------------------

    def test_keys_live_under_the_queue_hash_tag(self, q: Any) -> None:
        q.push(job("a"), 0)
        q.push(job("b", 2, delay=5), 0)
        q.reserve(0)
        name = q.queue
        assert self.leftovers(name) == sorted(
            f"{{{name}}}:{part}"
            for part in ("seq", "tasks", "meta", "leases", "leased", "ready:2", "ids", "clock")
        )

    def test_a_call_with_an_older_now_decides_at_the_latest_time(self, q: Any) -> None:
        """With several clients a call may reach the server after one with a later now: it
        decides at the later time, so it sees the job that call pushed (MQ-READY-1)."""
        q.push(job("a"), 10)
        assert q.reserve(5)["id"] == "a"  # decided at 10: a was ready
        q.reset(0)  # a new case starts its clock anew
        q.push(job("b", delay=3), 0)
        assert q.reserve(1) is None  # b is ready at 3, and the clock is back at 1

    def test_declares_not_durable(self, q: RedisQueue) -> None:
        assert q.capabilities.durable is False

    def test_mass_expiry_restores_every_job_in_place_MQ_RESTORE_3(self, q: Any) -> None:
        # More leases expire at once than one restore batch (256) holds.
        for i in range(600):
            q.push(job(f"j{i:03d}"), 0)
        taken = [q.reserve(0)["id"] for _ in range(600)]
        assert q.reserve(1) is None
        q.push(job("late"), 1)
        out = [q.reserve(100)["id"] for _ in range(601)]
        assert out == [*taken, "late"]

    def test_from_url_options(self) -> None:
        require("Redis", REDIS_URL)
        name = fresh_name()
        url = f"{REDIS_URL}?queue={name}&timeout=5&tokens=yes&duplicates=reject&max_jobs=9"
        queue = from_url(url)
        try:
            cap = queue.capabilities
            assert (queue.queue, cap.reservation_timeout, cap.reservation_tokens) == (name, 5, True)
            assert (cap.duplicate_ids, cap.max_jobs) == ("reject", 9)
        finally:
            queue.close()
            queue.drop()

    @pytest.mark.parametrize(
        "url",
        [
            "redis://127.0.0.1:6379/zero",
            "redis://127.0.0.1:x/0",
            "http://127.0.0.1/0",
            "redis://127.0.0.1:6379/0#frag",
        ],
    )
    def test_bad_urls_are_usage_errors(self, url: str) -> None:
        with pytest.raises(UsageError):
            from_url(url)

    @pytest.mark.parametrize(
        ("url", "needle"),
        [
            ("redis://127.0.0.1:6379/999", "DB index"),
            ("redis://nobody:wrong@127.0.0.1:6379/0", "127.0.0.1:6379"),
        ],
    )
    def test_refused_open_is_a_driver_error(self, url: str, needle: str) -> None:
        require("Redis", REDIS_URL)
        with pytest.raises(DriverError, match=needle):
            from_url(f"{url}?queue={fresh_name()}")
