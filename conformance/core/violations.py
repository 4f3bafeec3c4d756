"""The exception that reports a broken contract to a test framework."""

from __future__ import annotations

from mqspec.reference.errors import MqspecError
from mqspec.reference.types import Finding

__all__ = ["ContractViolation"]


class ContractViolation(MqspecError, AssertionError):
    """A backend broke a MUST clause; raised by the pytest face of the harness.

    Carries the `Finding` (clause, allowed, observed) so a test framework can show it, and the
    minimal program that shows it, when known.
    """

    def __init__(self, finding: Finding, program: str = "") -> None:
        self.finding = finding
        self.program = program
        self.transcript: object = None  # the harness attaches the case's transcript here
        text = finding.render()
        if program:
            text += "\n\nMinimal program:\n" + program
        super().__init__(text)
