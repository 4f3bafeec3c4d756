"""The checked-in conformance matrix is current: regenerating it changes nothing.

Server rows need their servers: unreachable ones skip the staleness test with the reason
(locally), and fail it in CI, where .ci/services starts them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mqspec.conformance.frontends.matrix import (
    SHIPPED,
    Row,
    matrix_line,
    render_matrix,
    row_result,
)

from ..adapters.servers import require

MATRIX = Path(__file__).resolve().parents[2] / "reports" / "matrix.md"


STALE = (
    "reports/matrix.md is stale: run `.venv/bin/python -m mqspec.conformance.frontends.matrix "
    "reports/matrix.md` and commit it"
)


def test_checked_in_matrix_has_the_current_shape() -> None:
    """Everything but the rows' cells: the header, and one row per shipped adapter in order.
    (Each row's cells are checked by the test below, one adapter per test so they spread.)"""
    checked_in = MATRIX.read_text(encoding="utf-8").splitlines()
    rows = [line for line in checked_in if line.startswith("| ") and "verdict" not in line]
    names = [line.split(" | ")[0].removeprefix("| ") for line in rows]
    assert names == [row.name for row in SHIPPED], STALE
    header = render_matrix([]).splitlines()[:-1]
    assert checked_in[: len(header)] == header, STALE


# The server rows run the whole quick profile on each server (30-80 s each), and the SQLite
# row the quick profile with its crash check (20-30 s under load): their staleness check is a
# soak run (`make test-soak`, in CI). `make test` keeps each server's shrunk suite
# (`tests/adapters/servers.py`) and its concurrency profile
# (`tests/adapters/test_server_profiles.py`), SQLite's quick profile under each of its options
# (`tests/mutation`) and its crash runs (`tests/conformance/test_crash.py`), and the other
# rows here.
ROWS = [
    pytest.param(
        row, id=row.name, marks=[pytest.mark.soak] if row.server or row.name == "sqlite" else []
    )
    for row in SHIPPED
]


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS)
def test_checked_in_matrix_row_is_current(row: Row) -> None:
    if row.server:
        require(row.name, row.server)
    # tmpfs when there is one: the SQLite row commits with an fsync each time, slow on a disk
    # (19.5 s against 15.0 s on tmpfs, measured alone); the row's cells do not depend on it.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as scratch:
        fresh = matrix_line(row, row_result(row, Path(scratch)))
    checked_in = MATRIX.read_text(encoding="utf-8").splitlines()
    assert fresh in checked_in, f"{STALE}\nfresh row: {fresh}"


def test_every_shipped_adapter_conforms() -> None:
    text = MATRIX.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "verdict" not in line]
    assert len(rows) == len(SHIPPED)
    assert all(" | conforms | " in row for row in rows)
