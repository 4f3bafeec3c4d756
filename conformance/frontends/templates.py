"""The driver templates an installed mqspec carries, and copying one to start a driver.

``mqspec init-driver python|node|go DIR`` copies the example driver of that language (the Go
driver kit for ``go``) from the package's ``mqspec.adapters`` folder ``drivers/`` into a new or
empty DIR, so a backend author starts from a driver that already passes, on virtual time and
on the real clock (``--real-clock``), and edits its queue.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mqspec.adapters
from mqspec.reference.errors import UsageError

__all__ = ["LANGUAGES", "copy_template", "templates_dir"]

LANGUAGES = ("python", "node", "go")
"""The templates shipped, by the folder name under ``drivers/``."""


def templates_dir() -> Path:
    """Where the installed package keeps the templates."""
    return Path(mqspec.adapters.__file__).parent / "drivers"


def copy_template(language: str, target: Path) -> list[Path]:
    """Copy ``language``'s template into ``target`` (created; it must be empty if it exists)
    and return the files written, relative to ``target``.

    Raises:
        UsageError: an unknown language, or a ``target`` that is a file or not empty (nothing
            is overwritten).
    """
    if language not in LANGUAGES:
        raise UsageError(f"no driver template for {language!r}; known: {', '.join(LANGUAGES)}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{str(target)!r} exists and is not an empty folder; nothing copied")
    source = templates_dir() / language
    shutil.copytree(
        source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
