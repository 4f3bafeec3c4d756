"""The checked-in conformance matrix is current: regenerating it changes nothing.

Server rows need their servers: unreachable ones skip the staleness test with the reason
(locally), and fail it in CI, where .ci/services starts them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mqspec.conformance.frontends.matrix import SHIPPED, render_matrix, row_result

from ..adapters.servers import require

MATRIX = Path(__file__).resolve().parents[2] / "reports" / "matrix.md"


@pytest.mark.slow
def test_checked_in_matrix_is_current() -> None:
    for row in SHIPPED:
        if row.server:
            require(row.name, row.server)
    with tempfile.TemporaryDirectory() as scratch:
        results = [(row, row_result(row, Path(scratch))) for row in SHIPPED]
    fresh = render_matrix(results)
    assert MATRIX.read_text(encoding="utf-8") == fresh, (
        "reports/matrix.md is stale: run `.venv/bin/python -m mqspec.conformance.frontends.matrix "
        "reports/matrix.md` and commit it"
    )


def test_every_shipped_adapter_conforms() -> None:
    text = MATRIX.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "verdict" not in line]
    assert len(rows) == len(SHIPPED)
    assert all(" | conforms | " in row for row in rows)
