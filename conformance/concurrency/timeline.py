"""Draw a concurrent history as a timeline: one lane per client, one bar per call.

Responsibility: `render_svg` turns a `History` (or the window of it around its anomalies) into
a standalone SVG: each operation is a bar from its invocation to its completion, labelled with
the call and its answer; a call that never returned runs dashed to its client's next call, or
to the right edge; the
operations of the given anomalies are red, and a legend gives one line per kind of anomaly
(its clause, how many, the first one's message). `render_html` wraps that SVG in a page with
a table of the anomalies, one row per kind. Both return strings.

Why a picture: an anomaly in a concurrent history is a claim about overlapping windows ("this
Delete completed before that Reserve started"); a timeline shows it at a glance where a list of
timestamps does not. The x axis is the order of the events (every invocation and completion
gets the next slot), not their times: the order is what the checkers reason about, and a
drain that jumps an hour of virtual time would otherwise squash every bar to a line. Its ticks
are round event numbers; each bar's tooltip has the call's times.

Readable at any length: the picture is `WIDTH` pixels wide, whatever the history's length.
When the events do not all fit at `STEP` pixels, the window around the first anomaly is drawn
zoomed (shaded) and the rest compressed. A label is drawn only in the room before its lane's
next bar, cut with an ellipsis or left out (the tooltip has it), so labels never overlap.

Cap: at most ``limit`` operations are drawn, the anomalies' operations first, then their
neighbours in invocation order, so a report of a 10,000-call history stays small.

Every text is escaped for XML, and characters XML cannot carry at all (NUL, lone surrogates)
are shown as Python escapes. Rule: pure string output; imports the history values only.
"""

from __future__ import annotations

import bisect
import itertools
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
    ".zoom{fill:#fff8dc}"
)

WIDTH = 1200  # the picture's width, whatever the history's length
CHAR = 6.5  # pixels one character of a 10px label may take at most (a wide glyph)
PAD = 4  # event slots of context either side of the anomalies in the zoomed window


def _scale(slots: int, focus: tuple[int, int] | None) -> list[float]:
    """The x of each event slot (and one past the last) within the fixed width.

    Every slot gets `STEP` pixels when they all fit. Otherwise the slots of ``focus`` (first,
    last), the window around the anomalies, share up to 70 % of the width (at most `STEP`
    each), and the others share the rest: the offending window is drawn zoomed, its labels
    readable, and the whole history still fits.
    """
    room = WIDTH - LEFT - 40
    total = slots + 1
    if STEP * total <= room or focus is None:
        step = min(STEP, room / total)
        return [LEFT + step * n for n in range(total + 1)]
    first, last = focus
    inside = last - first + 1
    wide = min(STEP, room * 0.7 / inside)
    narrow = (room - wide * inside) / max(total - inside, 1)
    xs = [float(LEFT)]
    for n in range(total):
        xs.append(xs[-1] + (wide if first <= n <= last else narrow))
    return xs


