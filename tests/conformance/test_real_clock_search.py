"""The state machine on the real clock: a queue that reads its own clock gets the search too.

These tests sleep (the real clock is the point) and stay small: budgets of seconds, short
reservation timeouts. A correct queue on its own clock passes with several workers; a broken
one is caught on its clause with a program that replays.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.ownclock import OwnClock, own_clock
from mqspec.adapters.selftest.catalogue import MUTANTS
from mqspec.adapters.selftest.mutants import NeverRestores
from mqspec.adapters.selftest.variants import TickerQueue
from mqspec.conformance.core.engine import run_search
from mqspec.conformance.core.profiles import PROFILES


@pytest.fixture(autouse=True)
def short_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    # Shrinking sleeps too: a few seconds are enough to prove it runs and stays bounded.
    monkeypatch.setitem(
        PROFILES, "quick", attrs.evolve(PROFILES["quick"], realtime_shrink=8.0, realtime_steps=10)
    )


def _search(factory: Any, *, budget: float = 6, workers: int = 3) -> Any:
    main = factory()
    opened: list[Any] = []

    def open_queue() -> tuple[Any, Any]:
        queue = factory()
        opened.append(queue)
        return queue, queue.close

    try:
        (done,) = list(
            run_search(
                main, "quick", url="py:test", open_queue=open_queue, budget=budget, workers=workers
            )
        )
    finally:
        main.close()
    return done, opened


@pytest.mark.slow
def test_a_correct_queue_on_its_own_clock_passes_the_real_clock_search_MQ_RESTORE_1() -> None:
    done, opened = _search(own_clock(MemoryQueue))
    assert done.clock == "real"
    assert done.divergences == ()
    assert done.workers == 3 and len(opened) == 3  # one queue per worker
    assert done.examples >= 3 and done.steps > 0


@pytest.mark.slow
def test_a_ticker_queue_with_slack_passes_on_the_real_clock_MQ_READY_3() -> None:
    done, _ = _search(lambda: OwnClock(TickerQueue(tick_interval=0.5, timeout=1)))
    assert done.divergences == (), [d.finding.render() for d in done.divergences]


@pytest.mark.slow
def test_a_queue_that_never_restores_is_caught_on_the_real_clock_MQ_RESTORE_1() -> None:
    done, _ = _search(own_clock(NeverRestores), budget=20)
    clauses = {d.clause.id for d in done.divergences}
    honest = next(m.clauses for m in MUTANTS if m.name == "never-restores")
    assert clauses and clauses <= honest, clauses
    divergence = done.divergences[0]
    assert divergence.transcript is not None and divergence.transcript.clock == "real"
    assert "real clock" in divergence.source
