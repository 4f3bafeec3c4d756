"""Every server adapter passes the full profiles, not just the shrunk one: quick, thorough
(virtual time) and realtime (the production path: the server's own clock, a 1 s timeout).

Slow by design (about two minutes per server in the thorough profile); run in CI, where the
servers must be up. Each run works in its own namespace and drops it afterwards.
"""

from __future__ import annotations

import pytest

from mqspec.adapters.registry import open_isolated
from mqspec.conformance.engine import RunFinished, run
from mqspec.conformance.render import render_failure

from .servers import MARIADB_URL, POSTGRESQL_URL, REDIS_URL, require, with_options

pytestmark = pytest.mark.server

SERVERS = [("Redis", REDIS_URL), ("PostgreSQL", POSTGRESQL_URL), ("MariaDB", MARIADB_URL)]


@pytest.mark.parametrize("profile", ["quick", "thorough", "realtime"])
@pytest.mark.parametrize(("engine_name", "url"), SERVERS, ids=[s[0] for s in SERVERS])
def test_server_conforms_in_profile(engine_name: str, url: str, profile: str) -> None:
    require(engine_name, url)
    target = with_options(url, timeout=1) if profile == "realtime" else url
    adapter, cleanup = open_isolated(target)
    try:
        *_, last = run(adapter, url=target, profile=profile)
    finally:
        cleanup()
    assert isinstance(last, RunFinished)
    assert last.result.verdict == "conforms", render_failure(last.result)
