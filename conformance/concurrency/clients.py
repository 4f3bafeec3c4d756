"""The adapters of a recording's clients: opened, reset and closed the one way.

Responsibility: a recording (`mqspec.conformance.concurrency.recorder.record`, and each run of
a parallel program in `mqspec.conformance.concurrency.parallel`) is given either one
thread-safe adapter, shared by every client, or a factory of adapters on one shared queue, one
per client; `client_adapters` turns either into the list of the clients' adapters and closes
those it opened. Every failure of the adapter here is a `DriverError` naming what failed.

Rule: imports the adapter protocol and the error vocabulary only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mqspec.adapters.base import QueueAdapter
from mqspec.reference.errors import DriverError, MqspecError

__all__ = [
    "client_adapters",
    "close_adapter",
    "open_clients",
    "reset_queue",
    "serves_one_call_at_a_time",
]


@contextmanager
def client_adapters(
    target: QueueAdapter | Callable[[], QueueAdapter], clients: int
) -> Iterator[list[QueueAdapter]]:
    """The adapters of ``clients`` clients: ``target`` itself for each, or, when ``target`` is
    a factory, one adapter each from it, all closed on the way out.

    Raises:
        DriverError: the factory raised, or an adapter it made failed to close.
    """
    # A class is a factory too (its instances are adapters, and it has their attributes).
    owned = isinstance(target, type) or not isinstance(target, QueueAdapter)
    adapters: list[QueueAdapter] = (
        open_clients(target, clients)  # type: ignore[arg-type]
        if owned
        else [target] * clients  # type: ignore[list-item]
    )
    try:
        yield adapters
    finally:
        if owned:
            for adapter in adapters:
                close_adapter(adapter)


def open_clients(factory: Callable[[], QueueAdapter], clients: int) -> list[QueueAdapter]:
    """One adapter per client from ``factory``; on a failure, close those opened and raise.

    Raises:
        DriverError: the factory raised (an `MqspecError` it raised passes through).
    """
    out: list[QueueAdapter] = []
    try:
        for _ in range(clients):
            out.append(factory())
    except Exception as err:
        for adapter in out:
            close_adapter(adapter)
        if isinstance(err, MqspecError):
            raise
        raise DriverError(f"the adapter factory failed: {type(err).__name__}: {err}") from err
    return out


def close_adapter(adapter: QueueAdapter) -> None:
    """Close ``adapter``; any exception becomes a `DriverError` naming it."""
    try:
        adapter.close()
    except Exception as err:
        raise DriverError(f"the adapter failed to close: {type(err).__name__}: {err}") from err


def reset_queue(adapter: QueueAdapter, now: float | None) -> None:
    """Empty the queue through ``adapter`` at ``now``; any exception becomes a `DriverError`."""
    try:
        adapter.reset(now)
    except Exception as err:
        raise DriverError(f"the adapter failed to reset: {type(err).__name__}: {err}") from err


def serves_one_call_at_a_time(adapter: QueueAdapter) -> bool:
    """Whether ``adapter`` answers one call at a time (an ``exec:`` driver does: one process,
    requests answered in order), so the recorder can hand it ``now`` in that order."""
    return bool(getattr(adapter, "serves_one_call_at_a_time", False))
