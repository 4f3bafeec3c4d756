"""Tests of the URL registry (mqspec.adapters.registry): how a queue URL becomes an adapter.

Each error names its cause: the URL, the scheme, the module or the factory.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.registry import SCHEMES, open_adapter
from mqspec.adapters.sqlite import SqliteQueue
from mqspec.reference.errors import DriverError, MqspecError, UsageError

_names = itertools.count()


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a module into tmp_path (on sys.path) and return its fresh, unique name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(source: str) -> str:
        name = f"mqspec_registry_probe_{next(_names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


FACTORIES = """
    from mqspec.adapters.memory import MemoryQueue

    seen = []

    def make(**options):
        seen.append(options)
        return MemoryQueue(timeout=float(options.get("timeout", 60)),
                           tokens=options.get("tokens") == "1")

    def boom(**options):
        raise RuntimeError("cannot reach the broker at 10.0.0.1")

    def refuse(**options):
        from mqspec.reference.errors import UsageError
        raise UsageError("option colour is not supported")

    def not_a_queue(**options):
        return 42

    not_callable = "make"
"""


# -- memory:// and sqlite: ---------------------------------------------------------------------


def test_schemes():
    assert set(SCHEMES) == {
        "memory",
        "sqlite",
        "py",
        "exec",
        "redis",
        "postgresql",
        "postgres",
        "mysql",
        "mariadb",
    }


def test_memory():
    adapter = open_adapter("memory://")
    assert isinstance(adapter, MemoryQueue)
    assert isinstance(adapter, QueueAdapter)
    assert adapter.capabilities.reservation_timeout == 60
    adapter.close()


def test_memory_with_options():
    adapter = open_adapter("memory://?timeout=5&tokens=1&duplicates=reject&max_jobs=3")
    caps = adapter.capabilities
    assert (caps.reservation_timeout, caps.reservation_tokens) == (5, True)
    assert (caps.duplicate_ids, caps.max_jobs) == ("reject", 3)


def test_scheme_is_case_insensitive():
    assert isinstance(open_adapter("MEMORY://"), MemoryQueue)


def test_memory_bad_option_names_it():
    with pytest.raises(
        UsageError,
        match=r"^unknown memory URL option colour='red' \(known: timeout, tokens, duplicates, "
        r"max_jobs\)$",
    ):
        open_adapter("memory://?colour=red")


def test_sqlite(tmp_path: Path):
    path = tmp_path / "q.db"
    adapter = open_adapter(f"sqlite://{path.as_posix()}")
    try:
        assert isinstance(adapter, SqliteQueue)
        assert isinstance(adapter, QueueAdapter)
        assert adapter.capabilities.durable
        adapter.reset(0)
        adapter.push({"id": "a", "priority": 1}, 0)
        assert adapter.reserve(0) == {"id": "a", "priority": 1}
    finally:
        adapter.close()
    assert path.exists()


def test_sqlite_with_options(tmp_path: Path):
    adapter = open_adapter(f"sqlite://{(tmp_path / 'q.db').as_posix()}?timeout=5&tokens=1")
    try:
        assert adapter.capabilities.reservation_timeout == 5
        assert adapter.capabilities.reservation_tokens
    finally:
        adapter.close()


def test_sqlite_missing_directory_is_a_driver_error(tmp_path: Path):
    url = f"sqlite://{(tmp_path / 'nowhere' / 'q.db').as_posix()}"
    with pytest.raises(DriverError, match=r"directory .*nowhere.* does not exist"):
        open_adapter(url)


# -- py:module:factory -------------------------------------------------------------------------


def test_py_factory(write_module):
    name = write_module(FACTORIES)
    adapter = open_adapter(f"py:{name}:make")
    assert isinstance(adapter, MemoryQueue)
    assert sys.modules[name].seen == [{}]


def test_py_factory_gets_the_query_options_as_string_kwargs(write_module):
    name = write_module(FACTORIES)
    adapter = open_adapter(f"py:{name}:make?timeout=7&tokens=1&empty=")
    assert sys.modules[name].seen == [{"timeout": "7", "tokens": "1", "empty": ""}]
    assert adapter.capabilities.reservation_timeout == 7
    assert adapter.capabilities.reservation_tokens


def test_py_factory_may_be_a_class():
    adapter = open_adapter("py:mqspec.adapters.selftest.mutants:EmptyIsError")
    assert type(adapter).__name__ == "EmptyIsError"


# -- errors, each naming its cause ---------------------------------------------------------------


def test_unknown_scheme():
    with pytest.raises(
        UsageError,
        match=r"^unknown queue URL scheme 'kafka' in 'kafka://localhost:9092'; "
        r"known: memory:, sqlite:, py:, exec:, redis:, postgresql:, postgres:, mysql:, mariadb:$",
    ):
        open_adapter("kafka://localhost:9092")


@pytest.mark.parametrize("url", ["memory", "", "q.db"])
def test_not_a_url(url):
    with pytest.raises(UsageError, match=rf"^not a queue URL: {url!r} \(expected e\.g\. memory://"):
        open_adapter(url)


def test_not_a_string():
    with pytest.raises(UsageError, match=r"^not a queue URL: None "):
        open_adapter(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["py:some.module", "py:some.module:", "py::make", "py:"])
def test_py_without_module_or_factory(url):
    with pytest.raises(
        UsageError, match=rf"^py: URL must be py:package\.module:factory, got {url!r}$"
    ):
        open_adapter(url)


def test_py_import_failure_names_the_module():
    with pytest.raises(
        UsageError,
        match=r"^cannot import 'no_such_mqspec_backend' from "
        r"'py:no_such_mqspec_backend:make': .*No module named 'no_such_mqspec_backend'",
    ):
        open_adapter("py:no_such_mqspec_backend:make")


def test_py_import_failure_inside_the_module_names_the_missing_dependency(write_module):
    name = write_module("import no_such_mqspec_dependency\n")
    with pytest.raises(
        UsageError, match=rf"^cannot import '{name}' .*No module named 'no_such_mqspec_dependency'"
    ):
        open_adapter(f"py:{name}:make")


def test_py_module_raising_at_import_names_the_error(write_module):
    name = write_module("raise RuntimeError('boom at import')\n")
    with pytest.raises(MqspecError, match=r"RuntimeError: boom at import"):
        open_adapter(f"py:{name}:make")


@pytest.mark.parametrize("attr", ["missing", "not_callable"])
def test_py_factory_missing_or_not_callable(write_module, attr):
    name = write_module(FACTORIES)
    with pytest.raises(
        UsageError, match=rf"^'{name}' has no callable '{attr}' \(from 'py:{name}:{attr}'\)$"
    ):
        open_adapter(f"py:{name}:{attr}")


def test_py_factory_raising_is_a_driver_error(write_module):
    name = write_module(FACTORIES)
    with pytest.raises(
        DriverError,
        match=rf"^'py:{name}:boom': the factory raised RuntimeError: "
        r"cannot reach the broker at 10\.0\.0\.1$",
    ) as caught:
        open_adapter(f"py:{name}:boom")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_py_factory_raising_an_mqspec_error_passes_it_through(write_module):
    name = write_module(FACTORIES)
    with pytest.raises(UsageError, match=r"^option colour is not supported$"):
        open_adapter(f"py:{name}:refuse")


def test_py_factory_returning_a_non_adapter(write_module):
    name = write_module(FACTORIES)
    with pytest.raises(
        UsageError,
        match=rf"^'py:{name}:not_a_queue': the factory returned int, which lacks the adapter "
        r"methods \(capabilities, reset, push, reserve, delete, tick, close\)$",
    ):
        open_adapter(f"py:{name}:not_a_queue")


def test_py_factory_bad_option_value_is_the_adapters_usage_error(write_module):
    with pytest.raises(UsageError, match=r"^option timeout='5': must be a number of seconds$"):
        open_adapter("py:mqspec.adapters.memory:MemoryQueue?timeout=5")
