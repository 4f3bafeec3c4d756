"""Draw a concurrent history as a timeline: one lane per client, one bar per call.

Responsibility: `render_svg` turns a `History` (or the window of it around its anomalies) into
a standalone SVG: each operation is a bar from its invocation to its completion, labelled with
the call and its answer; a call that never returned runs dashed to the right edge; the
operations of the given anomalies are red, and their clause IDs head the picture.
`render_html` wraps that SVG in a page with a table of the anomalies. Both return strings.

Why a picture: an anomaly in a concurrent history is a claim about overlapping windows ("this
Delete completed before that Reserve started"); a timeline shows it at a glance where a list of
timestamps does not. The x axis is the order of the events (every invocation and completion
gets the next slot), not their times: the order is what the checkers reason about, and a
drain that jumps an hour of virtual time would otherwise squash every bar to a line.

Cap: at most ``limit`` operations are drawn, the anomalies' operations first, then their
neighbours in invocation order, so a report of a 10,000-call history stays small.

Every text is escaped for XML, and characters XML cannot carry at all (NUL, lone surrogates)
are shown as Python escapes. Rule: pure string output; imports the history values only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from mqspec.conformance.concurrency.fastcheck import Anomaly
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.reference.types import Failed, Ok, Unknown

__all__ = ["label", "render_html", "render_svg", "select"]

STEP = 22  # pixels per event slot
LANE = 30  # pixels per client lane
BAR = 18
LEFT = 90  # room for the lane names
LABEL = 48  # longest label drawn on a bar (the tooltip has the whole call)


def select(history: History, anomalies: Sequence[Anomaly] = (), *, limit: int = 200) -> list[int]:
    """The operations to draw (indices, in invocation order): at most ``limit``.

    Every anomaly's operations come first (as many as fit); then, in turn around each of them,
    the next operation before and after it in invocation order, until ``limit`` is reached.
    Without anomalies: the first ``limit`` operations.
    """
    ops = history.operations
    order = sorted(range(len(ops)), key=lambda i: (ops[i].invoke, ops[i].client))
    if len(order) <= limit:
        return order
    place = {g: n for n, g in enumerate(order)}
    chosen: set[int] = set()
    centres: list[int] = []
    for anomaly in anomalies:
        for g in anomaly.operations:
            if len(chosen) < limit and 0 <= g < len(ops) and g not in chosen:
                chosen.add(g)
                centres.append(place[g])
    if not centres:
        return order[:limit]
    distance = 1
    while len(chosen) < limit and distance < len(order):
        for centre in centres:
            for n in (centre - distance, centre + distance):
                if 0 <= n < len(order) and len(chosen) < limit:
                    chosen.add(order[n])
        distance += 1
    return sorted(chosen, key=place.__getitem__)


def _clean(text: Any) -> str:
    """``text`` as a string XML can carry: invalid characters become Python escapes."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if (
            code in (0x9, 0xA, 0xD)
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or code >= 0x10000
        ):
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def _x(text: Any, limit: int | None = None) -> str:
    """Escaped for XML text and double-quoted attributes, cut to ``limit`` characters."""
    clean = _clean(text)
    if limit is not None and len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return escape(clean, {'"': "&quot;"})


def _ident(value: Any) -> str:
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    return "null" if value is None else repr(value)


def label(op: Operation) -> str:
    """A short label: ``push j1 p2``, ``reserve → j1``, ``delete j1``, with ``✗``/``?``."""
    if op.op == "push":
        task = op.task if isinstance(op.task, dict) else {}
        delay = f" d{task['delay']}" if task.get("delay") else ""
        text = f"push {_ident(op.task)} p{task.get('priority', '?')}{delay}"
    elif op.op == "reserve":
        name = "drain" if op.drain else "reserve"
        got = f" → {_ident(op.result.value)}" if isinstance(op.result, Ok) else ""
        text = name + got
    else:
        text = f"delete {_ident(op.task)}"
    if isinstance(op.result, Failed):
        text += " ✗"
    elif isinstance(op.result, Unknown):
        text += " ?"
    return text


_STYLE = (
    ".op rect{fill:#cfe0f5;stroke:#4a6fa5}"
    ".op.unknown rect{fill:#eee;stroke:#888;stroke-dasharray:4 3}"
    ".op.error rect{fill:#f6e3b4;stroke:#a5804a}"
    ".op.anomaly rect{fill:#f8c9c4;stroke:#c00;stroke-width:2}"
    "text{font:10px sans-serif}.lane{fill:#555}.legend{fill:#c00;font-size:11px}"
)


