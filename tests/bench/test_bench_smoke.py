"""Every bench script runs: each in a subprocess at the smoke size (`SIZES["smoke"]` of
bench/compare.py, the table `bench/compare.py --size smoke` uses), exits 0 and prints its
figures. The figures themselves are not judged: at this size they mean little.

bench/servers.py needs the servers: it runs on the engines that answer (skipped when none does,
failed when CI is set). bench/compare.py is run too, on this checkout against itself.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ..adapters.servers import MARIADB_URL, POSTGRESQL_URL, REDIS_URL, probe, require

ROOT = Path(__file__).resolve().parents[2]


def _load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", ROOT / "bench" / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPARE = _load_compare()
SMOKE: dict[str, list[str]] = COMPARE.SIZES["smoke"]

# Lines each script's output must hold (multiline regexes): its table rows, with numbers.
NUMBER = r"[\d,]+(?:\.\d+)?"
FIGURES: dict[str, list[str]] = {
    "model_ops": [
        rf"^\s+100\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
        rf"^\s+1000\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
        r"^every verdict allowed, no warning, never inconclusive",
    ],
    "harness_steps": [
        rf"^\s+bare\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
        rf"^\s+harness\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
        r"^harness steps/s as a share of bare: \d+%",
        r"^target: .*: (PASS|MISS)",
    ],
    "driver_overhead": [
        rf"^\s+memory\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+\d+%$",
        rf"^\s+exec python\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+\d+%$",
        rf"^\s+exec python\s+{NUMBER}\s+{NUMBER}$",  # the bare round trips
    ],
    "checker": [
        rf"^\s+2,\d\d\d\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0$",
        rf"^\s+\d+\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+\d+\s+1 Linearizable$",
    ],
    "realclock": [
        r"^  1 worker:\s+\d+ operations,\s+\d+ cases in [\d.]+ s \([\d.]+ s CPU\)$",
        r"^\s+2 workers:\s+\d+ operations,\s+\d+ cases in [\d.]+ s \([\d.]+ s CPU\)$",
        r"^  ratio [\d.]+x \(target >= 10x\): (PASS|MISS)$",
    ],
    "detection": [
        r"^delete-anything\s+\S+\s+1/1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$",
        r"^caught on every seed: 1/1 runs",
        r"^time to first divergence: median [\d.]+ s",
    ],
}
SERVER_ENGINES = {"redis": REDIS_URL, "postgresql": POSTGRESQL_URL, "mariadb": MARIADB_URL}


def run_bench(script: str, args: list[str]) -> str:
    """Run ``bench/<script>.py args`` from the repository root; its output, once it exited 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_bench_script_has_a_smoke_size() -> None:
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"compare"}
    assert scripts == set(SMOKE) == set(FIGURES) | {"servers"}


# The real-clock search sleeps through every reservation (T = 1 s): about 10 s even at the
# smoke size, so it is marked slow.
SLOW = {"realclock"}


@pytest.mark.parametrize(
    "script", [pytest.param(s, marks=[pytest.mark.slow] if s in SLOW else []) for s in FIGURES]
)
def test_bench_script_runs_and_prints_its_figures(script: str) -> None:
    out = run_bench(script, SMOKE[script])
    for pattern in FIGURES[script]:
        assert re.search(pattern, out, re.MULTILINE), f"no line matches {pattern!r}:\n{out}"


@pytest.mark.server
def test_servers_bench_runs_on_every_server_that_answers() -> None:
    up = [name for name, url in SERVER_ENGINES.items() if probe(url) is None]
    if os.environ.get("CI") or not up:
        for name, url in SERVER_ENGINES.items():
            require(name, url)  # skips with the cause when none answers; fails in CI
    args = [*SMOKE["servers"], "--engines", ",".join(up)]
    out = run_bench("servers", args)
    for name in up:
        row = rf"^{re.escape(name)}\s+1\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
        assert re.search(row, out, re.MULTILINE), f"no figures for {name}:\n{out}"
        cost = rf"^{re.escape(name)}, 1 client\(s\): Reserve costs [\d.]+ round trips"
        assert re.search(cost, out, re.MULTILINE), out
    assert "skipped" not in out


def test_compare_prints_base_and_working_tree_side_by_side() -> None:
    compare = [str(ROOT / "bench" / "compare.py"), "--base", str(ROOT), "--size", "smoke"]
    done = subprocess.run(
        [sys.executable, *compare, "--scripts", "checker", "--width", "70"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"=== bench/checker.py {' '.join(SMOKE['checker'])}" in lines
    assert any(
        re.match(rf"^base {re.escape(str(ROOT))} \(exit 0, .* \| working tree \(exit 0", x)
        for x in lines
    )
    # The fast checker's row, once in each column.
    row = rf"\s+2,\d\d\d\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0"
    assert any(re.match(rf"^{row}\s+\|{row}$", x) for x in lines), done.stdout


@pytest.mark.slow
@pytest.mark.soak
def test_detection_bench_runs_on_the_real_clock() -> None:
    """`detection.py --real-clock`: one mutant and one correct variant on their own clock (the
    scenarios alone sleep about 35 s each, so this is a soak run)."""
    args = ["--real-clock", "--seeds", "1", "--jobs", "2", "--budget", "4", "--workers", "2"]
    out = run_bench("detection", [*args, "--only", "never-restores", "--only", "ticker"])
    assert re.search(r"^mutant never-restores \(realtime\)\s+1/1\s", out, re.MULTILINE), out
    assert re.search(r"^variant ticker \(realtime\)\s+1/1\s", out, re.MULTILINE), out
    assert re.search(r"^mutants caught on an expected clause: 1/1 runs", out, re.MULTILINE), out
    assert re.search(r"^false alarms on correct variants: 0/1 runs", out, re.MULTILINE), out
    assert re.search(r"^correct variants' runs that could not be carried out: 0/1$", out, re.M), out
