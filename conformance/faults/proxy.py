"""A TCP fault proxy: sits between a server adapter and its server and breaks the next operation.

Responsibility: make the network faults of MQ-LOSS-2 happen on demand, deterministically enough
for tests. `FaultProxy` listens on 127.0.0.1 (an ephemeral port), forwards every connection to
the server in both directions, and can be armed with one fault at a time for the next request
the client sends (a "turn": the bytes a client sends before the server answers):

* ``reset``: reset the connection as soon as the client sends; the request never arrives.
* ``stall-reset``: hold the request 20-50 ms, then reset; the request never arrives.
* ``drop-response``: forward the request, then reset the client instead of forwarding the
  answer; the request went through, the answer is lost.
* ``slow``: delay every chunk a few milliseconds, both ways, until healed; must fail nothing.

``after=k`` lets k turns pass first, so a fault can land inside a multi-statement operation
(a transaction's COMMIT, say). Resets use SO_LINGER 0 on both sides, so the client sees a
connection reset and the server aborts any open transaction at once. Nothing can hang: every
socket has a timeout, a stall is at most 50 ms, a dropped answer that never comes is waited
for at most `DROP_WAIT` seconds, and `close` shuts every socket and joins every thread.

Forbidden imports: the model, the harness, any driver (stdlib only).
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections import Counter

__all__ = ["KINDS", "FaultProxy"]

KINDS = ("reset", "stall-reset", "drop-response", "slow")
"""The faults a `FaultProxy` can inject."""

DROP_WAIT = 2.0
"""Seconds ``drop-response`` waits for the answer it drops before resetting anyway."""

_IO_TIMEOUT = 10.0  # a send to a peer that stopped reading fails after this long
_POLL = 0.05  # seconds between checks of the stop flag and of pending timeouts
_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with an RST (SO_LINGER 0), not a FIN: the peer sees a reset."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Link:
    """One proxied connection: the client's socket, the server's, and its fault state."""

    __slots__ = ("client", "drop_since", "dropping", "server", "thread", "turn_open")

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.turn_open = False  # the client is mid-request (it sent; the server has not answered)
        self.dropping = False  # drop-response fired: the next answer is dropped, then reset
        self.drop_since = 0.0
        self.thread: threading.Thread | None = None


class FaultProxy:
    """Forward 127.0.0.1:<port> to ``target_host:target_port``, with injectable faults.

    Args:
        target_host: the server's host.
        target_port: the server's port.
        seed: seeds the stall and slow delays, so a run's timing choices repeat.

    Use as a context manager, or call `close`. ``port`` is where clients connect.
    """

    def __init__(self, target_host: str, target_port: int, *, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._links: list[_Link] = []
        self._armed: str | None = None
        self._skip = 0
        self._slow = False
        self._slow_seen = False  # slow delayed a chunk since it was armed (it "fired")
        self.injected: Counter[str] = Counter()  # faults armed, by kind
        self.fired: Counter[str] = Counter()  # faults that actually happened, by kind
        self.connections = 0  # client connections accepted
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._acceptor.start()

    # -- control ----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """Where clients connect: ``("127.0.0.1", port)``."""
        return ("127.0.0.1", self.port)

    @property
    def armed(self) -> str | None:
        """The fault waiting for its request (not ``slow``, which is a mode), or None."""
        return self._armed

    @property
    def slow(self) -> bool:
        """Whether chunks are being delayed."""
        return self._slow

    @property
    def fired_total(self) -> int:
        """How many failing faults (every kind but ``slow``) have happened so far."""
        with self._lock:
            return sum(n for kind, n in self.fired.items() if kind != "slow")

    def arm(self, kind: str, *, after: int = 0) -> None:
        """Inject ``kind`` into the next request, or the one ``after`` turns later.

        A fault still waiting is replaced (it stays counted as injected, never as fired).

        Raises:
            ValueError: an unknown kind, or ``after`` not an integer >= 0.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError(f"after must be an integer >= 0, got {after!r}")
        with self._lock:
            self.injected[kind] += 1
            if kind == "slow":
                self._armed, self._slow, self._slow_seen = None, True, False
            else:
                self._armed, self._skip, self._slow = kind, after, False

    def heal(self) -> None:
        """Clear the waiting fault and slow mode; connections already broken stay broken."""
        with self._lock:
            self._armed = None
            self._skip = 0
            self._slow = False

    def close(self) -> None:
        """Stop accepting, close every connection, and join every thread."""
        self._stop.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            if link.thread is not None:
                link.thread.join(timeout=5)
        for link in links:  # a thread that never started still owns its sockets
            link.client.close()
            link.server.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        host, port = self.target
        return f"FaultProxy(127.0.0.1:{self.port} -> {host}:{port}, armed={self._armed!r})"

    # -- forwarding -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener], [], [], _POLL)
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(self.target, timeout=3)
            except OSError:
                _reset(client)  # the server is down: the client sees a reset, as it would
                continue
            for sock in (client, server):
                sock.settimeout(_IO_TIMEOUT)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, server)
            link.thread = threading.Thread(
                target=self._pump, args=(link,), name="fault-proxy-link", daemon=True
            )
            with self._lock:
                self._links = [x for x in self._links if x.thread and x.thread.is_alive()]
                self._links.append(link)
                self.connections += 1
            link.thread.start()

    def _pump(self, link: _Link) -> None:
        """Forward both ways until either side closes, a fault resets, or `close` is called."""
        try:
            while not self._stop.is_set():
                if link.dropping and time.monotonic() - link.drop_since > DROP_WAIT:
                    self._break(link)
                    return
                ready, _, _ = select.select([link.client, link.server], [], [], _POLL)
                for sock in ready:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return None  # an orderly close: pass it on by closing both
                    if sock is link.client:
                        if not self._from_client(link, data):
                            return None
                    elif not self._from_server(link, data):
                        return None
        except OSError:
            return None  # a reset or timeout on either side ends the link
        finally:
            link.client.close()
            link.server.close()
        return None

    def _from_client(self, link: _Link, data: bytes) -> bool:
        """Forward a client chunk, or break the link as armed; False once the link is gone."""
        fault = None
        if not link.turn_open:
            link.turn_open = True
            with self._lock:
                if self._armed is not None:
                    if self._skip:
                        self._skip -= 1
                    else:
                        fault, self._armed = self._armed, None
                        self.fired[fault] += 1  # counted before the client can see it
                stall = self._rng.uniform(0.02, 0.05) if fault == "stall-reset" else 0.0
        if fault in ("reset", "stall-reset"):
            if stall:
                time.sleep(stall)
            self._break(link)
            return False
        if fault == "drop-response":
            link.dropping, link.drop_since = True, time.monotonic()
        self._delay()
        link.server.sendall(data)
        return True

    def _from_server(self, link: _Link, data: bytes) -> bool:
        """Forward a server chunk, or drop it and reset if drop-response fired."""
        link.turn_open = False
        if link.dropping:
            self._break(link)
            return False
        self._delay()
        link.client.sendall(data)
        return True

    def _delay(self) -> None:
        if self._slow:
            with self._lock:
                if not self._slow_seen:
                    self._slow_seen = True
                    self.fired["slow"] += 1
                pause = self._rng.uniform(0.001, 0.004)
            time.sleep(pause)

    def _break(self, link: _Link) -> bool:
        _reset(link.client)
        _reset(link.server)
        return False
