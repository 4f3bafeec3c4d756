"""The conformance suite as pytest tests; collected by ``pytest --mq URL`` (see the plugin).

One test per scenario, named after its clause, and one for the profile's search after them
(`mqspec.conformance.core.engine.run_search`): the state machine; under ``--mq-profile faults`` the
machine with injected faults (then crashes, for a durable queue that is not a server); under
``crash`` the machine that kills the queue's process; under ``concurrency`` several clients at
once. Each opens the backend through the URL registry. A `PytestVerdicts` handler turns the
engine's events into pytest's terms: divergences fail the test, SHOULD findings become pytest
warnings (`ShouldWarning`) unless --mq-strict, a scenario the queue cannot run is skipped. On
the real clock the search runs its workers each on a queue of its own, as `mqspec check` does.
With the plugin, the only modules of mqspec that import pytest.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core.engine import check_realtime, run_scenario, run_search
from mqspec.conformance.core.events import Event, PhaseDone, ScenarioDone
from mqspec.conformance.core.profiles import PROFILES
from mqspec.conformance.core.scenarios import SCENARIOS, Scenario
from mqspec.conformance.core.violations import ShouldWarning
from mqspec.conformance.frontends.render import render_divergence
from mqspec.reference.errors import DriverError
from mqspec.reference.types import Finding


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


class PytestVerdicts:
    """The engine's events in pytest's terms (an `EventHandler`): a skipped scenario skips the
    test, SHOULD findings are issued as warnings as they come, divergences are kept for
    `finish`, which fails the test with all of them."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def handle_event(self, event: Event) -> None:
        if isinstance(event, ScenarioDone) and event.status == "skip":
            pytest.skip(f"{event.scenario.clause.id}: {event.reason}")
        if isinstance(event, ScenarioDone | PhaseDone):
            self.failures += [render_divergence(d) for d in event.divergences]
            _warn(event.warnings)

    def finish(self) -> None:
        """Fail the test if any event carried a divergence."""
        if self.failures:
            pytest.fail("\n\n".join(self.failures), pytrace=False)


def _warn(findings: Iterable[Finding]) -> None:
    for finding in findings:
        warnings.warn(finding.render(), ShouldWarning, stacklevel=2)


@pytest.mark.parametrize("item", SCENARIOS, ids=lambda s: f"{s.clause.id}-{s.name}")
def test_scenario(
    item: Scenario, mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest
) -> None:
    adapter, url, _ = mq
    strict = request.config.getoption("--mq-strict")
    realtime = PROFILES[request.config.getoption("--mq-profile")].realtime
    if realtime or not adapter.capabilities.virtual_time:
        check_realtime(adapter.capabilities, url)
    verdicts = PytestVerdicts()
    verdicts.handle_event(run_scenario(adapter, item, url, strict, realtime=realtime))
    verdicts.finish()


def test_state_machine(mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest) -> None:
    """The profile's search: every divergence it finds fails this test, with its clause."""
    adapter, url, opened = mq
    profile = request.config.getoption("--mq-profile")
    strict = request.config.getoption("--mq-strict")
    seed = request.config.getoption("--mq-seed")
    open_queue = None
    if (PROFILES[profile].realtime or not adapter.capabilities.virtual_time) and (
        "queue=" not in url
    ):

        def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
            # Each real-clock worker on a queue of its own, as `mqspec check` does.
            queue, _, close = open_isolated_url(url)
            return queue, close

    verdicts = PytestVerdicts()
    try:
        for done in run_search(
            adapter,
            profile,
            url=url,
            opened_url=opened,
            strict=strict,
            seed=seed,
            open_queue=open_queue,
        ):
            verdicts.handle_event(done)
    except DriverError as err:
        pytest.fail(f"could not drive {url}: {err}", pytrace=False)
    verdicts.finish()
