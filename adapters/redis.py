"""A MessageQueue on Redis: every operation is one Lua script, with the lease design.

Responsibility: implement the adapter contract (`mqspec.adapters.base.QueueAdapter`) on a Redis
server (7.0 verified; 5.0+ needed for ``TIME`` inside writing scripts): the common sorted-set
recipe (a ready set scored by place, a lease set scored by deadline), adapted so delayed jobs
keep their exact place.

Keys. A queue named ``<name>`` owns exactly the keys that start with ``{<name>}:``; the braces are
a Redis Cluster hash tag, so all of a queue's keys live in one slot and every script declares all
of them in KEYS. ``seq`` is ``%016d``-formatted, so equal scores sort by push order.

* ``{q}:seq`` (string): the push counter.
* ``{q}:tasks`` (hash): seq -> the task's JSON text.
* ``{q}:meta`` (hash): seq -> ``"<priority> <ready_at>"``, the job's fixed place in line.
* ``{q}:ready:0|1|2`` (sorted sets): seq -> ready_at, the jobs not reserved (delayed ones too).
* ``{q}:leased`` (sorted set): seq -> deadline, the reserved jobs; ``{q}:leases`` (hash): seq ->
  the lease token of that reservation.
* ``{q}:ids`` (hash): id -> the seqs of the live jobs with that id, concatenated.

Design: the lease design. A job's place is ``(priority, ready_at, seq)`` and never
changes. Reserve first moves every lease whose deadline has come back into its ready set with
its **original** ready_at and seq (so [A,B,C] with A expiring gives [A,C], MQ-RESTORE-3), then
takes the head of the highest-priority set among jobs with ``ready_at <= now``. Delayed jobs sit
in the ready sets from the start with a future score, so no promotion step (and no fresh seq)
can move them. Scripts read everything before their first write: Redis has no rollback.

Time: the harness's ``now`` when given (virtual time), else the server's ``TIME`` read inside
the script, never the client's clock. Durability: Debian's Redis runs with ``appendonly no``,
so the queue declares ``durable=False``.
"""

from __future__ import annotations

import threading
from typing import Any

from mqspec.adapters.base import Task
from mqspec.adapters.json_store import JsonStoreQueue, duplicate_error, full_error, id_bytes
from mqspec.adapters.options import QueueOptions
from mqspec.adapters.server_url import CONNECT_TIMEOUT, parse_server_url, reset_retried_once
from mqspec.reference.errors import DriverError, UsageError

try:
    import redis as _redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:  # pragma: no cover - depends on the environment
    _redis = None  # type: ignore[assignment]

__all__ = ["RedisQueue", "from_url"]

_PARTS = (
    "seq",
    "tasks",
    "meta",
    "leases",
    "leased",
    "ready:0",
    "ready:1",
    "ready:2",
    "ids",
    "clock",
)
_SEQ_WIDTH = 16
_OP_TIMEOUT = 30  # seconds a reply may take before the call fails (a long restore sweep)

# Shared by every script. KEYS: 1 seq, 2 tasks, 3 meta, 4 leases, 5 leased, 6-8 ready:0..2,
# 9 ids, 10 clock. ARGV[1]: the harness's now, or '' for the server clock.
#
# The time a script decides at never goes below the latest one a script already used (kept in
# the clock key): with several clients, a call can reach the server after a call with a later
# `now` ran, and deciding at its older `now` would miss a job that call pushed while seeing what
# came after it, which no order of the calls explains (found by the concurrency profile,
# MQ-READY-1). It also keeps decisions in order if the server clock is stepped back. A reset
# deletes the key, so a new case may start its clock anew.
_PRELUDE = """
local function clock()
  local t
  if ARGV[1] ~= '' then
    t = tonumber(ARGV[1])
  else
    local server = redis.call('TIME')
    t = tonumber(server[1]) + tonumber(server[2]) / 1000000
  end
  local high = tonumber(redis.call('GET', KEYS[10]))
  if high and high > t then return high end
  redis.call('SET', KEYS[10], string.format('%.17g', t))
  return t
end
-- Put every reservation whose deadline has come back in its ready set, at its original place.
-- Each lease is restored once, so the work is bounded by the number of reservations made.
local function restore(now)
  while true do
    local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 256)
    if #due == 0 then return end
    for _, s in ipairs(due) do
      local meta = redis.call('HGET', KEYS[3], s)
      if meta then
        local p, r = string.match(meta, '^(%d) (.+)$')
        redis.call('ZADD', KEYS[6 + tonumber(p)], r, s)
      end
    end
    redis.call('HDEL', KEYS[4], unpack(due))
    redis.call('ZREM', KEYS[5], unpack(due))
    if #due < 256 then return end
  end
end
"""

