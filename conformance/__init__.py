"""mqspec.conformance: the harness that checks any backend against the reference model.

Public entry points: `check` (run the whole suite from your own test), `Session` (drive one
case by hand), `run` (the engine, yielding events), and the ``mqspec`` pytest plugin
(``pytest --mq URL``). For concurrent histories: `record` (N client threads on one queue),
`find_anomalies` (the O(n log n) checker), `check_linearizable` (the exact search with a
budget), `check_parallel` (small parallel programs, shrunk) and `run_concurrency` (all of them,
as the concurrency profile runs them). Only the ``cli`` package (and its console printer)
imports the CLI library, and only ``pytest_plugin.py`` and the suite it collects
(``suite_tests.py``) import pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mqspec.conformance.concurrency.check import run_concurrency
    from mqspec.conformance.concurrency.fastcheck import find_anomalies
    from mqspec.conformance.concurrency.linearize import check as check_linearizable
    from mqspec.conformance.concurrency.parallel import check_parallel
    from mqspec.conformance.concurrency.recorder import record
    from mqspec.conformance.core.engine import run
    from mqspec.conformance.core.profiles import PROFILES
    from mqspec.conformance.core.results import RunResult
    from mqspec.conformance.core.session import Session
    from mqspec.conformance.frontends.api import check

# Each entry point is imported when first used: importing one module of the harness (the
# session, say) must not load every other one, Hypothesis and the fault machinery with it.
_ENTRY_POINTS = {
    "run_concurrency": ("mqspec.conformance.concurrency.check", "run_concurrency"),
    "find_anomalies": ("mqspec.conformance.concurrency.fastcheck", "find_anomalies"),
    "check_linearizable": ("mqspec.conformance.concurrency.linearize", "check"),
    "check_parallel": ("mqspec.conformance.concurrency.parallel", "check_parallel"),
    "record": ("mqspec.conformance.concurrency.recorder", "record"),
    "PROFILES": ("mqspec.conformance.core.profiles", "PROFILES"),
    "RunResult": ("mqspec.conformance.core.results", "RunResult"),
    "run": ("mqspec.conformance.core.engine", "run"),
    "Session": ("mqspec.conformance.core.session", "Session"),
    "check": ("mqspec.conformance.frontends.api", "check"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _ENTRY_POINTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "PROFILES",
    "RunResult",
    "Session",
    "check",
    "check_linearizable",
    "check_parallel",
    "find_anomalies",
    "record",
    "run",
    "run_concurrency",
]
