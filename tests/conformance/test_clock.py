"""Tests of the harness's virtual clock (mqspec.conformance.core.clock): time moves only forward."""

from __future__ import annotations

import math
import re

import pytest

from mqspec.conformance.core.clock import VirtualClock
from mqspec.reference.errors import UsageError


def test_starts_at_zero_by_default():
    assert VirtualClock().now() == 0.0


@pytest.mark.parametrize("start", [0, 7, 12.5, 1e9])
def test_starts_at_the_given_time(start):
    clock = VirtualClock(start)
    assert clock.now() == start
    assert isinstance(clock.now(), float)


def test_jump_moves_forward_and_returns_the_new_time():
    clock = VirtualClock(10)
    assert clock.jump(2.5) == 12.5
    assert clock.now() == 12.5
    assert clock.jump(0) == 12.5


def test_jumps_accumulate():
    clock = VirtualClock()
    for _ in range(4):
        clock.jump(0.25)
    assert clock.now() == 1.0


def test_advance_to_moves_to_the_given_time_and_returns_it():
    clock = VirtualClock(3)
    assert clock.advance_to(8) == 8.0
    assert clock.now() == 8.0
    assert isinstance(clock.now(), float)


def test_advance_to_now_is_allowed():
    clock = VirtualClock(5)
    assert clock.advance_to(5) == 5.0


@pytest.mark.parametrize("seconds", [-1, -0.001, math.inf, -math.inf, math.nan])
def test_jump_backwards_or_not_finite_raises(seconds):
    clock = VirtualClock(4)
    expected = f"^time can only jump forward by a finite amount, got {re.escape(repr(seconds))}$"
    with pytest.raises(UsageError, match=expected):
        clock.jump(seconds)
    assert clock.now() == 4.0  # a refused move changes nothing


def test_advance_backwards_raises_naming_both_times():
    clock = VirtualClock(5)
    with pytest.raises(UsageError, match=r"^time cannot move back from 5\.0 to 4\.999$"):
        clock.advance_to(4.999)
    assert clock.now() == 5.0


@pytest.mark.parametrize("when", [math.inf, math.nan])
def test_advance_to_a_time_that_is_not_finite_raises(when):
    clock = VirtualClock(1)
    expected = f"^time cannot move back from 1\\.0 to {re.escape(repr(when))}$"
    with pytest.raises(UsageError, match=expected):
        clock.advance_to(when)
    assert clock.now() == 1.0


def test_usage_error_is_an_mqspec_error():
    from mqspec.reference.errors import MqspecError

    with pytest.raises(MqspecError):
        VirtualClock(1).jump(-1)
