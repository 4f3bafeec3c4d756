"""Tests of ``mqspec check`` (mqspec.conformance.frontends.cli) through click's CliRunner.

Exit codes (0 conforms, 1 diverges, 2 could not run), the lines that matter (verdict, report
path, the one-line cause) and the report directory. Every test runs in a scratch current
directory with a small profile (monkeypatched over "quick"); backends that break on purpose
are injected as a fake module reached through ``py:`` URLs.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis.configuration import set_hypothesis_home_dir

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import EmptyIsError
from mqspec.conformance.core import engine
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.frontends.cli import main

SMALL = Profile("quick", examples=10, steps=15)
STAMP = r"\d{8}T\d{6}Z"


class TickFails(MemoryQueue):
    """Opens fine, then cannot be driven: the run ends with verdict error."""

    def tick(self, now):
        raise OSError("ticker died")


def boom(**options):
    raise RuntimeError("no server on port 1")


@pytest.fixture(autouse=True)
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)
    monkeypatch.chdir(tmp_path)
    fakes = types.ModuleType("mqspec_cli_fakes")
    fakes.empty_is_error = EmptyIsError  # type: ignore[attr-defined]
    fakes.boom = boom  # type: ignore[attr-defined]
    fakes.tick_fails = TickFails  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mqspec_cli_fakes", fakes)
    # The CLI points Hypothesis's home at the user's cache, process-wide; keep that inside
    # this test so the next test in this worker sees Hypothesis as it was.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield tmp_path
    set_hypothesis_home_dir(None)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def lines(text: str) -> list[str]:
    return text.splitlines()


def report_dir(out) -> Path:
    last = lines(out.stdout)[-1]
    assert last.startswith("report: ")
    return Path(last.removeprefix("report: "))


# -- exit 0 ------------------------------------------------------------------------------------


def test_memory_conforms_and_prints_verdict_and_report_path():
    out = invoke("check", "memory://")
    assert out.exit_code == 0, out.output
    got = lines(out.stdout)
    assert got[0] == "checking memory:// (profile quick, seed 0)"
    assert re.fullmatch(r"verdict: conforms \(\d+ pass, .*\) \(\d+\.\d+s\)", got[-2])
    assert re.fullmatch(rf"report: reports/memory-{STAMP}", got[-1])
    assert "MQ-ORDER-1    MUST    pass    " in got
    assert out.stderr == ""
    directory = report_dir(out)
    assert {p.name for p in directory.iterdir()} == {"report.json", "report.md", "junit.xml"}
    data = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    assert (data["verdict"], data["url"], data["strict"]) == ("conforms", "memory://", False)


def test_report_option_names_the_directory(tmp_path):
    out = invoke("check", "memory://", "--report", "out/run 1", "--seed", "4")
    assert out.exit_code == 0
    assert lines(out.stdout)[-1] == "report: out/run 1"
    data = json.loads((tmp_path / "out" / "run 1" / "report.json").read_text(encoding="utf-8"))
    assert data["seed"] == 4


def test_no_report_writes_nothing(tmp_path):
    out = invoke("check", "memory://", "--no-report")
    assert out.exit_code == 0
    assert re.fullmatch(r"verdict: conforms \(\d+ pass, .*\) \(\d+\.\d+s\)", lines(out.stdout)[-1])
    assert list(tmp_path.iterdir()) == []


def test_default_run_checks_scratch_sqlite_and_replays_elsewhere():
    out = invoke("check")
    assert out.exit_code == 0, out.output
    assert re.fullmatch(
        r"checking sqlite:///\S+/queue\.db \(profile quick, seed 0\)", lines(out.stdout)[0]
    )
    assert re.fullmatch(rf"report: reports/sqlite-{STAMP}", lines(out.stdout)[-1])


# -- exit 1 ------------------------------------------------------------------------------------


def test_broken_adapter_diverges_with_the_clause_in_the_summary():
    out = invoke("check", "py:mqspec_cli_fakes:empty_is_error")
    assert out.exit_code == 1, out.output
    got = lines(out.stdout)
    assert "MQ-RESERVE-1  MUST    FAIL    reserve failed" in got
    assert "MQ-RESERVE-1 (MUST): reserve failed" in got
    assert re.fullmatch(r"verdict: diverges \(\d+ pass, 1 fail, .*\) \(\d+\.\d+s\)", got[-2])
    assert re.fullmatch(rf"report: reports/py-empty_is_error-{STAMP}", got[-1])
    directory = report_dir(out)
    assert (directory / "divergence-1.jsonl").is_file()
    assert (directory / "divergence-1_test.py").is_file()
    markdown = (directory / "report.md").read_text(encoding="utf-8")
    assert f"Replay: `mqspec replay {directory / 'divergence-1.jsonl'}`" in lines(markdown)
    replayed = invoke("replay", str(directory / "divergence-1.jsonl"))
    assert replayed.exit_code == 1


@pytest.mark.slow
@pytest.mark.usefixtures("short_shrinking")  # the report's replay line, not the program
def test_strict_run_puts_strict_in_the_replay_command(tmp_path):
    url = "py:mqspec.adapters.selftest.mutants:RestoreToTail"
    out = invoke("check", url, "--strict", "--report", "r")
    assert out.exit_code == 1
    markdown = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert re.search(r"^Replay: `mqspec replay r/divergence-\d+\.jsonl --strict`$", markdown, re.M)


# -- exit 2 ------------------------------------------------------------------------------------


def could_not_run(out, cause: str) -> None:
    assert out.exit_code == 2, out.output
    assert out.stderr == cause + "\n"


def test_unknown_scheme():
    out = invoke("check", "nope://x")
    could_not_run(
        out,
        "mqspec: cannot check nope://x: unknown queue URL scheme 'nope' in 'nope://x'; known: "
        "memory:, sqlite:, py:, exec:, redis:, postgresql:, postgres:, mysql:, mariadb:",
    )
    assert re.fullmatch(rf"report: reports/nope-x-{STAMP}", out.stdout.strip())
    data = json.loads((report_dir(out) / "report.json").read_text(encoding="utf-8"))
    assert (data["verdict"], data["adapter"], data["clauses"]) == ("error", None, [])
    assert data["error"].startswith("unknown queue URL scheme 'nope'")


def test_sqlite_in_a_missing_directory(tmp_path):
    missing = tmp_path / "missing"
    url = f"sqlite://{missing / 'q.db'}"
    could_not_run(
        invoke("check", url, "--no-report"),
        f"mqspec: cannot check {url}: cannot open SQLite queue file '{missing / 'q.db'}': "
        f"directory '{missing}' does not exist",
    )


def test_factory_that_raises_on_open():
    could_not_run(
        invoke("check", "py:mqspec_cli_fakes:boom", "--no-report"),
        "mqspec: cannot check py:mqspec_cli_fakes:boom: 'py:mqspec_cli_fakes:boom': the factory "
        "raised RuntimeError: no server on port 1",
    )


def test_adapter_that_breaks_mid_run_still_gets_a_report():
    out = invoke("check", "py:mqspec_cli_fakes:tick_fails")
    could_not_run(
        out,
        "mqspec: cannot check py:mqspec_cli_fakes:tick_fails: the adapter's tick(1.0) failed: "
        "OSError: ticker died",
    )
    data = json.loads((report_dir(out) / "report.json").read_text(encoding="utf-8"))
    assert data["verdict"] == "error"
    assert data["error"] == "the adapter's tick(1.0) failed: OSError: ticker died"


def test_report_directory_that_cannot_be_created(tmp_path):
    (tmp_path / "taken").write_text("a file, not a directory")
    out = invoke("check", "memory://", "--report", "taken/sub")
    could_not_run(out, "mqspec: cannot create report directory 'taken/sub': Not a directory")
    assert out.stdout == ""  # nothing ran


def test_report_and_no_report_together():
    could_not_run(
        invoke("check", "memory://", "--report", "x", "--no-report"),
        "mqspec: --report and --no-report contradict each other; give one",
    )


# -- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["0 conforms", "1 a clause is broken", "2 could not run"]),
        (
            ["check", "--help"],
            ["Exit codes: 0 conforms", "1 diverges", "2 could not run", "--report", "--no-report"],
        ),
        (
            ["replay", "--help"],
            [
                "Exit codes: 0 no divergence (fixed)",
                "1 a divergence",
                "2 FILE is not a transcript",
                "--url",
                "--strict",
            ],
        ),
    ],
)
def test_help_explains_exit_codes(args, expected):
    out = invoke(*args)
    assert out.exit_code == 0
    flat = " ".join(out.stdout.split())
    for phrase in expected:
        assert phrase in flat


def test_python_dash_m_mqspec_runs_the_command():
    """``python -m mqspec`` is the ``mqspec`` command (for a venv whose scripts are not on PATH)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mqspec", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: mqspec ")
    assert "check" in done.stdout and "selftest" in done.stdout


