"""Tests of `mqspec.conformance.concurrency.timeline`: a history drawn as SVG and as an HTML page.

The output must parse as XML, draw every selected operation exactly once, mark exactly the
anomalies' operations, stay within the cap around the anomaly, and escape hostile text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mqspec.adapters.selftest.race_mutants import PeekThenTake
from mqspec.conformance.concurrency.fastcheck import Anomaly, find_anomalies
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.recorder import record, switching
from mqspec.conformance.concurrency.timeline import label, render_html, render_svg, select
from mqspec.reference.clauses import clause
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<&">\x00\ud800]]>'


def op(client, kind, invoke, complete, result, task=None, drain=False):
    return Operation(
        client=client,
        op=kind,
        task=task,
        invoke=invoke,
        complete=complete,
        result=result,
        drain=drain,
    )


def small():
    task = {"id": HOSTILE, "priority": 1}
    return History(
        capabilities=Capabilities(reservation_timeout=100),
        operations=[
            op(0, "push", 0, 1, Ok(task), task=task),
            op(1, "reserve", 2, 3, Ok(dict(task))),
            op(0, "reserve", 2.5, 3.5, Ok(dict(task))),
            op(1, "delete", 4, None, Unknown("cut"), task=dict(task)),
            op(0, "reserve", 5, 6, Failed("boom <b>")),
            op(2, "reserve", 500, 501, Ok(None), drain=True),
        ],
    )


def drawn(svg):
    root = ET.fromstring(svg)
    return root, {int(g.get("data-op")): g for g in root.iter(f"{NS}g")}


def test_every_operation_is_drawn_and_the_anomaly_highlighted_MQ_RESERVE_3():
    history = small()
    anomaly = Anomaly(clause("MQ-RESERVE-3"), "two reserves returned <it>", (0, 1, 2))
    root, groups = drawn(render_svg(history, [anomaly], title="t & <t>"))
    assert sorted(groups) == list(range(len(history)))
    red = {k for k, g in groups.items() if "anomaly" in g.get("class").split()}
    assert red == {0, 1, 2}
    assert "unknown" in groups[3].get("class") and "error" in groups[4].get("class")
    assert "MQ-RESERVE-3" in root.find(f"{NS}title").text
    assert root.find(f"{NS}title").text.startswith("t & <t>")


def test_hostile_text_is_escaped_and_kept_readable():
    svg = render_svg(small(), [Anomaly(clause("MQ-RESERVE-1"), HOSTILE, (4,))])
    root, _ = drawn(svg)  # parses: nothing unescaped, no character XML forbids
    assert "\x00" not in svg and "\ud800" not in svg
    texts = "".join(root.itertext())
    assert '<&">\\x00\\ud800]]>' in texts
    assert "boom <b>" in texts


def test_html_page_embeds_the_svg_and_a_table_of_anomalies():
    history = small()
    anomaly = Anomaly(clause("MQ-RESERVE-3"), "double <delivery>", (1, 2))
    page = render_html(history, [anomaly], title="run <1>")
    assert page.startswith("<!DOCTYPE html>")
    root = ET.fromstring(page[page.index("<html") :])  # well-formed XML as well as HTML
    assert root.find(".//{*}svg") is not None
    cells = [c.text or "" for c in root.iter("td")]
    assert "MQ-RESERVE-3 (MUST)" in cells and "double <delivery>" in cells
    assert root.find(".//h1").text == "run <1>"
    assert "No anomalies." in render_html(history)


def test_a_large_history_draws_a_window_around_the_anomaly_MQ_RESERVE_3():
    with switching():
        for seed in range(10):
            history = record(
                PeekThenTake(timeout=3600),
                clients=8,
                ops_per_client=60,
                seed=seed,
                mix=(0.4, 0.6, 0.0),
            )
            found = [a for a in find_anomalies(history) if a.clause.id == "MQ-RESERVE-3"]
            if found:
                break
    assert found and len(history) > 120
    chosen = select(history, found[:1], limit=40)
    assert len(chosen) == 40 and set(found[0].operations) <= set(chosen)
    svg = render_svg(history, found[:1], limit=40)
    _, groups = drawn(svg)
    assert sorted(groups) == sorted(chosen)
    red = {k for k, g in groups.items() if "anomaly" in g.get("class").split()}
    assert red == set(found[0].operations)
    assert len(svg) < 40_000


def test_without_anomalies_the_first_operations_are_drawn():
    history = small()
    assert select(history, limit=3) == [0, 1, 2]
    assert select(history, limit=100) == list(range(6))


def test_labels_say_the_call_and_its_answer():
    history = small()
    assert [label(o) for o in history.operations][1:] == [
        f"reserve → {HOSTILE}",
        f"reserve → {HOSTILE}",
        f"delete {HOSTILE} ?",
        "reserve ✗",
        "drain → null",
    ]


def test_a_thousand_operations_keep_the_width_round_ticks_and_one_legend_line_per_kind():
    from mqspec.conformance.concurrency.timeline import WIDTH

    from .test_timeline_browser import _history

    history, anomalies = _history(1000)
    root, groups = drawn(render_svg(history, anomalies, limit=1000))
    assert len(groups) == 1000 and int(root.get("width")) <= WIDTH
    ticks = [int(t.text) for t in root.iter(f"{NS}text") if "tick" in (t.get("class") or "")]
    # Every 2 events in the zoomed window, every 200 outside it.
    zoomed = [t for t in ticks if t < 100]
    assert ticks[0] == 0 and len(zoomed) > 5 and all(t % 2 == 0 for t in zoomed), ticks
    assert all(t % 200 == 0 for t in ticks if t >= 100), ticks
    legend = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "legend"]
    assert legend == [
        f"MQ-RESERVE-3, {len(anomalies)} anomalies, the first: two reserves returned 'c2-10' "
        "(ops 10, 11)"
    ]
    caption = next(t.text for t in root.iter(f"{NS}text") if t.get("class") == "caption")
    assert "MQ-RESERVE-3" not in caption and "zoomed on the first anomaly" in caption


def test_the_page_lists_anomalies_of_one_kind_in_one_row_with_their_count():
    from .test_timeline_browser import _history

    history, anomalies = _history(200)
    page = render_html(history, anomalies)
    root = ET.fromstring(page[page.index("<html") :])
    rows = root.findall(".//tr")[1:]
    assert len(rows) == 1
    cells = rows[0].findall("td")
    assert cells[0].text == "MQ-RESERVE-3 (MUST)" and cells[1].text == str(len(anomalies))
    assert f"(and {len(anomalies) - 3} more of this kind)" in "".join(cells[2].itertext())
