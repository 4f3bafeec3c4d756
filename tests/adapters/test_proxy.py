"""Tests of the TCP fault proxy (mqspec.conformance.faults.proxy) against a live Redis server.

Each fault kind must do what it says on a plain SET: ``reset`` and ``stall-reset`` stop the
request (the key stays unset), ``drop-response`` lets it through and loses the answer (the key is
set, the client got an error), ``slow`` changes nothing but timing. The Redis adapter must not
retry a command whose answer was lost (a retried push would queue twice, MQ-LOSS-2) and must
reconnect after every fault. ``close`` leaves no thread and no socket behind. Skips with the
reason when Redis is unreachable (fails in CI).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mqspec.adapters.registry import open_adapter
from mqspec.conformance.faults.proxy import FaultProxy

from .servers import REDIS_URL, fresh_name, job, require, where, with_options

redis = pytest.importorskip("redis", reason="install the driver: pip install -e '.[redis]'")

pytestmark = pytest.mark.server

KEY = "mqspec_proxy_probe"


def _target() -> tuple[str, int]:
    host, port = where(require("Redis", REDIS_URL)).rsplit(":", 1)
    return host, int(port)


def _sockets() -> int:
    """Open socket descriptors of this process."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def _proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy(*_target(), seed=0) as p:
        yield p


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[Any]:
    """A plain redis-py client through the proxy, with retries off (a retry would hide faults)."""
    c = redis.Redis(
        host="127.0.0.1",
        port=proxy.port,
        socket_timeout=5,
        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    )
    admin = redis.Redis(*_target(), socket_timeout=5)
    admin.delete(KEY)
    yield c
    c.close()
    admin.delete(KEY)
    admin.close()


def _value(key: str = KEY) -> bytes | None:
    admin = redis.Redis(*_target(), socket_timeout=5)
    try:
        return admin.get(key)
    finally:
        admin.close()


def test_forwards_without_faults(proxy: FaultProxy, client: Any) -> None:
    assert client.set(KEY, "a") is True
    assert client.get(KEY) == b"a"
    assert proxy.fired == {} and proxy.connections == 1


def test_reset_stops_the_request(proxy: FaultProxy, client: Any) -> None:
    client.ping()
    proxy.arm("reset")
    with pytest.raises(redis.ConnectionError):
        client.set(KEY, "a")
    assert _value() is None  # the request never arrived
    assert proxy.fired["reset"] == 1 and proxy.armed is None
    assert client.set(KEY, "b") is True  # the client connects again
    assert _value() == b"b"


def test_stall_reset_holds_then_resets(proxy: FaultProxy, client: Any) -> None:
    client.ping()
    proxy.arm("stall-reset")
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.set(KEY, "a")
    assert 0.02 <= time.monotonic() - started < 1
    assert _value() is None
    assert proxy.fired["stall-reset"] == 1


def test_drop_response_lets_the_request_through_and_loses_the_answer(
    proxy: FaultProxy, client: Any
) -> None:
    client.ping()
    proxy.arm("drop-response")
    with pytest.raises(redis.ConnectionError):
        client.set(KEY, "a")
    assert _value() == b"a"  # the write happened; only the answer was lost
    assert proxy.fired["drop-response"] == 1


def test_slow_changes_nothing_but_timing(proxy: FaultProxy, client: Any) -> None:
    proxy.arm("slow")
    for i in range(5):
        assert client.set(KEY, str(i)) is True
    assert client.get(KEY) == b"4"
    assert proxy.fired["slow"] == 1 and proxy.slow
    assert proxy.fired_total == 0  # slow never fails anything
    proxy.heal()
    assert not proxy.slow


def test_after_skips_round_trips(proxy: FaultProxy, client: Any) -> None:
    client.ping()
    proxy.arm("reset", after=2)
    client.set(KEY, "a")
    client.set(KEY, "b")
    with pytest.raises(redis.ConnectionError):
        client.set(KEY, "c")
    assert _value() == b"b"


def test_heal_disarms_and_counts_stay(proxy: FaultProxy, client: Any) -> None:
    proxy.arm("reset")
    proxy.heal()
    assert client.set(KEY, "a") is True
    assert proxy.injected["reset"] == 1 and proxy.fired["reset"] == 0
    with pytest.raises(ValueError, match="unknown fault kind 'explode'"):
        proxy.arm("explode")
    with pytest.raises(ValueError, match="after must be an integer >= 0"):
        proxy.arm("reset", after=-1)


def test_close_leaves_no_threads_or_sockets() -> None:
    target = _target()
    before = _sockets()
    proxy = FaultProxy(*target)
    clients = [redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=5) for _ in range(3)]
    for c in clients:
        c.ping()
    assert len(_proxy_threads()) == 4  # the acceptor and one per connection
    proxy.arm("stall-reset")
    proxy.close()
    for c in clients:
        c.close()
    assert _proxy_threads() == []
    assert _sockets() == before


def test_redis_adapter_never_retries_a_lost_answer_MQ_LOSS_2_MQ_LOSS_3(proxy: FaultProxy) -> None:
    """A push whose answer was lost raised, and the job is queued exactly once: redis-py must
    not retry the script (a retried push queues twice, MQ-LOSS-2); the adapter reconnects."""
    url = with_options(f"redis://127.0.0.1:{proxy.port}/0", queue=fresh_name("proxy"))
    queue = open_adapter(url)
    try:
        proxy.arm("drop-response")
        with pytest.raises(ConnectionError):
            queue.push(job("a"), 0)
        assert proxy.connections == 1
        got = queue.reserve(1)  # a new connection through the proxy
        assert got is not None and got["id"] == "a"
        assert queue.reserve(1) is None  # once, not twice
        for kind in ("reset", "stall-reset", "drop-response"):
            proxy.arm(kind)
            with pytest.raises(ConnectionError):
                queue.reserve(2)
        assert queue.reserve(10**6)["id"] == "a"  # still live once its reservation ended
    finally:
        queue.close()
        queue.drop()