def test_the_verdict_line_states_what_it_rests_on():
    """A ``conforms`` names the clauses that apply but were not exercised, so it cannot hide
    them: memory:// declares neither durability nor tokens (not applicable), and the quick
    profile injects no faults (MQ-LOSS-2, MQ-LOSS-3 not exercised)."""
    out = invoke("check", "memory://", "--no-report")
    assert out.exit_code == 0, out.output
    (verdict,) = [line for line in lines(out.output) if line.startswith("verdict: ")]
    assert re.fullmatch(
        r"verdict: conforms \(\d+ pass, 4 not applicable, 2 not exercised: MQ-LOSS-2, "
        r"MQ-LOSS-3\) \(\d+\.\ds\)",
        verdict,
    ), verdict


def test_require_all_exits_1_when_a_must_that_applies_was_not_exercised():
    out = invoke("check", "memory://", "--no-report", "--require-all")
    assert out.exit_code == 1, out.output
    assert "--require-all: 1 MUST clause that apply were not exercised:" in out.output
    assert "  MQ-LOSS-2: needs injected faults: run --profile faults" in out.output
    # MQ-LOSS-3 is a SHOULD and MQ-DURABLE-1 does not apply to memory://: neither is listed.
    assert "MQ-LOSS-3:" not in out.output and "MQ-DURABLE-1:" not in out.output


