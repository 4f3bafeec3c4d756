"""Run any in-process queue on its own clock, as a production queue runs: ``OwnClock(queue)``.

The wrapped queue is handed ``now=None`` on every call, so it reads its own monotonic clock
(every adapter here does so for ``None``), and the wrapper declares ``virtual_time`` false.
The harness then checks it as it checks a queue written elsewhere: on the real clock, with
sleeps. Why: to measure what the suite catches on the real clock (``mqspec selftest
--real-clock`` runs every broken queue and correct variant this way), and to check that a
real-clock check of a correct queue raises no false alarm.

Rule: like every adapter, never imports the harness or the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import attrs

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.reference.types import Capabilities

__all__ = ["OwnClock", "on_own_clock", "own_clock"]


class OwnClock:
    """``queue`` on its own clock: every ``now`` is dropped, ``virtual_time`` is false."""

    def __init__(self, queue: QueueAdapter) -> None:
        self.queue = queue

    @property
    def capabilities(self) -> Capabilities:
        return attrs.evolve(self.queue.capabilities, virtual_time=False)

    def reset(self, now: float | None) -> None:
        self.queue.reset(None)

    def push(self, task: Task, now: float | None) -> Task:
        return self.queue.push(task, None)

    def reserve(self, now: float | None) -> Task | None:
        return self.queue.reserve(None)

    def delete(self, task: Task, now: float | None) -> None:
        self.queue.delete(task, None)

    def tick(self, now: float | None) -> None:
        self.queue.tick(None)

    def close(self) -> None:
        self.queue.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else (restart, drop, fault points) is the wrapped queue's.
        return getattr(self.queue, name)

    def __repr__(self) -> str:
        return f"OwnClock({self.queue!r})"


def own_clock(factory: Callable[..., QueueAdapter], timeout: float = 1.0) -> Callable[[], OwnClock]:
    """A factory of ``factory(timeout=timeout)`` queues on their own clock; a factory that
    takes no ``timeout`` is called bare (its declared T must then be short)."""

    def make() -> OwnClock:
        try:
            queue = factory(timeout=timeout)
        except TypeError:
            queue = factory()
        return OwnClock(queue)

    make.__doc__ = factory.__doc__
    return make


def on_own_clock(of: str = "", url: str = "", timeout: str = "1") -> OwnClock:
    """A ``py:`` factory: a queue on its own clock with T = ``timeout``, named by ``of`` or ``url``.

    ``py:mqspec.adapters.ownclock:on_own_clock?of=pkg.module:Factory&timeout=1`` opens
    ``Factory(timeout=1.0)`` (bare ``Factory()`` if it takes no timeout);
    ``...:on_own_clock?url=sqlite%3A%2F%2F%2Fq.db`` opens that URL (percent-encoded) asking for
    T where its options can say it. Either is wrapped in `OwnClock`. Why a URL: the crash
    machine reopens a queue by its URL in a host process of its own, so a queue on its own
    clock can be crash-tested only if a URL names it.

    Raises:
        UsageError: not exactly one of ``of`` and ``url``, ``of`` names no factory, or
            ``timeout`` is not a number of seconds.
    """
    from mqspec.adapters.registry import load_factory, open_adapter, with_timeout
    from mqspec.reference.errors import UsageError

    here = "py:mqspec.adapters.ownclock:on_own_clock"
    if bool(of) == bool(url):
        raise UsageError(f"{here}: give one of of=package.module:factory or url=<queue URL>")
    try:
        seconds = float(timeout)
    except ValueError:
        raise UsageError(f"{here}: timeout={timeout!r} is not a number of seconds") from None
    if url:
        return OwnClock(open_adapter(with_timeout(url, seconds)))
    factory = load_factory(of, f"{here}?of={of}")
    return own_clock(cast("Callable[..., QueueAdapter]", factory), seconds)()
