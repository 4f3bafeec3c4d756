"""The root of every exception mqspec raises, and the errors of misuse and of driving.

Rule: outcomes a queue may legitimately produce ("empty", "not found", "refused") are *values*
(`mqspec.reference.types`), never exceptions. Exceptions here mean misuse of mqspec itself, or a
backend that could not be driven. The exception that reports a broken contract to a test
framework belongs to the harness, which derives it from `MqspecError` too.
"""

from __future__ import annotations

__all__ = ["DriverError", "MqspecError", "UsageError"]


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
