"""Summarise a mutmut 2 run: counts by status, and every mutant not killed with its one-line diff.

    python bench/mutation/summarize.py WORKDIR adapters/memory.py [SOURCE_ROOT] [--json]

Reads WORKDIR/.mutmut-cache directly (sqlite) and recomputes each mutant from the pristine
source under SOURCE_ROOT (default WORKDIR, where mutmut restores the file after each mutant;
give the checkout while a run is still going), so it also works on a partial run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from mutmut import Context, RelativeMutationID, mutate

STATUS = {
    "ok_killed": "killed",
    "bad_timeout": "timeout",
    "ok_suspicious": "suspicious",
    "bad_survived": "survived",
    "skipped": "skipped",
    "untested": "untested",
}


def mutants(workdir: str, path: str, root: str) -> list[dict[str, object]]:
    db = sqlite3.connect(os.path.join(workdir, ".mutmut-cache"))
    rows = db.execute(
        'SELECT m.id, m.status, m."index", l.line, l.line_number FROM Mutant m'
        " JOIN Line l ON m.line = l.id JOIN SourceFile f ON l.sourcefile = f.id"
        " WHERE f.filename = ? ORDER BY m.id",
        (path,),
    ).fetchall()
    source = Path(root, path).read_text(encoding="utf-8")
    lines = source.splitlines()
    out = []
    for pk, status, index, line, number in rows:
        mid = RelativeMutationID(line=line, index=index, line_number=number)
        mutated, _count = mutate(Context(source=source, mutation_id=mid, filename=path))
        new = mutated.splitlines()
        changed = [
            (i + 1, lines[i] if i < len(lines) else "", new[i] if i < len(new) else "")
            for i in range(max(len(lines), len(new)))
            if (lines[i] if i < len(lines) else None) != (new[i] if i < len(new) else None)
        ]
        out.append(
            {
                "id": pk,
                "status": STATUS.get(status, status),
                "line": number + 1,
                "before": changed[0][1].strip() if changed else line.strip(),
                "after": changed[0][2].strip() if changed else "(no change)",
                "changed_lines": len(changed),
            }
        )
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    workdir, path = args[0], args[1]
    items = mutants(workdir, path, args[2] if len(args) > 2 else workdir)
    if "--json" in sys.argv:
        json.dump(items, sys.stdout, indent=1)
        return
    counts: dict[str, int] = {}
    for item in items:
        counts[str(item["status"])] = counts.get(str(item["status"]), 0) + 1
    print(path, len(items), counts)
    for item in items:
        if item["status"] not in ("killed", "timeout", "suspicious"):
            print(f"{item['id']:>4} {item['status']:<9} L{item['line']:<4} {item['after']}")


if __name__ == "__main__":
    main()
