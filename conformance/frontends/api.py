"""`check`: the whole conformance suite as one call, for a backend author's own test."""

from __future__ import annotations

from collections.abc import Callable

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import RunFinished
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.frontends.render import render_failure
from mqspec.reference.errors import DriverError

__all__ = ["check"]


def check(
    factory: Callable[[], QueueAdapter],
    *,
    profile: str = "quick",
    seed: int = 0,
    strict: bool = False,
    name: str = "py:custom",
) -> RunResult:
    """Run the suite against the adapter ``factory()`` opens; raise if it diverges.

    Example::

        def test_my_queue_conforms():
            check(lambda: MyQueue(path="q.db"))

    On the real clock (a queue that declares ``virtual_time`` false) the state machine runs
    several workers at once, each on a queue of its own from ``factory``.

    Returns:
        The `RunResult` (clauses, warnings) when the backend conforms.

    Raises:
        AssertionError: a clause was broken; the message names it and shows the minimal program.
        DriverError: the backend could not be driven at all.
    """
    adapter = factory()

    def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
        # Real-clock searches run several workers, each on a queue of its own.
        queue = factory()
        return queue, queue.close

    result: RunResult | None = None
    try:
        for event in run(
            adapter,
            url=name,
            profile=profile,
            seed=seed,
            strict=strict,
            open_queue=open_queue,
        ):
            if isinstance(event, RunFinished):
                result = event.result
    finally:
        adapter.close()
    assert result is not None
    if result.error:
        raise DriverError(result.error)
    if result.verdict == "diverges":
        raise AssertionError(render_failure(result))
    return result
