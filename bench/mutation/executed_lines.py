"""Which source lines of a file the mutation test command executes, statement by statement.

    python bench/mutation/executed_lines.py adapters/memory.py .coverage > executed.json

Reads a coverage.py data file (made by running the test command under ``coverage run``) and
writes the 1-based line numbers of ``path`` that belong to a statement that ran at least once.
A multi-line statement counts as a whole (a continuation line, such as the second line of an SQL
string, has no line event of its own), and for a compound statement (def, if, while, with, ...)
only its header lines count, its body being judged statement by statement.

`mutmut_config.pre_mutation` skips a mutant whose line is not in this set: code the test never
runs cannot kill it, so running it would only cost a full test run. The run reports such mutants
as ``skipped`` and the report counts them as survivors (not killed), never as killed.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

from coverage import Coverage


def executed_lines(path: str, data_file: str) -> set[int]:
    cov = Coverage(data_file=data_file)
    cov.load()
    data = cov.get_data()
    target = os.path.realpath(path)
    hit: set[int] = set()
    for measured in data.measured_files():
        if os.path.realpath(measured) == target:
            hit |= set(data.lines(measured) or ())
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.stmt, ast.excepthandler)):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        fields = ("body", "orelse", "finalbody", "handlers", "cases")
        bodies = [getattr(node, f, None) for f in fields]
        children = [c for b in bodies if isinstance(b, list) for c in b]
        if children:
            # The header: from the first line to the line before the first child statement.
            starts = [getattr(c, "lineno", node.end_lineno) for c in children]
            last = max(first, min(starts) - 1)
        else:
            last = node.end_lineno or node.lineno
        span = set(range(first, last + 1))
        if span & hit:
            out |= span
    # A private module constant runs at import, but if no executed statement reads it (say
    # _TRUE, read only by the URL parser), a mutant of its value cannot change the test either.
    loads: dict[str, set[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.setdefault(node.id, set()).add(node.lineno)
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            private = all(n.startswith("_") and not n.startswith("__") for n in names)
            if names and len(names) == len(targets) and private:
                span = set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                if not any(loads.get(n, set()) & (out - span) for n in names):
                    out -= span
    return out


def main() -> None:
    path, data_file = sys.argv[1], sys.argv[2]
    json.dump({"path": path, "lines": sorted(executed_lines(path, data_file))}, sys.stdout)


if __name__ == "__main__":
    main()
