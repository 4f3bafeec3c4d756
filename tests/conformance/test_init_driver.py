"""``mqspec init-driver``: a backend author starts from a template that already passes."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from mqspec.conformance.frontends.cli import main
from mqspec.conformance.frontends.templates import LANGUAGES, templates_dir


def test_each_template_is_copied_whole_into_a_new_folder(tmp_path):
    for language in LANGUAGES:
        target = tmp_path / language
        out = CliRunner().invoke(main, ["init-driver", language, str(target)])
        assert out.exit_code == 0, out.output
        source = sorted(
            p.relative_to(templates_dir() / language)
            for p in (templates_dir() / language).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        copied = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
        assert copied == source and copied
        assert 'check it: mqspec check "exec:' in out.output


def test_a_folder_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    out = CliRunner().invoke(main, ["init-driver", "python", str(tmp_path)])
    assert out.exit_code == 2
    assert "exists and is not an empty folder; nothing copied" in out.output
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    unknown = CliRunner().invoke(main, ["init-driver", "cobol", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and not (tmp_path / "x").exists()


def test_the_copied_python_driver_conforms(tmp_path):
    CliRunner().invoke(main, ["init-driver", "python", str(tmp_path / "d")])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mqspec",
            "check",
            f"exec:{sys.executable} {tmp_path / 'd' / 'driver.py'}",
            "--no-report",
            "--examples",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
