"""The package as a user installs it: built as a wheel, with what the README promises inside.

The wheel is built from this checkout (``pip wheel --no-deps``); the test reads its file list
and metadata. It checks what a user relies on: the type marker, the licence, the ``all`` extra,
the clause catalogue, the driver templates and the Go kit, and that nothing but ``mqspec`` is
installed at the top level.
"""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = out.glob("mqspec-*.whl")
    return zipfile.ZipFile(path)


pytestmark = pytest.mark.slow  # builds a wheel, fetching the build backend from the index


def test_only_mqspec_is_installed_at_the_top_level(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mqspec"}


def test_the_wheel_carries_the_type_marker_the_catalogue_and_the_driver_templates(wheel):
    names = set(wheel.namelist())
    for needed in (
        "mqspec/py.typed",
        "mqspec/__main__.py",
        "mqspec/spec/clauses.toml",
        "mqspec/spec/contract.md",
        "mqspec/reference/model.py",
        "mqspec/conformance/core/session.py",
        "mqspec/adapters/selftest/catalogue.py",
        "mqspec/adapters/drivers/python/driver.py",
        "mqspec/adapters/drivers/node/driver.js",
        "mqspec/adapters/drivers/go/go.mod",
        "mqspec/adapters/drivers/go/example/main.go",
        "mqspec/adapters/drivers/go/fnstyle/memmq/memmq.go",
    ):
        assert needed in names, needed


def test_the_metadata_names_the_licence_the_extras_and_the_command(wheel):
    (meta_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    meta = email.message_from_bytes(wheel.read(meta_name))
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"all", "redis", "postgresql", "mariadb"} <= extras
    requires = meta.get_all("Requires-Dist") or []
    for client in ("redis", "psycopg", "pymysql"):
        assert any(r.startswith(client) and 'extra == "all"' in r for r in requires), client
    (entry_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    entries = wheel.read(entry_name).decode()
    assert "mqspec = mqspec.conformance.frontends.cli:main" in entries
    assert "mqspec = mqspec.conformance.frontends.pytest_plugin" in entries
