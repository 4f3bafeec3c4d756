"""Tests of the report files (mqspec.conformance.frontends.reports): report.json, report.md,
junit.xml.

Runs use a small profile (monkeypatched over "quick"); what is tested is the files, not the
suite's power. report.json is checked against the field tables in reports/README.md, both ways,
so the schema and its documentation cannot drift apart.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import EmptyIsError, RestoreToTail
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import RunFinished
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import Divergence, RunResult
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.frontends.junit import render_junit
from mqspec.conformance.frontends.render import render_divergence
from mqspec.conformance.frontends.reports import (
    REPORT_FORMAT,
    REPORT_VERSION,
    ReportWriter,
    adapter_slug,
    default_report_dir,
    report_data,
)
from mqspec.reference.clauses import CATALOGUE
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Finding

SMALL = Profile("quick", examples=10, steps=15)
STARTED = datetime(2026, 11, 27, 21, 0, 0, tzinfo=UTC)
README = Path(__file__).resolve().parents[2] / "reports" / "README.md"
LIVE = [c for c in CATALOGUE.values() if not c.withdrawn]


@pytest.fixture(autouse=True)
def small_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)


def result_of(adapter, url: str, **options) -> RunResult:
    try:
        last = list(run(adapter, url=url, **options))[-1]
    finally:
        adapter.close()
    assert isinstance(last, RunFinished)
    return last.result


@pytest.fixture(scope="module")
def conforming() -> RunResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(engine.PROFILES, "quick", SMALL)
        return result_of(MemoryQueue(), "memory://")


@pytest.fixture(scope="module")
def diverging() -> RunResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(engine.PROFILES, "quick", SMALL)
        return result_of(EmptyIsError(), "py:mqspec.adapters.selftest.mutants:EmptyIsError")


@pytest.fixture(scope="module")
def warning() -> RunResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(engine.PROFILES, "quick", SMALL)
        return result_of(RestoreToTail(), "py:mqspec.adapters.selftest.mutants:RestoreToTail")


def write(result: RunResult, directory: Path) -> dict:
    writer = ReportWriter(directory, STARTED)
    writer.start()
    writer.handle_event(RunFinished(result))
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


# -- the files ---------------------------------------------------------------------------------


def test_conforming_run_writes_the_three_reports_and_no_reproducer(conforming, tmp_path):
    data = write(conforming, tmp_path / "r")
    assert files_in(tmp_path / "r") == {"report.json", "report.md", "junit.xml"}
    assert data["verdict"] == "conforms"
    assert data["error"] is None
    assert data["divergences"] == []


def test_diverging_run_writes_a_replayable_transcript_and_a_pytest_file(diverging, tmp_path):
    data = write(diverging, tmp_path)
    assert files_in(tmp_path) == {
        "report.json",
        "report.md",
        "junit.xml",
        "divergence-1.jsonl",
        "divergence-1_test.py",
    }
    (entry,) = data["divergences"]
    assert entry["clause"] == "MQ-RESERVE-1"
    assert entry["files"] == {"transcript": "divergence-1.jsonl", "pytest": "divergence-1_test.py"}
    (divergence,) = diverging.divergences
    text = (tmp_path / "divergence-1.jsonl").read_text(encoding="utf-8")
    assert Transcript.from_jsonl(text) == divergence.transcript
    assert entry["program"] == [s.to_json() for s in divergence.transcript.steps]
    source = (tmp_path / "divergence-1_test.py").read_text(encoding="utf-8")
    compile(source, "divergence-1_test.py", "exec")
    assert source == divergence.transcript.to_pytest()


def test_report_json_header_and_run_fields(diverging, tmp_path):
    data = write(diverging, tmp_path)
    assert data["format"] == REPORT_FORMAT == "mqspec-report"
    assert data["version"] == REPORT_VERSION == 1
    assert data["verdict"] == "diverges"
    assert data["url"] == "py:mqspec.adapters.selftest.mutants:EmptyIsError"
    assert data["adapter"] == EmptyIsError().capabilities.to_json()
    assert set(data["versions"]) == {"mqspec", "python", "hypothesis", "platform"}
    assert all(isinstance(v, str) and v for v in data["versions"].values())
    assert (data["profile"], data["seed"], data["strict"]) == ("quick", 0, False)
    assert data["started_at"] == "2026-11-27T21:00:00Z"
    assert isinstance(data["duration_s"], float) and data["duration_s"] >= 0
    assert sum(data["counts"].values()) == len(LIVE)


# -- report.json against reports/README.md -----------------------------------------------------


def documented(start: str, end: str) -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(start) : text.index(end, text.index(start))]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))


TOP = documented("## `report.json`", "A **clause object**")
CLAUSE = documented("A **clause object**", "A **finding object**")
FINDING = documented("A **finding object**", "A **step object**")

TYPES = {
    "format": str,
    "version": int,
    "verdict": str,
    "url": str,
    "versions": dict,
    "profile": str,
    "seed": int,
    "strict": bool,
    "started_at": str,
    "duration_s": float,
    "counts": dict,
    "basis": str,
    "not_exercised": list,
    "clauses": list,
    "divergences": list,
    "warnings": list,
    "concurrency": (dict, type(None)),
    "faults": (dict, type(None)),
}


def test_readme_documents_every_field_and_only_those(conforming, tmp_path):
    assert len(TOP) == 22  # the parse found the whole table
    data = write(conforming, tmp_path)
    assert set(data) == TOP
    assert set(data["clauses"][0]) == CLAUSE


def test_report_json_types_match_the_documentation(warning, tmp_path):
    data = write(warning, tmp_path)
    for field, kind in TYPES.items():
        assert isinstance(data[field], kind), field
    assert data["verdict"] in ("conforms", "diverges", "error")
    assert data["error"] is None or isinstance(data["error"], str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["started_at"])
    assert set(data["counts"]) == {"pass", "fail", "warn", "skip"}
    for item in data["clauses"]:
        assert set(item) == CLAUSE
        assert item["status"] in ("pass", "fail", "warn", "skip")
        assert item["level"] in ("MUST", "SHOULD", "MAY")
        assert isinstance(item["applicable"], bool)
        assert item["applicable"] or item["status"] == "skip"  # only a skip can be out of reach
    gaps = [c["id"] for c in data["clauses"] if c["status"] == "skip" and c["applicable"]]
    assert set(data["not_exercised"]) <= set(gaps)
    for item in data["divergences"] + data["warnings"]:
        assert set(item) == FINDING
        assert all(isinstance(item[k], str) for k in FINDING - {"program", "files"})
        assert (item["files"] is None) == (item["program"] == [])


def test_clauses_in_catalogue_order_and_every_skip_has_a_reason(conforming, tmp_path):
    data = write(conforming, tmp_path)
    assert [c["id"] for c in data["clauses"]] == [c.id for c in LIVE]
    skips = [c for c in data["clauses"] if c["status"] == "skip"]
    assert skips
    assert all(c["reason"].strip() for c in skips)
    assert {c["id"]: c["reason"] for c in skips}["MQ-LOSS-2"] == (
        "needs injected faults: run --profile faults"
    )


def test_a_warning_without_program_has_no_files(warning, tmp_path):
    data = write(warning, tmp_path)
    (entry,) = [w for w in data["warnings"] if w["clause"] == "MQ-RESTORE-3"]
    assert entry["level"] == "SHOULD"
    assert {c["id"]: c["status"] for c in data["clauses"]}["MQ-RESTORE-3"] == "warn"


def test_error_run_still_gets_a_report(tmp_path):
    result = RunResult(
        url="nope://x",
        capabilities=None,
        profile="quick",
        seed=0,
        strict=False,
        duration=0.0,
        clauses=(),
        divergences=(),
        warnings=(),
        error="unknown queue URL scheme 'nope'",
    )
    data = write(result, tmp_path)
    assert (data["verdict"], data["error"], data["adapter"]) == (
        "error",
        "unknown queue URL scheme 'nope'",
        None,
    )
    assert data["clauses"] == []
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    (case,) = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("mqspec.run", "run")
    assert case.find("error").get("message") == "unknown queue URL scheme 'nope'"
    assert suite.get("errors") == "1"
    assert "The backend did not open" in (tmp_path / "report.md").read_text(encoding="utf-8")


# -- junit.xml ---------------------------------------------------------------------------------


def junit(result: RunResult, tmp_path: Path) -> ET.Element:
    write(result, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite


def test_junit_one_testcase_per_clause(conforming, tmp_path):
    suite = junit(conforming, tmp_path)
    cases = [c for c in suite.findall("testcase") if c.get("classname") != "mqspec.search"]
    assert [c.get("name") for c in cases] == [f"{c.id} {c.title}" for c in LIVE]
    assert [c.get("classname") for c in cases] == [f"mqspec.{c.area}" for c in LIVE]
    assert suite.get("tests") == str(len(LIVE) + len(conforming.phases))
    assert suite.get("failures") == "0"


def test_junit_testcases_carry_their_time_and_each_search_has_one(conforming, tmp_path):
    suite = junit(conforming, tmp_path)
    clauses = {c.get("name").split()[0]: c for c in suite.findall("testcase")}
    # The scenarios' time is shared out among their clauses; a clause no scenario covers
    # took none.
    scenarios = sum(c.seconds for c in conforming.clauses)
    assert scenarios > 0
    assert sum(float(c.get("time")) for c in clauses.values() if c.get("name")[0] == "M") == (
        pytest.approx(scenarios, abs=0.03)
    )
    assert float(clauses["MQ-LOSS-2"].get("time")) == 0
    (search,) = [c for c in suite.findall("testcase") if c.get("classname") == "mqspec.search"]
    assert search.get("name") == "1 stateful on the virtual clock"
    assert float(search.get("time")) == pytest.approx(conforming.phases[0].seconds, abs=1e-3)
    assert search.find("system-out").text == "found nothing" and search.find("failure") is None


def test_junit_failure_carries_the_rendered_divergence(diverging, tmp_path):
    suite = junit(diverging, tmp_path)
    failed = {
        c.get("name").split()[0]: c
        for c in suite.findall("testcase")
        if c.find("failure") is not None
    }
    assert list(failed) == ["MQ-RESERVE-1"]
    failure = failed["MQ-RESERVE-1"].find("failure")
    assert failure.get("message") == "MQ-RESERVE-1 (MUST): reserve failed"
    assert failure.text == render_divergence(diverging.divergences[0])
    assert suite.get("failures") == "1"


def test_junit_skips_carry_their_reason(diverging, tmp_path):
    suite = junit(diverging, tmp_path)
    reasons = {c.clause.id: c.reason for c in diverging.clauses if c.status == "skip"}
    skipped = {
        c.get("name").split()[0]: c.find("skipped").get("message")
        for c in suite.findall("testcase")
        if c.find("skipped") is not None
    }
    assert skipped == reasons
    assert suite.get("skipped") == str(len(reasons))


def test_junit_warning_passes_with_system_out(warning, tmp_path):
    suite = junit(warning, tmp_path)
    (case,) = [c for c in suite.findall("testcase") if c.get("name").startswith("MQ-RESTORE-3 ")]
    assert case.find("failure") is None and case.find("skipped") is None
    assert case.find("system-out").text.startswith("warning: MQ-RESTORE-3 (SHOULD): ")


def test_junit_is_valid_xml_whatever_the_backend_said(diverging):
    bad = diverging.divergences[0]
    finding = Finding(bad.clause, 'nul \x00 <&> "q" \x1b end')
    result = attrs.evolve(diverging, divergences=(Divergence(finding, "stateful", None),))
    text = render_junit(result, started_at=STARTED)
    failure = next(e for e in ET.fromstring(text).iter("failure"))
    assert failure.text == 'MQ-RESERVE-1 (MUST): nul \\x00 <&> "q" \\x1b end\n  found by: stateful'


# -- report.md ---------------------------------------------------------------------------------


def test_markdown_has_verdict_capabilities_table_and_replay_command(diverging, tmp_path):
    write(diverging, tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# mqspec report: diverges"
    assert "| reservation_tokens | `false` |" in lines
    assert "| clause | level | status | title | note |" in lines
    assert (
        "| MQ-RESERVE-1 | MUST | fail | Reserve never blocks and never fails for an empty queue: "
        "it returns null | reserve failed |"
    ) in lines
    assert f"Replay: `mqspec replay {tmp_path / 'divergence-1.jsonl'}`" in lines
    assert diverging.divergences[0].transcript.listing().splitlines()[0] in text


# -- naming and the directory ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        (None, "sqlite"),
        ("memory://", "memory"),
        ("memory://?tokens=1", "memory"),
        ("sqlite:///var/tmp/q.db?queue=x", "sqlite-q"),
        ("sqlite:q.db", "sqlite-q"),
        ("py:mqspec.adapters.selftest.mutants:EmptyIsError", "py-EmptyIsError"),
        ("redis://user:secret@cache:6379/0", "redis-cache"),
        ("exec:./bin/driver --fast", "exec-driver"),
        ("nope://x", "nope-x"),
        ("weird scheme:zz", "weird-scheme"),
    ],
)
def test_adapter_slug(url, slug):
    assert adapter_slug(url) == slug


def test_default_dir_is_stamped_and_never_reused(tmp_path):
    first = default_report_dir("memory://", STARTED, base=tmp_path)
    assert first == tmp_path / "memory-20261127T210000Z"
    first.mkdir()
    assert default_report_dir("memory://", STARTED, base=tmp_path).name == (
        "memory-20261127T210000Z-2"
    )


def test_start_fails_with_the_cause_when_the_directory_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub"
    with pytest.raises(UsageError, match=r"^cannot create report directory '.*/file/sub': "):
        ReportWriter(target, STARTED).start()


def test_report_data_is_json_serialisable_with_unicode(diverging):
    data = report_data(diverging, started_at=STARTED)
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_a_driver_stderr_tail_keeps_its_lines_indented_under_observed():
    from mqspec.reference.clauses import clause
    from mqspec.reference.types import Finding

    finding = Finding(
        clause("MQ-RESERVE-1"),
        "the backend died during reserve",
        allowed="an answer",
        observed="driver exited with code 3\nstderr tail:\nTraceback (most recent call last):",
    )
    assert finding.render().splitlines()[2:] == [
        "  observed: driver exited with code 3",
        "            stderr tail:",
        "            Traceback (most recent call last):",
    ]
