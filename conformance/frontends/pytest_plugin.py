"""The ``mqspec`` pytest plugin: ``pytest --mq URL`` runs the conformance suite against URL.

Options: ``--mq URL`` (``memory://``, ``sqlite:///path.db``, ``py:module:factory``),
``--mq-profile quick|thorough|realtime|crash|faults|concurrency|full`` (several joined by
commas), ``--mq-seed N``,
``--mq-strict`` (SHOULD findings fail too), ``--mq-batches N`` (each state machine cut into N
tests), ``--mq-example-db URL|DIR`` (share failing programs, `example_db`), ``--mq-report DIR``
(each divergence's files: transcript, or history and timeline).
With ``--mq`` the suite's test module (``suite_tests.py``) is added to the collection: one test
per scenario (named after its clause) and one for the profile's search. A backend author can
instead call `mqspec.conformance.check` from their own test. This module and ``suite_tests.py``
are the only modules of mqspec that import pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mqspec.conformance.core import example_db
from mqspec.conformance.core.profiles import PROFILES, profiles_named
from mqspec.reference.clauses import CATALOGUE
from mqspec.reference.errors import MqspecError

SUITE = Path(__file__).with_name("suite_tests.py")
NODE_PREFIX = "mqspec/suite_tests.py"
"""The suite module's node id: its tests are ``mqspec/suite_tests.py::test_scenario[...]``."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mqspec", "mqspec conformance suite")
    group.addoption("--mq", metavar="URL", default=None, help="queue URL to check")
    group.addoption(
        "--mq-profile",
        default="quick",
        metavar="NAME[,NAME...]",
        help=f"how hard to look: {', '.join(PROFILES)} or full; several joined by commas run "
        "each profile's search in turn (default quick)",
    )
    group.addoption("--mq-seed", type=int, default=0, help="Hypothesis seed (default 0)")
    group.addoption(
        "--mq-example-db",
        metavar="URL|DIR",
        default=None,
        help="Hypothesis example database the searches share (redis://host:port/db or a "
        "directory; default $MQSPEC_EXAMPLE_DB, else none)",
    )
    group.addoption(
        "--mq-report",
        metavar="DIR",
        default=None,
        help="write each divergence's files here, named after its test: the transcript and a "
        "standalone pytest file, or a concurrent history and its timeline",
    )
    group.addoption(
        "--mq-batches",
        type=int,
        default=1,
        metavar="N",
        help="cut each state machine into N tests, a share of the examples each, for "
        "pytest -n (default 1)",
    )
    group.addoption(
        "--mq-strict", action="store_true", help="fail on SHOULD findings, not just warn"
    )


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: Any, args: list[str]
) -> None:
    # Add the suite module when --mq is given, so `pytest --mq URL` alone runs it. A node id
    # of the suite (NODE_PREFIX::test...) names the installed module's tests: the module lives
    # in site-packages, outside the user's rootdir, so pytest could not find it by that id.
    if not any(a == "--mq" or a.startswith("--mq=") for a in args):
        return
    selected = False
    for i, arg in enumerate(args):
        if arg == NODE_PREFIX or arg.startswith(NODE_PREFIX + "::"):
            args[i] = str(SUITE) + arg[len(NODE_PREFIX) :]
            selected = True
    if not selected:
        args.append(str(SUITE))


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    """The suite module under a node id with a module path (``mqspec/suite_tests.py::...``),
    which JUnit reports as its class name, and which selects a test on the command line."""
    if module_path != SUITE:
        return None
    return pytest.Module.from_parent(parent, path=module_path, nodeid=NODE_PREFIX)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--mq-batches") < 1:
        raise pytest.UsageError("--mq-batches: give at least 1")
    try:
        profiles_named(config.getoption("--mq-profile"))
    except ValueError as err:
        raise pytest.UsageError(f"--mq-profile: {err}") from None
    config.addinivalue_line("markers", "mqspec_clause(id): the contract clause a test exercises")
    for name, what in clause_markers().items():
        config.addinivalue_line("markers", f"{name}: the suite's tests of {what}")
    if config.getoption("--mq"):
        try:
            example_db.use(example_db.from_option(config.getoption("--mq-example-db")))
        except MqspecError as err:
            raise pytest.UsageError(f"--mq-example-db: {err}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    example_db.use(None)


def clause_markers() -> dict[str, str]:
    """The marker of each clause group and of each clause (``-m mq_order``, ``-m
    mq_order_2``), with what it selects."""
    markers: dict[str, str] = {}
    for entry in CATALOGUE.values():
        markers.setdefault(f"mq_{entry.area.lower()}", f"the {entry.area} clauses")
        markers[marker_of(entry.id)] = entry.id
    return markers


def marker_of(clause_id: str) -> str:
    """The marker that selects ``clause_id``'s tests: ``MQ-ORDER-2`` -> ``mq_order_2``."""
    return clause_id.lower().replace("-", "_")