# ARGV: now, priority, delay, task text, id, reject ('1'/'0'), max_jobs ('' for none).
_PUSH = (
    _PRELUDE
    + """
local now = clock()
if ARGV[7] ~= '' then
  local live = redis.call('HLEN', KEYS[2])
  if live >= tonumber(ARGV[7]) then return {'full', tostring(live)} end
end
local held = redis.call('HGET', KEYS[9], ARGV[5])
if ARGV[6] == '1' and held then return {'duplicate'} end
local p = tonumber(ARGV[2])
local r = now + tonumber(ARGV[3])
local s = string.format('%016d', redis.call('INCR', KEYS[1]))
redis.call('HSET', KEYS[2], s, ARGV[4])
redis.call('HSET', KEYS[3], s, p .. ' ' .. string.format('%.17g', r))
redis.call('ZADD', KEYS[6 + p], string.format('%.17g', r), s)
redis.call('HSET', KEYS[9], ARGV[5], (held or '') .. s)
return {'ok'}
"""
)

# ARGV: now, timeout, token. Returns the task text, or nil when no job is ready.
_RESERVE = (
    _PRELUDE
    + """
local now = clock()
restore(now)
for p = 2, 0, -1 do
  local head = redis.call('ZRANGEBYSCORE', KEYS[6 + p], '-inf', now, 'LIMIT', 0, 1)
  if #head > 0 then
    local s = head[1]
    local task = redis.call('HGET', KEYS[2], s)
    redis.call('ZREM', KEYS[6 + p], s)
    redis.call('ZADD', KEYS[5], string.format('%.17g', now + tonumber(ARGV[2])), s)
    redis.call('HSET', KEYS[4], s, ARGV[3])
    return task
  end
end
return false
"""
)

# ARGV: now, id, token ('' for none), tokens ('1'/'0').
# Returns 'ok' (a pending reservation acknowledged), 'absent', 'stale' or 'not_reserved'.
_DELETE = (
    _PRELUDE
    + """
local now = clock()
local list = redis.call('HGET', KEYS[9], ARGV[2])
if not list then return 'absent' end
local stale = false
for i = 0, #list / 16 - 1 do
  local s = string.sub(list, i * 16 + 1, i * 16 + 16)
  local held = redis.call('HGET', KEYS[4], s)
  local deadline = redis.call('ZSCORE', KEYS[5], s)
  if held and deadline and tonumber(deadline) > now then
    if ARGV[4] == '0' or held == ARGV[3] then
      local rest = string.sub(list, 1, i * 16) .. string.sub(list, i * 16 + 17)
      redis.call('ZREM', KEYS[5], s)
      redis.call('HDEL', KEYS[4], s)
      redis.call('HDEL', KEYS[2], s)
      redis.call('HDEL', KEYS[3], s)
      if rest == '' then redis.call('HDEL', KEYS[9], ARGV[2])
      else redis.call('HSET', KEYS[9], ARGV[2], rest) end
      return 'ok'
    end
    stale = true
  end
end
if stale then return 'stale' end
return 'not_reserved'
"""
)


