# ruff: noqa: E501
"""Print the counts and the table of not-killed mutants for reports/mutation.md.

    python bench/mutation/render.py WORKDIR_MEMORY WORKDIR_SQLITE

Uses summarize.mutants (the mutmut cache) and judgements.judge.
"""

from __future__ import annotations

import sys
from collections import Counter

from judgements import judge  # same folder
from summarize import mutants

KILLED = ("killed", "timeout", "suspicious")


def main() -> None:
    rows = []
    totals: Counter[str] = Counter()
    for workdir, path in zip(
        sys.argv[1:3], ("adapters/memory.py", "adapters/sqlite.py"), strict=True
    ):
        items = mutants(workdir, path, workdir)
        status = Counter(str(i["status"]) for i in items)
        cats: Counter[str] = Counter()
        for item in items:
            if item["status"] in KILLED or item["status"] == "untested":
                continue
            cat, why = judge(path, int(item["line"]), str(item["after"]))
            cats[cat] += 1
            rows.append((path, item, cat, why))
        # K: reported "survived" by mutmut 2 although the test failed (exit code other than 1).
        killed = sum(status[s] for s in KILLED) + cats["K"]
        n = len(items) - status["untested"]
        print(f"{path}: {len(items)} mutants, {n} tried: {dict(status)}; judged: {dict(cats)}")
        eq = cats["E"]
        contract = n - eq - cats["C"] - cats["O"]
        print(
            f"  strict score killed/(tried-E) = {killed}/{n - eq} = {killed / max(1, n - eq):.1%}"
        )
        print(
            f"  contract score killed/(tried-E-C-O) = {killed}/{contract} = {killed / max(1, contract):.1%}"
        )
        totals.update(
            {"tried": n, "killed": killed, **cats, **{f"s_{k}": v for k, v in status.items()}}
        )
    n, k = totals["tried"], totals["killed"]  # killed already includes K
    print(f"both: {dict(totals)}")
    print(f"  strict {k}/{n - totals['E']} = {k / max(1, n - totals['E']):.1%}")
    contract = n - totals["E"] - totals["C"] - totals["O"]
    print(f"  contract {k}/{contract} = {k / max(1, contract):.1%}")
    print()
    print("| file | id | line | status | mutated line | judgement | why |")
    print("|---|---|---|---|---|---|---|")
    for path, item, cat, why in rows:
        after = str(item["after"]).replace("|", "\\|")
        if len(after) > 90:
            after = after[:87] + "..."
        name = path.split("/")[-1]
        print(
            f"| {name} | {item['id']} | {item['line']} | {item['status']} | `{after}` | {cat} | {why} |"
        )


if __name__ == "__main__":
    main()
