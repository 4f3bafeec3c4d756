"""No false alarm from the concurrency checkers on histories of correct queues.

Every history `simulate` produces is linearizable by construction (the order the queue served
the calls in is a witness), so neither checker may flag one: the fast checker may only report
what holds in every linearization, and the exact checker must find a witness or say it does
not know. Four correct queues that make different allowed choices, the outsider's among them,
over two thousand histories each for the fast checker and a hundred for the exact one, with
overlapping calls, latencies of the order of the reservation timeout, and ready times and
deadlines inside calls' windows.
"""

from __future__ import annotations

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.variants import ReversedTiesQueue, TickerQueue
from mqspec.conformance.concurrency import linearize, parallel
from mqspec.conformance.concurrency.fastcheck import Anomaly, find_anomalies
from mqspec.conformance.concurrency.parallel import judge
from mqspec.reference.clauses import clause
from tests.conformance.outsider import OutsiderQueue
from tests.conformance.simulate import simulate

QUEUES = {
    "memory": lambda t: MemoryQueue(timeout=t),
    "outsider": lambda t: OutsiderQueue(timeout=t),
    "ticker": lambda t: TickerQueue(tick_interval=1, timeout=t),
    "reversed-ties": lambda t: ReversedTiesQueue(timeout=t),
}

FAST_HISTORIES = 2000  # the fast checker costs well under a millisecond per history
EXACT_HISTORIES = 100  # the exact search costs about a tenth of a second per history


def _history(name: str, seed: int):  # type: ignore[no-untyped-def]
    make = QUEUES[name]
    timeout = (1, 2, 3)[seed % 3]
    return simulate(lambda: make(timeout), seed, latency=0.25, service=0.15)


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_fast_checker_flags_no_correct_serial_queue_MQ_ORDER_1_MQ_READY_1(name: str) -> None:
    for seed in range(FAST_HISTORIES):
        history = _history(name, seed)
        anomalies = find_anomalies(history)
        assert anomalies == (), (seed, [a.render(history) for a in anomalies])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUEUES))
def test_exact_checker_finds_a_witness_for_correct_serial_queues_MQ_ORDER_2(name: str) -> None:
    undecided = 0
    for seed in range(EXACT_HISTORIES):
        history = _history(name, seed)
        found, verdict = judge(history, 1.0)
        assert found == (), (seed, [a.render(history) for a in found])
        assert not isinstance(verdict, linearize.NotLinearizable), (seed, verdict.finding)
        undecided += isinstance(verdict, linearize.Undecided)
    # Undecided histories are allowed (never failures) but must stay rare, or the check
    # would prove nothing.
    assert undecided < EXACT_HISTORIES // 5, undecided


def test_a_fast_finding_the_exact_search_refutes_is_no_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`judge` fails a history only with the exact checker's confirmation: a fast-checker
    finding that a witness refutes is reported as such, never as a failure."""
    history = _history("memory", 1)
    bogus = Anomaly(clause("MQ-ORDER-1"), "a planted finding", (0,))
    monkeypatch.setattr(parallel, "find_anomalies", lambda _: (bogus,))
    found, verdict = judge(history, 2.0)
    assert found == ()
    assert isinstance(verdict, linearize.Undecided)
    assert "refuted by a linearization" in verdict.reason


def test_a_fast_finding_the_exact_search_cannot_decide_is_unconfirmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = _history("memory", 1)
    bogus = Anomaly(clause("MQ-ORDER-1"), "a planted finding", (0,))
    monkeypatch.setattr(parallel, "find_anomalies", lambda _: (bogus,))
    monkeypatch.setattr(linearize, "check", lambda *_a, **_k: linearize.Undecided("budget"))
    found, verdict = judge(history, 2.0)
    assert found == () and isinstance(verdict, linearize.Undecided)
    assert "unconfirmed" in verdict.reason
