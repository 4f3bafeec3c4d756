"""mqspec.conformance: the harness that checks any backend against the reference model.

Public entry points: `check` (run the whole suite from your own test), `Session` (drive one
case by hand), `run` (the engine, yielding events), and the ``mqspec`` pytest plugin
(``pytest --mq URL``). Only ``cli.py`` imports the CLI library and only ``pytest_plugin.py``
imports pytest.
"""

from mqspec.conformance.api import check
from mqspec.conformance.engine import PROFILES, RunResult, run
from mqspec.conformance.session import Session

__all__ = ["PROFILES", "RunResult", "Session", "check", "run"]
