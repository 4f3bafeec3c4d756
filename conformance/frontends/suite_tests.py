"""The conformance suite as pytest tests; collected by ``pytest --mq URL`` (see the plugin).

One test per scenario, named after its clause and marked with it (``-m mq_order_2``, or the
group, ``-m mq_order``), then one test per profile of ``--mq-profile`` for its search
(`mqspec.conformance.core.engine.run_search`): ``test_search[quick]`` the state machine,
``test_search[faults]`` the machine with injected faults (then crashes, for a durable queue
that is not a server), ``test_search[crash]`` the machine that kills the queue's process,
``test_search[concurrency]`` several clients at once. ``--mq-batches N`` cuts each state
machine into N tests (``test_search[quick-2of4]``: a share of the examples, or of the
real-clock budget, on a seed of its own) that ``pytest -n`` runs at once. Each test opens the
backend through the URL registry. A `PytestVerdicts` handler turns the engine's events into
pytest's terms: divergences fail the test, SHOULD findings become pytest warnings
(`ShouldWarning`) unless --mq-strict, a scenario the queue cannot run is skipped. On the real
clock the search runs its workers each on a queue of its own, as `mqspec check` does.
With the plugin, the only modules of mqspec that import pytest.
"""


from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core.engine import check_realtime, run_scenario, run_search
from mqspec.conformance.core.events import Event, PhaseDone, ScenarioDone
from mqspec.conformance.core.profiles import Profile, profiles_named
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.scenarios import SCENARIOS, Scenario
from mqspec.conformance.core.violations import ShouldWarning
from mqspec.conformance.frontends.pytest_plugin import marker_of
from mqspec.conformance.frontends.render import render_divergence
from mqspec.conformance.frontends.reports import divergence_files
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
    `finish`, which fails the test with all of them.

    With ``report`` (``--mq-report DIR``), each divergence's files are written there, named
    after the test (``test_search[concurrency]-divergence-1.timeline.html``: the history and
    its timeline for a concurrent one, the transcript and a standalone pytest file for a
    program), and the failure names them."""

    def __init__(self, report: Path | None = None, test: str = "", url: str = "") -> None:
        self.failures: list[str] = []
        self.report = report
        self.test = re.sub(r"[^\w.\[\]-]+", "_", test)
        self.url = url

    def handle_event(self, event: Event) -> None:
        if isinstance(event, ScenarioDone) and event.status == "skip":
            pytest.skip(f"{event.scenario.clause.id}: {event.reason}")
        if isinstance(event, ScenarioDone | PhaseDone):
            for divergence in event.divergences:
                self.failures.append(render_divergence(divergence) + self._files(divergence))
            _warn(event.warnings)

    def _files(self, divergence: Divergence) -> str:
        """Write ``divergence``'s files under the report folder; the line that names them."""
        if self.report is None:
            return ""
        number = len(self.failures) + 1
        files = divergence_files(divergence, number, self.url)
        self.report.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in files.items():
            path = self.report / f"{self.test}-{name}"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        return "\n  files: " + ", ".join(paths) if paths else ""

    def finish(self) -> None:
        """Fail the test if any event carried a divergence."""
        if self.failures:
            pytest.fail("\n\n".join(self.failures), pytrace=False)


def _verdicts(request: pytest.FixtureRequest, url: str) -> PytestVerdicts:
    report = request.config.getoption("--mq-report")
    return PytestVerdicts(Path(report) if report else None, request.node.name, url)


def _warn(findings: Iterable[Finding]) -> None:
    for finding in findings:
        warnings.warn(finding.render(), ShouldWarning, stacklevel=2)


def _scenario_param(scenario: Scenario) -> Any:
    """``scenario`` as a test case, marked with its clause (``-m mq_order_2``, ``-m mq_order``)."""
    ident = scenario.clause.id
    marks = [
        pytest.mark.mqspec_clause(ident),
        getattr(pytest.mark, marker_of(ident)),
        getattr(pytest.mark, f"mq_{scenario.clause.area.lower()}"),
    ]
    return pytest.param(scenario, id=f"{ident}-{scenario.name}", marks=marks)


@pytest.mark.parametrize("item", [_scenario_param(s) for s in SCENARIOS])
def test_scenario(
    item: Scenario, mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest
) -> None:
    adapter, url, _ = mq
    strict = request.config.getoption("--mq-strict")
    realtime = profiles_named(request.config.getoption("--mq-profile")).realtime
    if realtime or not adapter.capabilities.virtual_time:
        check_realtime(adapter.capabilities, url)
    verdicts = _verdicts(request, url)
    verdicts.handle_event(run_scenario(adapter, item, url, strict, realtime=realtime))
    verdicts.finish()


@attrs.frozen
class Search:
    """One search test: batch ``batch`` of ``batches`` of one profile's search."""

    profile: Profile
    batch: int = 0
    batches: int = 1

    @property
    def id(self) -> str:
        name = self.profile.name
        return name if self.batches == 1 else f"{name}-{self.batch + 1}of{self.batches}"

    def seed(self, seed: int) -> int:
        """The batch's seed: the run's own for the first, so one batch repeats `mqspec check`."""
        return seed + self.batch * 1_000_003

    def share(self) -> Profile:
        """The profile cut to this batch's share: examples, crash examples, real-clock budget."""
        if self.batches == 1:
            return self.profile
        part = self.profile
        return attrs.evolve(
            part,
            examples=math.ceil(part.examples / self.batches),
            crash_check=math.ceil(part.crash_check / self.batches),
            realtime_budget=max(1.0, part.realtime_budget / self.batches),
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One search test per profile of ``--mq-profile`` (``test_search[quick]``,
    ``test_search[concurrency]``), each state machine cut into ``--mq-batches`` tests that
    ``pytest -n`` can run at once."""
    if "search" not in metafunc.fixturenames:
        return
    profile = profiles_named(metafunc.config.getoption("--mq-profile"))
    batches = metafunc.config.getoption("--mq-batches")
    searches = [
        Search(part, batch, count)
        for part in profile.searches
        for count in [1 if part.concurrency else batches]
        for batch in range(count)
    ]
    metafunc.parametrize("search", searches, ids=[s.id for s in searches])


def test_search(
    search: Search, mq: tuple[QueueAdapter, str, str], request: pytest.FixtureRequest
) -> None:
    """A profile's search (or one batch of it): every divergence it finds fails this test,
    with its clause."""
    adapter, url, opened = mq
    strict = request.config.getoption("--mq-strict")
    seed = search.seed(request.config.getoption("--mq-seed"))
    open_queue = None
    if (search.profile.realtime or not adapter.capabilities.virtual_time) and (
        "queue=" not in url
    ):

        def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
            # Each real-clock worker on a queue of its own, as `mqspec check` does.
            queue, _, close = open_isolated_url(url)
            return queue, close

    verdicts = _verdicts(request, url)
    try:
        for done in run_search(
            adapter,
            search.share(),
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
