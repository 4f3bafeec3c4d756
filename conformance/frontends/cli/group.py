"""The ``mqspec`` command group and what its commands share: exit codes, the one-line
failure, the seed, ``--budget``/``--workers`` and ``--profile`` options.

Each command lives in a module of its own in this package, which registers it on `main`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click
from hypothesis.configuration import set_hypothesis_home_dir

from mqspec.conformance.core.profiles import Profile, profiles_named

__all__ = [
    "EXIT_CONFORMS",
    "EXIT_DIVERGES",
    "EXIT_ERROR",
    "fail",
    "main",
    "profile_option",
    "real_clock_options",
    "seed_option",
]

EXIT_CONFORMS, EXIT_DIVERGES, EXIT_ERROR = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mqspec")
def main() -> None:
    """mqspec: check a work queue against the fn MessageQueue contract (spec/contract.md).

    Exit codes, for every command: 0 conforms (check) or fixed (replay), 1 a clause is broken,
    2 could not run (the cause is printed on one line).
    """
    _keep_hypothesis_out_of_the_working_directory()


def _keep_hypothesis_out_of_the_working_directory() -> None:
    """Hypothesis keeps a cache (``.hypothesis/``) in the current directory by default; a
    command run in someone's project must write nothing there unless asked. Its files go to
    the user's cache instead (``$XDG_CACHE_HOME/mqspec/hypothesis``, else
    ``~/.cache/mqspec/hypothesis``); ``HYPOTHESIS_STORAGE_DIRECTORY`` still chooses another.
    The engine runs with no example database, so nothing there changes a verdict."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    set_hypothesis_home_dir(Path(cache) / "mqspec" / "hypothesis")


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def fail(message: str) -> NoReturn:
    click.echo(f"mqspec: {one_line(message)}", err=True)
    sys.exit(EXIT_ERROR)


seed_option = click.option(
    "--seed", type=int, default=0, show_default=True, help="Hypothesis seed."
)


def real_clock_options(
    *, budget: float | None, workers: int | None, budget_help: str, workers_help: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--budget`` and ``--workers``, the real-clock search's settings, with these defaults
    (None: the profile's own, which the help text then states; a value is shown as default)."""
    shown = budget is not None
    budget_option = click.option(
        "--budget",
        type=click.FloatRange(min=1),
        default=budget,
        show_default=shown,
        metavar="SECONDS",
        help=budget_help,
    )
    workers_option = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=workers,
        show_default=shown,
        help=workers_help,
    )

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        return budget_option(workers_option(command))

    return decorate


def profile_option(
    context: click.Context, parameter: click.Parameter, given: tuple[str, ...]
) -> Profile:
    """``--profile``'s values, each one name or several joined by commas, as one profile."""
    try:
        return profiles_named(",".join(given) or "quick")
    except ValueError as err:
        raise click.BadParameter(str(err), context, parameter) from None