def test_require_all_passes_when_every_must_that_applies_was_exercised(monkeypatch):
    # The faults profile injects faults that cut operations: MQ-LOSS-2 is exercised.
    monkeypatch.setitem(engine.PROFILES, "faults", Profile("faults", 10, 15, faults=True))
    out = invoke("check", "memory://", "--profile", "faults", "--no-report", "--require-all")
    assert out.exit_code == 0, out.output
    assert "not exercised:" not in out.output


def test_report_json_says_what_the_verdict_rests_on():
    out = invoke("check", "memory://", "--report", "r")
    assert out.exit_code == 0, out.output
    data = json.loads(Path("r/report.json").read_text())
    assert data["not_exercised"] == ["MQ-LOSS-2", "MQ-LOSS-3"]
    assert data["basis"].endswith("2 not exercised: MQ-LOSS-2, MQ-LOSS-3")
    by_id = {c["id"]: c for c in data["clauses"]}
    assert by_id["MQ-TOKEN-1"]["applicable"] is False  # memory:// declares no tokens
    assert by_id["MQ-LOSS-2"]["applicable"] is True and by_id["MQ-LOSS-2"]["status"] == "skip"
    assert "- rests on: " + data["basis"] in Path("r/report.md").read_text()


def test_dash_h_is_help_for_every_command():
    for args in (["-h"], ["check", "-h"], ["selftest", "-h"], ["replay", "-h"]):
        out = invoke(*args)
        assert out.exit_code == 0, (args, out.output)
        assert out.output.startswith("Usage: "), args


def test_check_help_names_every_url_scheme_with_an_example():
    from mqspec.adapters.registry import SCHEMES

    out = invoke("check", "--help")
    assert out.exit_code == 0
    for scheme in SCHEMES:
        assert f"{scheme}:" in out.output or f"(also {scheme}://)" in out.output, scheme


def test_examples_and_steps_resize_the_profile_and_the_report_keeps_its_name():
    out = invoke("check", "memory://", "--examples", "3", "--steps", "4", "--report", "r")
    assert out.exit_code == 0, out.output
    data = json.loads(Path("r/report.json").read_text())
    assert data["profile"] == "quick"
    assert re.search(r"\] state machine, 3 examples: ok$", out.output, re.M), out.output


