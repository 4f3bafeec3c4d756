"""mqspec.conformance: the harness that checks any backend against the reference model.

Public entry points: `check` (run the whole suite from your own test), `Session` (drive one
case by hand), `run` (the engine, yielding events), and the ``mqspec`` pytest plugin
(``pytest --mq URL``). For concurrent histories: `record` (N client threads on one queue),
`find_anomalies` (the O(n log n) checker), `check_linearizable` (the exact search with a
budget), `check_parallel` (small parallel programs, shrunk) and `run_concurrency` (all of them,
as the concurrency profile runs them). Only ``cli.py`` imports the CLI library and only
``pytest_plugin.py`` imports pytest.
"""

from mqspec.conformance.concurrency.check import run_concurrency
from mqspec.conformance.concurrency.fastcheck import find_anomalies
from mqspec.conformance.concurrency.linearize import check as check_linearizable
from mqspec.conformance.concurrency.parallel import check_parallel
from mqspec.conformance.concurrency.recorder import record
from mqspec.conformance.core.engine import PROFILES, RunResult, run
from mqspec.conformance.core.session import Session
from mqspec.conformance.frontends.api import check

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
