"""mqspec.conformance: the harness that checks any backend against the reference model.

Public entry points: `check` (run the whole suite from your own test), `Session` (drive one
case by hand), `run` (the engine, yielding events), and the ``mqspec`` pytest plugin
(``pytest --mq URL``). For concurrent histories: `record` (N client threads on one queue),
`find_anomalies` (the O(n log n) checker), `check_linearizable` (the exact search with a
budget), `check_parallel` (small parallel programs, shrunk) and `run_concurrency` (all of them,
as the concurrency profile runs them). Only ``cli.py`` imports the CLI library and only
``pytest_plugin.py`` imports pytest.
"""

from mqspec.conformance.api import check
from mqspec.conformance.concurrency import run_concurrency
from mqspec.conformance.concurrent import record
from mqspec.conformance.engine import PROFILES, RunResult, run
from mqspec.conformance.fastcheck import find_anomalies
from mqspec.conformance.linearize import check as check_linearizable
from mqspec.conformance.parallel import check_parallel
from mqspec.conformance.session import Session

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