def test_a_check_writes_nothing_in_the_working_directory_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = invoke("check", "memory://", "--no-report")
    assert out.exit_code == 0, out.output
    assert list(work.iterdir()) == []  # no .hypothesis/, no reports/


def test_junit_xml_writes_the_junit_file_where_asked_even_without_a_report():
    out = invoke("check", "memory://", "--no-report", "--junit-xml", "ci/out/mqspec.xml")
    assert out.exit_code == 0, out.output
    assert "junit: ci/out/mqspec.xml" in out.output
    text = Path("ci/out/mqspec.xml").read_text()
    assert text.startswith("<?xml") and 'name="mqspec memory://"' in text
    assert sorted(p.name for p in Path().iterdir()) == ["ci"]  # no report directory


def test_an_unwritable_junit_path_exits_2_before_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = invoke("check", "memory://", "--no-report", "--junit-xml", str(blocker / "x.xml"))
    assert out.exit_code == 2
    assert "cannot write --junit-xml" in out.output
    assert "checking memory://" not in out.output  # refused before anything ran


def test_declared_capabilities_are_printed_as_json_not_python():
    out = invoke("check", "memory://", "--report", "r")
    (declared,) = [line for line in lines(out.output) if line.startswith("declared: ")]
    caps = json.loads(declared.removeprefix("declared: "))
    assert caps["virtual_time"] is True and caps["max_jobs"] is None
    report = Path("r/report.md").read_text()
    assert "| virtual_time | `true` |" in report and "| max_jobs | `null` |" in report
    assert "`True`" not in report and "`None`" not in report


# -- several profiles in one run ---------------------------------------------------------------


def test_several_profiles_run_each_search_into_one_report_MQ_LOSS_2():
    """--profile quick,faults (or repeated): the scenarios once, then both searches; the
    faults reach MQ-LOSS-2, which quick alone leaves unexercised."""
    out = invoke(
        "check", "memory://", "--profile", "faults", "--profile", "quick", "--report", "r",
        "--examples", "5",
    )
    assert out.exit_code == 0, out.output
    assert lines(out.stdout)[0] == "checking memory:// (profile faults,quick, seed 0)"
    phases = [line for line in lines(out.stdout) if "] state machine" in line]
    assert len(phases) == 2 and "with faults" in phases[0] and "with faults" not in phases[1]
    assert sum("] scenario MQ-ORDER-1 " in line for line in lines(out.stdout)) == 1
    data = json.loads(Path("r/report.json").read_text())
    assert data["profile"] == "faults,quick"
    status = {c["id"]: c["status"] for c in data["clauses"]}
    assert status["MQ-LOSS-2"] == "pass"


def test_full_runs_quick_faults_and_concurrency():
    out = invoke("check", "memory://", "--profile", "full", "--no-report", "--examples", "3")
    assert out.exit_code == 0, out.output
    assert lines(out.stdout)[0] == "checking memory:// (profile full, seed 0)"
    text = out.stdout
    assert "] state machine, 3 examples: ok" in text
    assert "] state machine with faults, 3 examples" in text
    assert re.search(r"\] concurrency, \d+ histories", text), text


def test_an_unknown_profile_among_several_exits_2_naming_it():
    out = invoke("check", "memory://", "--profile", "quick,fast")
    assert out.exit_code == 2
    assert "unknown profile 'fast'; known: quick, thorough" in out.output


# -- the heartbeat -----------------------------------------------------------------------------


class _SlowReserve(MemoryQueue):
    """A correct queue whose Reserve takes 2 ms: a run long enough to need a heartbeat."""

    def reserve(self, now):
        import time

        time.sleep(0.002)
        return super().reserve(now)


def test_a_long_phase_gets_a_heartbeat_line_and_zero_turns_it_off(monkeypatch):
    monkeypatch.setattr(sys.modules["mqspec_cli_fakes"], "slow", _SlowReserve, raising=False)
    beat = re.compile(
        r"^  \[ *\d+\.\ds\] running for \d+\.\ds: [\d,]+ cases?, [\d,]+ operations? "
        r"\([\d,]+/s\), (no divergence yet|a divergence found, shrinking it)$"
    )
    out = invoke("check", "py:mqspec_cli_fakes:slow", "--no-report", "--heartbeat", "0.2")
    assert out.exit_code == 0, out.output
    assert any(beat.match(line) for line in lines(out.stdout)), out.output
    quiet = invoke("check", "py:mqspec_cli_fakes:slow", "--no-report", "--heartbeat", "0")
    assert quiet.exit_code == 0
    assert not any("running for" in line for line in lines(quiet.stdout))


