"""The concurrency timeline looked at in a real browser: headless Chromium lays the page out,
and a script measures every text box, so the layout properties are checked as a reader sees
them: no label overlaps another text or another call's bar, and the picture keeps its width
for 100 and for 1,000 operations. A screenshot of each is kept beside the page.

Chromium comes from Debian's packages (`.ci/run` installs it). Without it the test skips,
saying so, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from mqspec.conformance.concurrency.fastcheck import Anomaly
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.timeline import WIDTH, render_html
from mqspec.reference.clauses import clause
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

MEASURE = """
<script>
const svg = document.querySelector("svg");
const box = (e) => e.getBoundingClientRect();
const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
                      a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
const texts = [...svg.querySelectorAll("text")].map((e) => [e, box(e)]);
const bars = [...svg.querySelectorAll("g.op")].map((g) => [g, box(g.querySelector("rect"))]);
const overlaps = [];
for (let i = 0; i < texts.length; i++) {
  for (let j = i + 1; j < texts.length; j++) {
    if (hit(texts[i][1], texts[j][1]))
      overlaps.push([texts[i][0].textContent, texts[j][0].textContent]);
  }
  const own = texts[i][0].closest("g.op");
  for (const [g, r] of bars) {
    if (g !== own && hit(texts[i][1], r))
      overlaps.push([texts[i][0].textContent, "bar " + g.dataset.op]);
  }
}
const out = document.createElement("pre");
out.id = "layout";
out.textContent = JSON.stringify({
  overlaps: overlaps.slice(0, 20), count: overlaps.length, width: box(svg).width,
  bars: bars.length,
  labelled: bars.filter(([g]) => g.querySelector("text.label")).map(([g]) => +g.dataset.op),
});
document.body.appendChild(out);
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI is set: .ci/run installs it)")
        pytest.skip("chromium is not installed (Debian package chromium)")
    return found


def _history(count: int) -> tuple[History, list[Anomaly]]:
    """``count`` calls of 8 clients, overlapping, with a kind of anomaly every 25 calls."""
    ops = []
    clock = [0.0] * 8
    for n in range(count):
        client = n % 8
        start = clock[client] + 0.0001 * (n % 5)
        end = start + 0.0003 * (1 + n % 7)
        clock[client] = end
        kind = ("push", "reserve", "delete")[n % 3]
        task = {"id": f"c{client}-{n}", "priority": n % 3}
        result = (
            Unknown("cut") if n % 41 == 0 else Failed("boom") if n % 29 == 0 else Ok(task)
        )
        ops.append(
            Operation(
                client=client,
                op=kind,
                task=task if kind != "reserve" else None,
                invoke=start,
                complete=None if n % 41 == 0 else end,
                result=result,
            )
        )
    anomalies = [
        Anomaly(clause("MQ-RESERVE-3"), f"two reserves returned 'c{n % 8}-{n}'", (n, n + 1))
        for n in range(10, count - 1, 25)
    ]
    return History(capabilities=Capabilities(reservation_timeout=60), operations=ops), anomalies


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
@pytest.mark.parametrize("count", [100, 1000])
def test_the_timeline_lays_out_without_overlaps_at_a_fixed_width(count, tmp_path):
    browser = _chromium()
    history, anomalies = _history(count)
    page = render_html(history, anomalies, limit=count, title=f"{count} operations")
    path = tmp_path / "timeline.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    )
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    layout = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert layout["count"] == 0, layout["overlaps"]
    assert layout["bars"] == count
    assert layout["width"] <= WIDTH
    # The window around the first anomaly is zoomed: its calls keep their labels.
    assert set(anomalies[0].operations) <= set(layout["labelled"])
    shot = tmp_path / "timeline.png"
    subprocess.run(
        [*flags, f"--window-size={WIDTH + 80},700", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert _png_size(shot) == (WIDTH + 80, 700)