def render_svg(
    history: History,
    anomalies: Sequence[Anomaly] = (),
    *,
    limit: int = 200,
    title: str = "mqspec history",
) -> str:
    """A standalone SVG of ``history``: see the module docstring.

    Args:
        history: the operations to draw.
        anomalies: their operations are drawn red (class ``anomaly``), and their clauses are
            listed at the top.
        limit: the most operations drawn (`select`).
        title: the picture's title (escaped).

    Returns:
        The SVG document as a string; each bar is a ``<g class="op ..." data-op="k">`` where k
        is the operation's index in ``history``.
    """
    chosen = select(history, anomalies, limit=limit)
    ops = history.operations
    marked = {g for a in anomalies for g in a.operations}
    points = sorted({t for g in chosen for t in (ops[g].invoke, ops[g].complete) if t is not None})
    slot = {t: n for n, t in enumerate(points)}
    lanes = sorted({ops[g].client for g in chosen})
    lane_of = {c: n for n, c in enumerate(lanes)}
    head = 24 + 16 * (len(anomalies) + 1)
    width = LEFT + STEP * (len(points) + 2) + 40
    height = head + LANE * len(lanes) + 40
    clauses = sorted({a.clause.id for a in anomalies})
    caption = f"{title}: {', '.join(clauses)}" if clauses else title
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{_x(caption)}</title>",
        f"<style>{_STYLE}</style>",
        f'<text x="8" y="16" font-size="13">{_x(caption)} '
        f"({len(chosen)} of {len(ops)} operations; x: order of events, not to scale)</text>",
    ]
    for n, a in enumerate(anomalies, start=1):
        out.append(
            f'<text class="legend" x="8" y="{16 + 16 * n}">[{n}] {_x(a.clause.id)}: '
            f"{_x(a.message, 160)} (ops {_x(', '.join(map(str, a.operations)))})</text>"
        )
    drain_only = {c for c in lanes if all(op.drain for op in ops if op.client == c)}
    for c in lanes:
        y = head + LANE * lane_of[c]
        name = "drain" if c in drain_only else f"client {c}"
        out.append(f'<text class="lane" x="8" y="{y + BAR - 5}">{_x(name)}</text>')
    right = LEFT + STEP * (len(points) + 1)
    for g in chosen:
        op = ops[g]
        x0 = LEFT + STEP * slot[op.invoke]
        x1 = right if op.complete is None else LEFT + STEP * slot[op.complete]
        kinds = ["op"]
        if isinstance(op.result, Unknown):
            kinds.append("unknown")
        elif isinstance(op.result, Failed):
            kinds.append("error")
        if g in marked:
            kinds.append("anomaly")
        y = head + LANE * lane_of[op.client]
        out.append(
            f'<g class="{" ".join(kinds)}" data-op="{g}"><title>#{g} {_x(op.describe(), 400)}'
            f'</title><rect x="{x0}" y="{y}" width="{max(x1 - x0, 6)}" height="{BAR}" rx="3"/>'
            f'<text x="{x0 + 3}" y="{y + BAR - 5}">{_x(label(op), LABEL)}</text></g>'
        )
    axis = head + LANE * len(lanes) + 6
    every = max(1, len(points) // 12)
    for n in range(0, len(points), every):
        out.append(
            f'<text class="lane" x="{LEFT + STEP * n}" y="{axis + 12}">{points[n]:.6g}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(
    history: History,
    anomalies: Sequence[Anomaly] = (),
    *,
    limit: int = 200,
    title: str = "mqspec history",
) -> str:
    """An HTML page: the `render_svg` timeline, then a table of the anomalies.

    The table lists, per anomaly, its clause (ID and level), its message and each operation
    involved (`Operation.describe`); everything is escaped.
    """
    ops = history.operations
    rows = []
    for n, a in enumerate(anomalies, start=1):
        involved = "<br/>".join(
            f"#{g} {_x(ops[g].describe(), 400)}" for g in a.operations if 0 <= g < len(ops)
        )
        rows.append(
            f"<tr><td>{n}</td><td>{_x(a.clause.id)} ({_x(a.clause.level)})</td>"
            f"<td>{_x(a.message)}</td><td>{involved}</td></tr>"
        )
    table = (
        "<table><tr><th>#</th><th>clause</th><th>what</th><th>operations</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p>No anomalies.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{_x(title)}</title><style>body{{font:14px sans-serif}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top;text-align:left}.timeline{overflow-x:auto}</style></head><body>\n"
        f'<h1>{_x(title)}</h1>\n<div class="timeline">\n'
        + render_svg(history, anomalies, limit=limit, title=title)
        + f"</div>\n<h2>Anomalies</h2>\n{table}\n</body></html>\n"
    )