def test_the_heartbeat_says_what_ran_between_two_snapshots():
    from mqspec.conformance.core.progress import ProgressSnapshot
    from mqspec.conformance.frontends.console import heartbeat_line

    before = ProgressSnapshot(10.0, operations=100, cases=4, divergences=0)
    after = ProgressSnapshot(40.0, operations=6100, cases=216, divergences=0)
    assert heartbeat_line(before, after) == (
        "running for 30.0s: 212 cases, 6,000 operations (200/s), no divergence yet"
    )
    found = ProgressSnapshot(41.0, operations=6101, cases=217, divergences=3)
    assert heartbeat_line(before, found).endswith("a divergence found, shrinking it")


# -- --only and --skip -------------------------------------------------------------------------


def test_only_a_group_runs_its_scenarios_and_says_the_rest_was_not_selected_MQ_ORDER_1():
    out = invoke("check", "memory://", "--only", "MQ-ORDER", "--report", "r")
    assert out.exit_code == 0, out.output
    ran = [line for line in lines(out.stdout) if "] scenario " in line]
    assert ran and all(" scenario MQ-ORDER-" in line for line in ran)
    assert "MQ-TASK-1     MUST    skip    not selected (--only/--skip)" in lines(out.stdout)
    data = json.loads(Path("r/report.json").read_text())
    assert "MQ-TASK-1" in data["not_selected"] and "MQ-ORDER-1" not in data["not_selected"]
    assert data["not_exercised"] == [c for c in data["not_exercised"] if c.startswith("MQ-ORDER")]
    assert "not selected" in data["basis"]


def test_skip_sets_a_known_divergence_aside_and_finds_the_others_MQ_RESERVE_1():
    """EmptyIsError breaks MQ-RESERVE-1; skipped, the run conforms on what it judged, and the
    divergence is shown as set aside, never hidden."""
    broken = invoke("check", "py:mqspec_cli_fakes:empty_is_error", "--no-report")
    assert broken.exit_code == 1
    url = "py:mqspec_cli_fakes:empty_is_error"
    out = invoke("check", url, "--no-report", "--skip", "MQ-RESERVE-1")
    got = lines(out.stdout)
    assert any(line.startswith("set aside (not selected): MQ-RESERVE-1: ") for line in got)
    assert any(line.endswith(": ok (MQ-RESERVE-1 set aside: not selected)") for line in got)
    assert not any(line.startswith("MQ-RESERVE-1 (MUST)") for line in got)
    # Its only bug set aside, the queue conforms on what was judged.
    assert not any("    FAIL    " in line for line in got), out.output
    assert out.exit_code == 0, out.output


def test_require_all_refuses_a_must_left_out_by_skip():
    out = invoke("check", "memory://", "--no-report", "--skip", "reserve", "--require-all")
    assert out.exit_code == 1
    assert "  MQ-RESERVE-1: not selected (--only/--skip)" in lines(out.stdout)


def test_an_unknown_clause_or_group_exits_2_naming_it():
    out = invoke("check", "memory://", "--only", "MQ-ORDR")
    assert out.exit_code == 2
    assert "'MQ-ORDR' names no clause or group" in out.output


def test_colour_on_a_terminal_only_and_never_with_no_color(monkeypatch):
    """CliRunner's color=True stands for a terminal; the default, for a pipe or a file."""
    url = "py:mqspec_cli_fakes:empty_is_error"
    terminal = CliRunner().invoke(main, ["check", url, "--no-report"], color=True)
    assert "\x1b[31m" in terminal.output and "verdict: \x1b[" in terminal.output
    piped = CliRunner().invoke(main, ["check", url, "--no-report"])
    assert "\x1b[" not in piped.output
    monkeypatch.setenv("NO_COLOR", "1")
    plain = CliRunner().invoke(main, ["check", url, "--no-report"], color=True)
    assert "\x1b[" not in plain.output and "verdict: diverges (" in plain.output
