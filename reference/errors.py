"""Every exception mqspec raises, under one root.

Rule: outcomes a queue may legitimately produce ("empty", "not found", "refused") are *values*
(`mqspec.reference.types`), never exceptions. Exceptions here mean misuse of mqspec itself, or a
broken contract reported to a test framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqspec.reference.types import Finding

__all__ = ["ContractViolation", "DriverError", "MqspecError", "UsageError"]


class MqspecError(Exception):
    """Root of every mqspec exception; catch this to catch them all."""


class UsageError(MqspecError):
    """mqspec was used wrongly: time ran backwards, a bad URL, a malformed trace or argument.

    Raised early, before anything is sent to a backend. The CLI exits 2 on it.
    """


class DriverError(MqspecError):
    """A backend could not be driven at all (it failed to open, crashed, or broke its protocol).

    Not a contract verdict: the run could not be carried out. The CLI exits 2 on it.
    """


class ContractViolation(MqspecError, AssertionError):
    """A backend broke a MUST clause; raised by the pytest face of the harness.

    Carries the `Finding` (clause, expected, observed) so a test framework can show it.
    """

    def __init__(self, finding: Finding, program: str = "") -> None:
        self.finding = finding
        self.program = program
        self.transcript: object = None  # the harness attaches the case's transcript here
        text = finding.render()
        if program:
            text += "\n\nMinimal program:\n" + program
        super().__init__(text)