def _fit(text: str, room: float) -> str:
    """``text`` cut to what ``room`` pixels hold, with an ellipsis; "" when too little fits."""
    most = int(room // CHAR)
    if len(text) <= most:
        return text
    return text[: most - 1] + "…" if most >= 4 else ""


def _ticks(xs: list[float], points: int) -> list[int]:
    """Round event numbers to label the axis: where the slots are n pixels wide, multiples of
    the smallest 1-2-5 step at least 40 px long (a finer step in the zoomed window), the
    roundest kept first, no two labels closer than 40 px."""
    series = [1, 2, 5]
    while series[-1] < points:
        series += [10 * s for s in series[-3:]]

    def step_at(n: int) -> int:
        wide = xs[n + 1] - xs[n]
        return next((s for s in series if s * wide >= 40), series[-1])

    def roundness(n: int) -> int:
        return max((s for s in series if n % s == 0), default=1)

    candidates = [n for n in range(points) if n % step_at(n) == 0]
    chosen: list[int] = []
    for n in sorted(candidates, key=lambda n: (-roundness(n), n)):
        place = bisect.bisect(chosen, n)
        near = chosen[max(place - 1, 0) : place + 1]
        if all(abs(xs[n] - xs[m]) >= 40 for m in near):
            chosen.insert(place, n)
    return chosen


def _groups(anomalies: Sequence[Anomaly]) -> list[tuple[str, list[Anomaly]]]:
    """The anomalies by clause, in the order each clause first appears."""
    by: dict[str, list[Anomaly]] = {}
    for a in anomalies:
        by.setdefault(a.clause.id, []).append(a)
    return list(by.items())


def render_svg(
    history: History,
    anomalies: Sequence[Anomaly] = (),
    *,
    limit: int = 200,
    title: str = "mqspec history",
) -> str:
    """A standalone SVG of ``history``, `WIDTH` pixels wide: see the module docstring.

    Args:
        history: the operations to draw.
        anomalies: their operations are drawn red (class ``anomaly``), the window around them
            zoomed; the legend gives one line per clause with how many anomalies it has.
        limit: the most operations drawn (`select`).
        title: the picture's title (escaped).

    Returns:
        The SVG document as a string; each bar is a ``<g class="op ..." data-op="k">`` where k
        is the operation's index in ``history``, with a ``<text class="label">`` only where
        the label fits before the lane's next bar (cut with an ellipsis, or left out: the
        bar's tooltip has the whole call).
    """
    chosen = select(history, anomalies, limit=limit)
    ops = history.operations
    marked = {g for a in anomalies for g in a.operations}
    points = sorted({t for g in chosen for t in (ops[g].invoke, ops[g].complete) if t is not None})
    slot = {t: n for n, t in enumerate(points)}
    lanes = sorted({ops[g].client for g in chosen})
    lane_of = {c: n for n, c in enumerate(lanes)}
    groups = _groups(anomalies)
    # Zoom on the first anomaly (the one the legend quotes): with hundreds of them spread
    # over the whole history, a window around all of them would be the whole history.
    first = set(anomalies[0].operations) if anomalies else set()
    focus_slots = [
        slot[t]
        for g in chosen
        if g in first
        for t in (ops[g].invoke, ops[g].complete)
        if t is not None
    ]
    focus = (
        (max(min(focus_slots) - PAD, 0), min(max(focus_slots) + PAD, len(points)))
        if focus_slots
        else None
    )
    xs = _scale(len(points), focus)
    widths = {round(b - a, 6) for a, b in itertools.pairwise(xs)}
    zoomed = focus is not None and len(widths) > 1
    head = 24 + 16 * (len(groups) + 1)
    width = int(max(xs[-1] + 40, 400))
    height = head + LANE * len(lanes) + 44
    clauses = sorted({a.clause.id for a in anomalies})
    how = "zoomed on the first anomaly (shaded)" if zoomed else "not to scale"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        # The clauses go in the document's title; the picture names them once, in the legend.
        f"<title>{_x(title + (': ' + ', '.join(clauses) if clauses else ''))}</title>",
        f"<style>{_STYLE}</style>",
        f'<text class="caption" x="8" y="16" font-size="13">'
        f"{_x(_fit(title, width / 2))} ({len(chosen)} of {len(ops)} operations; x: order of "
        f"events, {how})</text>",
    ]
    room = width - 16
    for n, (clause_id, items) in enumerate(groups, start=1):
        count = f"{len(items)} anomalies" if len(items) > 1 else "1 anomaly"
        shown = ", ".join(map(str, items[0].operations))
        text = f"{clause_id}, {count}: {items[0].message} (ops {shown})"
        if len(items) > 1:
            text = f"{clause_id}, {count}, the first: {items[0].message} (ops {shown})"
        out.append(
            f'<text class="legend" x="8" y="{16 + 16 * n}">{_x(_fit(text, room * 0.92))}</text>'
        )
    if zoomed and focus is not None:
        out.append(
            f'<rect class="zoom" x="{xs[focus[0]]:.1f}" y="{head - 4}" '
            f'width="{xs[focus[1] + 1] - xs[focus[0]]:.1f}" height="{LANE * len(lanes) + 4}"/>'
        )
    drain_only = {c for c in lanes if all(op.drain for op in ops if op.client == c)}
    for c in lanes:
        y = head + LANE * lane_of[c]
        name = "drain" if c in drain_only else f"client {c}"
        out.append(f'<text class="lane" x="8" y="{y + BAR - 5}">{_x(_fit(name, LEFT - 12))}</text>')
    right = xs[len(points)]
    # A label may run until the next bar of its lane begins: lanes are sequential clients.
    starts: dict[int, list[float]] = {}
    for g in chosen:
        starts.setdefault(ops[g].client, []).append(xs[slot[ops[g].invoke]])
    for c in starts:
        starts[c].sort()
    for g in chosen:
        op = ops[g]
        x0 = xs[slot[op.invoke]]
        later = [x for x in starts[op.client] if x > x0]
        # A call that never returned runs dashed until its client's next call (the client
        # went on without its answer), or to the right edge.
        x1 = (later[0] - 2 if later else right) if op.complete is None else xs[slot[op.complete]]
        kinds = ["op"]
        if isinstance(op.result, Unknown):
            kinds.append("unknown")
        elif isinstance(op.result, Failed):
            kinds.append("error")
        if g in marked:
            kinds.append("anomaly")
        y = head + LANE * lane_of[op.client]
        limit_x = min(later[0] if later else width - 8, width - 8)
        text = _fit(_clean(label(op))[:LABEL], limit_x - x0 - 6)
        drawn_label = (
            f'<text class="label" x="{x0 + 3:.1f}" y="{y + BAR - 5}">{_x(text)}</text>'
            if text
            else ""
        )
        out.append(
            f'<g class="{" ".join(kinds)}" data-op="{g}"><title>#{g} {_x(op.describe(), 400)}'
            f'</title><rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 2):.1f}" height="{BAR}" '
            f'rx="2"/>{drawn_label}</g>'
        )
    axis = head + LANE * len(lanes) + 6
    out.append(f'<text class="lane" x="8" y="{axis + 12}">event</text>')
    for n in _ticks(xs, len(points)):
        out.append(f'<text class="tick lane" x="{xs[n]:.1f}" y="{axis + 12}">{n}</text>')
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

    The table has one row per kind of anomaly (its clause, ID and level): how many there are,
    the messages of the first three and each operation they involve (`Operation.describe`);
    everything is escaped.
    """
    ops = history.operations
    rows = []
    for clause_id, items in _groups(anomalies):
        # One row per kind: the first three in full, a count of the rest.
        first = items[0]
        shown = items[:3]
        whats = "<br/>".join(_x(a.message, 400) for a in shown)
        if len(items) > len(shown):
            whats += f"<br/>(and {len(items) - len(shown)} more of this kind)"
        involved = "<br/>".join(
            f"#{g} {_x(ops[g].describe(), 400)}"
            for g in dict.fromkeys(g for a in shown for g in a.operations)
            if 0 <= g < len(ops)
        )
        rows.append(
            f"<tr><td>{_x(clause_id)} ({_x(first.clause.level)})</td><td>{len(items)}</td>"
            f"<td>{whats}</td><td>{involved}</td></tr>"
        )
    table = (
        "<table><tr><th>clause</th><th>count</th><th>what</th><th>operations</th></tr>"
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
