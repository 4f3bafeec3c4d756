"""spec/clauses.toml and spec/contract.md agree both ways.

Every catalogue clause has exactly one ``### MQ-... (LEVEL): title`` heading with the same level
and title, under the ``## AREA`` section of its area and in catalogue order; no heading names an
unknown clause; and every clause ID mentioned anywhere in the contract exists in the catalogue.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from mqspec.reference import CATALOGUE

SPEC = Path(__file__).resolve().parents[2] / "spec"
CONTRACT_TEXT = (SPEC / "contract.md").read_text(encoding="utf-8")
ENTRIES = tomllib.loads((SPEC / "clauses.toml").read_text(encoding="utf-8"))["clause"]
LIVE = [entry for entry in ENTRIES if not entry.get("withdrawn", False)]

CLAUSE_ID = re.compile(r"MQ-[A-Z]+-\d+")
HEADING = re.compile(r"^###\s+(MQ-[A-Z]+-\d+)\s+\((MUST|SHOULD|MAY)\):\s+(.+?)\s*$")


def _headings() -> list[tuple[int, str, str, str, str]]:
    """(line, id, level, title, area section) for every '### MQ-' heading in the contract."""
    found = []
    area = ""
    in_fence = False
    for n, line in enumerate(CONTRACT_TEXT.splitlines(), 1):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("## "):
            area = line[3:].strip()
        if line.startswith("### MQ-"):
            match = HEADING.match(line)
            assert match, f"contract.md:{n}: malformed clause heading {line!r}"
            found.append((n, *match.groups(), area))
    return found


HEADINGS = _headings()


def test_the_model_loads_the_same_catalogue() -> None:
    assert [e["id"] for e in ENTRIES] == list(CATALOGUE)


@pytest.mark.parametrize("entry", LIVE, ids=[e["id"] for e in LIVE])
def test_every_clause_has_exactly_one_matching_heading(entry: dict[str, str]) -> None:
    matches = [h for h in HEADINGS if h[1] == entry["id"]]
    assert len(matches) == 1, f"{entry['id']}: {len(matches)} headings in contract.md"
    line, _, level, title, area = matches[0]
    assert level == entry["level"], f"contract.md:{line}: level {level}, catalogue {entry['level']}"
    assert title == entry["title"], f"contract.md:{line}: title differs from the catalogue"
    assert area == entry["id"].split("-")[1], f"contract.md:{line}: under '## {area}'"


def test_no_heading_names_an_unknown_clause() -> None:
    known = {e["id"] for e in ENTRIES}
    unknown = [(line, cid) for line, cid, *_ in HEADINGS if cid not in known]
    assert not unknown, f"headings for clauses not in clauses.toml: {unknown}"


def test_headings_follow_catalogue_order() -> None:
    order = [e["id"] for e in LIVE]
    assert [cid for _, cid, *_ in HEADINGS if cid in order] == order


def test_every_mentioned_clause_exists() -> None:
    known = {e["id"] for e in ENTRIES}
    unknown = sorted(
        {
            (n, cid)
            for n, line in enumerate(CONTRACT_TEXT.splitlines(), 1)
            for cid in CLAUSE_ID.findall(line)
            if cid not in known
        }
    )
    assert not unknown, f"clause IDs mentioned but not in clauses.toml: {unknown}"
