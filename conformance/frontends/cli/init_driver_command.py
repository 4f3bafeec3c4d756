"""``mqspec init-driver LANGUAGE DIR``: copy an example driver that already passes into a new
folder, and print the command that checks it."""

from __future__ import annotations

from pathlib import Path

import click

from mqspec.conformance.frontends.cli.group import fail, main
from mqspec.conformance.frontends.templates import LANGUAGES, copy_template
from mqspec.reference.errors import UsageError

__all__ = ["init_driver_command"]


@main.command("init-driver")
@click.argument("language", type=click.Choice(LANGUAGES))
@click.argument("directory", type=click.Path(path_type=Path))
def init_driver_command(language: str, directory: Path) -> None:
    """Start a driver: copy the LANGUAGE example driver (python, node, or the Go kit) into
    DIRECTORY, a new or empty folder, and say how to check it.

    Exit codes: 0 copied, 2 DIRECTORY exists and is not empty (nothing is overwritten).
    """
    try:
        files = copy_template(language, directory)
    except (UsageError, OSError) as err:
        fail(str(err))
    click.echo(f"copied the {language} driver template to {directory}: {len(files)} files")
    run = {
        "python": f"exec:python3 {directory / 'driver.py'}",
        "node": f"exec:node {directory / 'driver.js'}",
        "go": f"exec:{directory / 'go-example'} --virtual",
    }[language]
    if language == "go":
        click.echo(f"build it: (cd {directory} && go build -o go-example ./example)")
    click.echo(f'check it: mqspec check "{run}"   (then put your queue in its place)')
