"""The conformance suite as pytest tests; collected by ``pytest --mq URL`` (see the plugin).

One test per scenario, named after its clause, and one for the profile's search after them
(`mqspec.conformance.core.engine.run_search`): the state machine; under ``--mq-profile faults`` the
machine with injected faults (then crashes, for a durable queue that is not a server); under
``crash`` the machine that kills the queue's process; under ``concurrency`` several clients at
once. Each opens the backend through the URL registry. SHOULD findings become pytest warnings
unless --mq-strict.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core.engine import PROFILES, check_realtime, run_scenario, run_search
from mqspec.conformance.core.scenarios import SCENARIOS, Scenario
from mqspec.conformance.frontends.render import render_divergence
from mqspec.reference.errors import DriverError


@pytest.fixture(scope="module")
def mq(request: pytest.FixtureRequest) -> Iterator[tuple[QueueAdapter, str, str]]:
    """The open backend, its URL as given, and the URL opened (with the queue= chosen)."""
    url = request.config.getoption("--mq")
    if not url:
        pytest.skip("no --mq URL given")
    adapter, opened, cleanup = open_isolated_url(url)
    try:
        yield adapter, url, opened
    finally:
        cleanup()


def _warn(findings: object) -> None:
    for finding in findings:  # type: ignore[attr-defined]
        warnings.warn(finding.render(), stacklevel=2)


@pytest.mark.parametrize("item", SCENARIOS, ids=lambda s: f"{s.clause.id}-{s.name}")
def test_scenario(
    item: Scenario, mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest
) -> None:
    adapter, url, _ = mq
    strict = request.config.getoption("--mq-strict")
    realtime = PROFILES[request.config.getoption("--mq-profile")].realtime
    if realtime or not adapter.capabilities.virtual_time:
        check_realtime(adapter.capabilities, url)
    done = run_scenario(adapter, item, url, strict, realtime=realtime)
    if done.status == "skip":
        pytest.skip(f"{item.clause.id}: {done.reason}")
    if done.divergences:
        pytest.fail("\n\n".join(map(render_divergence, done.divergences)), pytrace=False)
    _warn(done.warnings)


def test_state_machine(mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest) -> None:
    """The profile's search: every divergence it finds fails this test, with its clause."""
    adapter, url, opened = mq
    profile = request.config.getoption("--mq-profile")
    if PROFILES[profile].realtime:
        pytest.skip("the realtime profile runs the scenarios only")
    strict = request.config.getoption("--mq-strict")
    seed = request.config.getoption("--mq-seed")
    failures = []
    try:
        for done in run_search(
            adapter, profile, url=url, opened_url=opened, strict=strict, seed=seed
        ):
            divergences = getattr(done, "divergences", None)
            if divergences is None:  # the concurrency phase keeps one
                divergences = () if done.divergence is None else (done.divergence,)
            failures += [render_divergence(d) for d in divergences]
            _warn(getattr(done, "warnings", ()))
    except DriverError as err:
        pytest.fail(f"could not drive {url}: {err}", pytrace=False)
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
