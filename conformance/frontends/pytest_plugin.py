"""The ``mqspec`` pytest plugin: ``pytest --mq URL`` runs the conformance suite against URL.

Options: ``--mq URL`` (``memory://``, ``sqlite:///path.db``, ``py:module:factory``),
``--mq-profile quick|thorough|realtime|crash|faults|concurrency``, ``--mq-seed N``,
``--mq-strict`` (SHOULD findings fail too).
With ``--mq`` the suite's test module (``suite_tests.py``) is added to the collection: one test
per scenario (named after its clause) and one for the profile's search. A backend author can
instead call `mqspec.conformance.check` from their own test. This module and ``suite_tests.py``
are the only modules of mqspec that import pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mqspec.conformance.core.profiles import PROFILES

SUITE = Path(__file__).with_name("suite_tests.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mqspec", "mqspec conformance suite")
    group.addoption("--mq", metavar="URL", default=None, help="queue URL to check")
    group.addoption(
        "--mq-profile", default="quick", choices=sorted(PROFILES), help="how hard to look"
    )
    group.addoption("--mq-seed", type=int, default=0, help="Hypothesis seed (default 0)")
    group.addoption(
        "--mq-strict", action="store_true", help="fail on SHOULD findings, not just warn"
    )


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: Any, args: list[str]
) -> None:
    # Add the suite module when --mq is given, so `pytest --mq URL` alone runs it.
    if any(a == "--mq" or a.startswith("--mq=") for a in args):
        args.append(str(SUITE))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mqspec_clause(id): the contract clause a test exercises")
