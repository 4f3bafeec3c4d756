"""Every server adapter passes the full profiles, not just the shrunk one: thorough (virtual
time), realtime (the production path: the server's own clock, a 1 s timeout), faults (resets,
stalls and lost answers through a TCP proxy, with nothing lost: MQ-LOSS-1, MQ-LOSS-2) and
concurrency (one connection per client, histories checked for linearizability). The whole
quick profile runs once per server in tests/conformance/test_matrix.py, which regenerates
reports/matrix.md (seed 0) and requires every row to read "conforms" with no warning, so it is
not run a second time here.

Slow by design (4 to 6 minutes each for PostgreSQL and MariaDB in the thorough profile on two
quiet cores): all are marked ``slow`` (`make test-fast` leaves them out), and the thorough and
realtime runs, and the faults runs on PostgreSQL and MariaDB, ``soak`` too (`make test` leaves
those out, `make test-soak` runs them; CI runs both). In CI the servers must be up. Each run
works in its own namespace and drops it after.
"""

from __future__ import annotations

import pytest

from mqspec.adapters.registry import open_isolated_url
from mqspec.conformance.core.engine import RunFinished, run
from mqspec.conformance.frontends.render import render_failure

from .servers import MARIADB_URL, POSTGRESQL_URL, REDIS_URL, require, with_options

pytestmark = [pytest.mark.server, pytest.mark.slow]

SERVERS = [("Redis", REDIS_URL), ("PostgreSQL", POSTGRESQL_URL), ("MariaDB", MARIADB_URL)]


# The thorough profile and the real clock are the long runs: marked ``soak`` (CI runs them with
# `make test-soak`; `make test` leaves them out). concurrency runs in `make test` on every
# server; the faults profile on Redis, and on PostgreSQL and MariaDB in soak (20-55 s each with
# the proxy's stalls): `make test` puts every server through the fault machine itself
# (tests/conformance/test_faults.py), so the profile's path through the engine runs once there.
SOAK = pytest.mark.soak


def _runs() -> list[object]:
    runs: list[object] = []
    for profile in ("thorough", "realtime", "faults", "concurrency"):
        for engine_name, url in SERVERS:
            long = profile in ("thorough", "realtime") or (
                profile == "faults" and engine_name != "Redis"
            )
            runs.append(
                pytest.param(
                    engine_name,
                    url,
                    profile,
                    id=f"{engine_name}-{profile}",
                    marks=[SOAK] if long else [],
                )
            )
    return runs


@pytest.mark.parametrize(("engine_name", "url", "profile"), _runs())
def test_server_conforms_in_profile(engine_name: str, url: str, profile: str) -> None:
    require(engine_name, url)
    target = with_options(url, timeout=1) if profile == "realtime" else url
    adapter, opened, cleanup = open_isolated_url(target)

    def open_queue():  # the real-clock search's workers, each in a namespace of its own
        queue, _, close = open_isolated_url(target)
        return queue, close

    try:
        *_, last = run(
            adapter,
            url=target,
            opened_url=opened,
            profile=profile,
            open_queue=open_queue,
            budget=15,
            workers=3,
        )
    finally:
        cleanup()
    assert isinstance(last, RunFinished)
    result = last.result
    assert result.verdict == "conforms", render_failure(result)
    if profile == "faults":  # faults really hit operations, and nothing was lost
        assert result.faults is not None and result.faults.unknown > 0
        assert (result.faults.lost, result.faults.duplicated, result.faults.unexpected) == (0, 0, 0)
        statuses = {c.clause.id: c.status for c in result.clauses}
        assert statuses["MQ-LOSS-2"] == statuses["MQ-LOSS-3"] == "pass"
    if profile == "concurrency":
        assert result.concurrency is not None and result.concurrency.histories > 0
