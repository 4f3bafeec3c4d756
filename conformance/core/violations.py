"""What the harness raises or warns to a test framework: a broken MUST, a SHOULD finding."""

from __future__ import annotations

from mqspec.reference.errors import MqspecError
from mqspec.reference.types import Finding

__all__ = ["ContractViolation", "ShouldWarning"]


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


class ShouldWarning(UserWarning):
    """A SHOULD clause the backend did not keep (not a failure unless strict).

    The pytest plugin issues SHOULD findings as this class, so a suite can select them:
    ``-W error::mqspec.conformance.core.violations.ShouldWarning`` makes them fail, and
    ``-W ignore::...`` hides them, without touching other warnings.
    """
