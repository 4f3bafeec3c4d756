"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import attrs
import pytest

from mqspec.conformance.core.profiles import PROFILES

TEST_SHRINK_SECONDS = 2.0
"""Seconds a test's run may shrink one failure (the profiles allow 20 or more).

For tests that judge what a run found (the clause, that its program replays), not how small
the program is: a failing program is a real, replayable failure at every stage of shrinking,
and shrinking goes on until its budget is spent even when nothing smaller turns up (measured:
`NeverRestores` on the quick profile, 24.6 s with 20 s of shrinking, 5.6 s with 2 s, the same
three clauses and the same four-step programs). Tests that judge the program itself (the same
seed gives the same program, shrinking reaches a small one) keep the profile's budget."""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (make test): one worker more than the machine has cores.

    Why: part of the suite sleeps (the real-clock tests sleep through delays and timeouts; the
    fault proxy stalls; the servers answer), and one more worker keeps the cores busy through
    those sleeps. Measured on two cores on 2026-12-07, the same tests: pytest took 7:58 with
    two workers and 6:47 with three. The real-clock tests hold: a call slower than the margin
    is never judged (it is retried or dropped), so contention cannot make a false divergence.
    """
    return (os.cpu_count() or 1) + 1


@pytest.fixture
def short_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every profile with at most `TEST_SHRINK_SECONDS` of shrinking, for this test."""
    for name, profile in list(PROFILES.items()):
        budget = min(profile.shrink_seconds, TEST_SHRINK_SECONDS)
        monkeypatch.setitem(PROFILES, name, attrs.evolve(profile, shrink_seconds=budget))
