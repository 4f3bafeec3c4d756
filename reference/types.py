"""Value types shared by the model, the adapters and the harness.

Small frozen attrs classes: what a queue declares about itself (`Capabilities`), what an
operation answered (`Ok`, `Failed`, `Unknown`), and what the model concluded (`Finding`,
`Verdict`). No behaviour beyond validation and rendering.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

from mqspec.reference.clauses import Clause

__all__ = [
    "Capabilities",
    "Failed",
    "Finding",
    "Ok",
    "Outcome",
    "Unknown",
    "Verdict",
]

DuplicatePolicy = Literal["reject", "distinct"]


def _non_negative_number(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{attribute.name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{attribute.name} must be finite and >= 0, got {value!r}")


def _positive_number(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _non_negative_number(inst, attribute, value)
    if value == 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a queue declares about itself; the model's parameters.

    Attributes:
        reservation_timeout: T, seconds a reservation is held (fn used 60).
        timeout_settable: whether T can be chosen when the queue is opened (``?timeout=``).
        slack: seconds of lateness allowed for readiness and restore (0 for a lease design that
            checks time on every operation; about one tick for a background-ticker design).
        virtual_time: whether the queue takes ``now`` from the caller for every decision.
        durable: whether jobs survive a restart of the process holding the queue.
        reservation_tokens: whether Reserve puts a token in ``_mq_token`` that Delete checks.
        duplicate_ids: ``reject`` (a push of a live id fails) or ``distinct`` (a second job).
        max_jobs: the declared capacity, or None for no limit.
    """

    reservation_timeout: float = attrs.field(default=60, validator=_positive_number)
    timeout_settable: bool = False
    slack: float = attrs.field(default=0, validator=_non_negative_number)
    virtual_time: bool = True
    durable: bool = False
    reservation_tokens: bool = False
    duplicate_ids: DuplicatePolicy = attrs.field(
        default="distinct", validator=attrs.validators.in_(("reject", "distinct"))
    )
    max_jobs: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            [attrs.validators.instance_of(int), attrs.validators.ge(1)]
        ),
    )

    def to_json(self) -> dict[str, Any]:
        """The capability record as a JSON object (the driver protocol's and reports' shape)."""
        return attrs.asdict(self)


@attrs.frozen
class Ok:
    """The operation succeeded. ``value``: the task Push or Reserve returned (None for empty)."""

    value: Any = None


@attrs.frozen
class Failed:
    """The backend answered with an error; ``message`` is its text."""

    message: str


@attrs.frozen
class Unknown:
    """No trustworthy answer: the call was cut by a fault, a crash or a deadline.

    The operation may or may not have taken effect (MQ-LOSS-2). ``reported_failure`` is True when
    the backend did answer with an error while a fault was active (MQ-LOSS-3 then applies).
    """

    reason: str
    reported_failure: bool = False


Outcome = Ok | Failed | Unknown


@attrs.frozen
class Finding:
    """One way an observation broke a clause.

    ``allowed`` says what the contract allowed instead, ``observed`` what the backend did.
    ``passed_over``: for an order broken (MQ-ORDER-1, MQ-ORDER-2, MQ-RESTORE-2) or a null
    Reserve (MQ-READY-1) while a job pushed without delay and never reserved was ready, the
    id of that job, which should have come out. The observation cannot say whether that job
    comes out later (the clause named) or never (a loss, of which the finding is a
    consequence); the harness looks for it after the fact. ``passed_over_task`` is that
    job's task, to tell it from a live job with the same id (duplicate ids may be distinct
    jobs, MQ-PUSH-2).
    """

    clause: Clause
    message: str
    allowed: str = ""
    observed: str = ""
    passed_over: str = ""
    passed_over_task: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def is_violation(self) -> bool:
        """True for a broken MUST; False for a SHOULD (a warning unless strict)."""
        return self.clause.level == "MUST"

    def render(self) -> str:
        """One paragraph, clause first: the form every front end prints."""
        lines = [f"{self.clause.id} ({self.clause.level}): {self.message}"]
        # A value of several lines (a driver's stderr tail) keeps its lines, indented under
        # its label so the paragraph stays one block.
        if self.allowed:
            lines.append("  allowed:  " + self.allowed.replace("\n", "\n            "))
        if self.observed:
            lines.append("  observed: " + self.observed.replace("\n", "\n            "))
        return "\n".join(lines)


@attrs.frozen
class Verdict:
    """The model's answer to one observation.

    ``violation`` is set when no possible state of the queue explains the observation (the
    model's state is then unchanged); ``warnings`` are SHOULD findings every explanation needs;
    ``inconclusive`` is set once the possible states outgrew the model's bound.
    """

    violation: Finding | None = None
    warnings: tuple[Finding, ...] = ()
    inconclusive: bool = False

    @property
    def allowed(self) -> bool:
        """True when the observation is allowed (possibly with warnings)."""
        return self.violation is None
