"""The ``mqspec`` command line: the only package that imports click (with the console printer,
`mqspec.conformance.frontends.console`).

``mqspec check [URL]`` runs the conformance suite, writes a report directory (``report.json``,
``report.md``, ``junit.xml`` and one replayable transcript plus pytest file per divergence; see
``reports/README.md``) and exits 0 (conforms), 1 (diverges) or 2 (could not run: bad URL,
unreachable or crashing backend, bad arguments, report directory not writable), each with a
one-line cause on stderr. Without a URL it checks a fresh embedded SQLite queue in a temporary
directory, which it removes afterwards.

``mqspec replay FILE`` sends a recorded transcript again, step by step, and exits 0 (no
divergence: fixed), 1 (a divergence still occurs) or 2 (not a transcript, or the backend cannot
be opened or driven).

``mqspec selftest`` checks the suite itself (`mqspec.conformance.frontends.selftest`): every
broken queue of the catalogue must be caught on its clause, every correct variant must pass in
strict mode; it prints the table and exits 0, or 1 if a mutant survived or a variant was flagged.

``mqspec init-driver LANGUAGE DIR`` copies an example driver that already passes into a new
folder and prints the command that checks it.

The group and its shared options are in `group`; each command is a module of its own
(`check_command`, `selftest_command`, `replay_command`, `init_driver_command`), imported here so
that it registers itself on `main`.
"""

from __future__ import annotations

from mqspec.conformance.frontends.cli import (  # noqa: F401  (each registers its command)
    check_command,
    init_driver_command,
    replay_command,
    selftest_command,
)
from mqspec.conformance.frontends.cli.group import main

__all__ = ["main"]