class RedisQueue(JsonStoreQueue):
    """One queue (the keys ``{<queue>}:*``) on one Redis server; see the module docstring.

    Thread-safe: one connection per instance, used under a lock. A dropped connection makes the
    call that found it raise ``ConnectionError``; the next call connects again.
    """

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        """Connect and check the server; options as in `QueueOptions`.

        Raises:
            UsageError: a bad option.
            DriverError: no redis package, or the server cannot be reached, refuses the
                credentials or is older than 5.0; the message names host:port and the cause.
        """
        self._options = QueueOptions(**options)
        self.queue = self._options.queue
        self.where = f"{host}:{port}"
        self._capabilities = self._options.capabilities(durable=False)
        self._keys = [f"{{{self.queue}}}:{part}" for part in _PARTS]
        if _redis is None:
            raise DriverError(
                "the redis: scheme needs the redis package: pip install 'mqspec[redis]'"
            )
        self._lock = threading.Lock()
        try:
            # One connection, no hidden retries: a retried script could run twice, and a call
            # on a dropped connection must answer with an error, never silently.
            self._client: Any = _redis.Redis(
                host=host,
                port=port,
                db=db,
                username=username,
                password=password,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=_OP_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
                single_connection_client=True,
                client_name=f"mqspec:{self.queue}",
            )
            self._client.ping()
            try:
                version = str(self._client.info("server").get("redis_version", ""))
            except _redis.ResponseError:  # an ACL may deny INFO: then trust the server
                version = ""
        except _redis.RedisError as exc:
            raise DriverError(f"cannot open Redis at {self.where}: {_cause(exc)}") from exc
        if version and int(version.split(".")[0]) < 5:
            self._client.close()
            raise DriverError(f"Redis at {self.where} is {version}; mqspec needs 5.0 or later")
        self._push = self._client.register_script(_PUSH)
        self._reserve = self._client.register_script(_RESERVE)
        self._delete = self._client.register_script(_DELETE)
        try:
            # Load the scripts now: otherwise the first call of each sends EVALSHA, is answered
            # NOSCRIPT, and only then loads and runs the script. A fault on that first request
            # (a lost answer, say) would then hit the probe, not the operation it stands for.
            for script in (self._push, self._reserve, self._delete):
                self._client.script_load(script.script)
        except _redis.RedisError as exc:
            self._client.close()
            raise DriverError(
                f"cannot load the scripts into Redis at {self.where}: {_cause(exc)}"
            ) from exc
        self._open = True

    # -- the scripts (the outline is JsonStoreQueue's) ---------------------------------------

    def _insert(self, task: Task, text: str, now: float | None) -> None:
        cap = self._capabilities
        args = [
            _now(now),
            task["priority"],
            task.get("delay", 0),
            text,
            id_bytes(task["id"]),
            "1" if cap.duplicate_ids == "reject" else "0",
            "" if cap.max_jobs is None else cap.max_jobs,
        ]
        answer = self._call(self._push, args)
        if answer[0] == b"full":
            raise full_error(int(answer[1]), cap.max_jobs)
        if answer[0] == b"duplicate":
            raise duplicate_error(task["id"])

    def _lease(self, token: str, now: float | None) -> bytes | None:
        """One script: restore the expired leases, then lease the head."""
        text: bytes | None = self._call(
            self._reserve, [_now(now), repr(self._capabilities.reservation_timeout), token]
        )
        return text

    def _remove_reserved(self, ident: str, token: str | None, now: float | None) -> bool:
        args = [
            _now(now),
            id_bytes(ident),
            token if token is not None else "",
            "1" if self._capabilities.reservation_tokens else "0",
        ]
        return self._call(self._delete, args) not in (b"stale", b"not_reserved")

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self, now: float | None) -> None:
        """Delete this queue's keys (and no others).

        Idempotent, so a connection found dropped is retried once on a fresh one.
        """
        reset_retried_once(
            lambda: self._call_raw(lambda: self._client.delete(*self._keys)),
            f"queue {self.queue!r}",
        )

    def close(self) -> None:
        """Close the connection; the keys stay (until ``drop``)."""
        with self._lock:
            if self._open:
                self._open = False
                self._client.close()

    def drop(self) -> None:
        """Delete exactly this queue's keys: the known ones plus any ``{<queue>}:*`` left over.

        Works before or after ``close()`` (it connects again when needed).
        """
        pattern = f"{{{self.queue}}}:*"

        def remove() -> None:
            self._client.delete(*self._keys)
            stray = list(self._client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(stray), 500):
                self._client.delete(*stray[start : start + 500])

        try:
            with self._lock:
                try:
                    remove()
                except (_redis.ConnectionError, _redis.TimeoutError):
                    remove()  # idempotent: once more on a fresh connection
                if not self._open:
                    self._client.close()
        except _redis.RedisError as exc:
            raise DriverError(
                f"cannot drop queue {self.queue!r} at {self.where}: {_cause(exc)}"
            ) from exc

    def __repr__(self) -> str:
        """Show the server and the queue name."""
        return f"RedisQueue({self.where!r}, queue={self.queue!r})"

    # -- helpers -------------------------------------------------------------------------------

    def _call(self, script: Any, args: list[Any]) -> Any:
        return self._call_raw(lambda: script(keys=self._keys, args=args))

    def _call_raw(self, action: Any) -> Any:
        """Run ``action`` under the lock; a connection failure becomes ConnectionError."""
        with self._lock:
            if not self._open:
                raise ConnectionError(f"{self!r} is closed")
            try:
                return action()
            except (_redis.ConnectionError, _redis.TimeoutError) as exc:
                # redis-py has already closed the socket; the next call connects again.
                raise ConnectionError(f"Redis at {self.where}: {_cause(exc)}") from exc
            except _redis.RedisError as exc:
                raise RuntimeError(f"Redis at {self.where}: {_cause(exc)}") from exc


def _now(now: float | None) -> str:
    """The script's time argument: the exact float text, or '' for the server's clock."""
    return "" if now is None else repr(float(now))


def _cause(exc: BaseException) -> str:
    """The driver's error as ``Type: message`` for our messages."""
    return f"{type(exc).__name__}: {exc}"


def from_url(url: str) -> RedisQueue:
    """Open the queue a URL names: ``redis://[user:password@]host[:port][/db][?options]``.

    Options (`mqspec.adapters.options`): ``queue`` (namespace, default ``default``),
    ``timeout`` (seconds), ``tokens`` (1/0, true/false, yes/no, on/off), ``duplicates``
    (distinct/reject), ``max_jobs`` (integer).

    Raises:
        UsageError: a malformed URL, an unknown option or a bad value.
        DriverError: the server cannot be reached or refuses us (names host:port and cause).
    """
    server = parse_server_url(url, ("redis",), default_port=6379)
    path = server.parts.path.strip("/")
    if path and not path.isdigit():
        raise UsageError(f"redis URL {url!r}: the path must be a database number, got {path!r}")
    return RedisQueue(
        host=server.host,
        port=server.port,
        db=int(path or 0),
        username=server.username,
        password=server.password,
        **server.options,
    )
