"""The driver protocol's messages (spec/driver-protocol.md, version 1): encoding and checking.

Responsibility: what the ``exec:`` adapter (`mqspec.adapters.process`) says to a driver and
how it judges a driver's answer line, with no process in sight: a request as one JSON line,
an answer parsed and checked against the request it answers, a hello's name and capabilities,
the ``ok`` a push, reserve, delete, reset or tick must carry. A line that breaks the protocol
raises `ProtocolFault`, whose message names the fault and quotes the line; the adapter then
stops the driver and raises `DriverError` with that message. Also the errors the adapter
raises to its callers (`BackendError`, `DriverDied`) and the per-request deadline.

Rule: standard library plus ``mqspec.reference`` types and errors only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from mqspec.adapters.options import check_seconds
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities

__all__ = [
    "CAPABILITY_KEYS",
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE",
    "PROTOCOL",
    "QUOTE_LENGTH",
    "BackendError",
    "DriverDied",
    "ProtocolFault",
    "capabilities_from_json",
    "checked_hello",
    "checked_result",
    "encode_request",
    "parse_answer",
    "parse_int",
    "quote",
    "request_deadline",
]

PROTOCOL = 1
"""The protocol version this adapter speaks (the ``protocol`` of hello)."""

DEFAULT_DEADLINE = 10.0
"""Seconds a driver has to answer one request (hello included)."""

DEADLINE_ENV = "MQSPEC_DRIVER_DEADLINE"
"""Environment variable that overrides `DEFAULT_DEADLINE` (seconds, > 0)."""

QUOTE_LENGTH = 200
"""Characters of an offending line quoted in a message."""

CAPABILITY_KEYS = tuple(Capabilities().to_json())
"""The keys of a capability record; a hello's other keys are ignored."""

_BOOLEAN_KEYS = ("timeout_settable", "virtual_time", "durable", "reservation_tokens")
_SAFE_INT = 2**53


class BackendError(RuntimeError):
    """The driver answered push, reserve or delete with ``{"error": {"message": ...}}``.

    Not a fault: it is the backend's answer (like fn's Go ``error``), judged by the contract.
    """


class DriverDied(DriverError):
    """The driver died after a successful hello: it exited, was killed by a signal, closed
    its stdout, or did not answer a request within the deadline.

    A plain `DriverError` means the driver could not be driven at all (it did not start, its
    hello failed, it broke the protocol); this subclass means a backend that was serving went
    away mid-run, taking whatever it held with it. The message is the same as a plain
    `DriverError` would carry for that fault.

    Attributes:
        op: the op of the request the driver died on (the one it did not answer).
        stderr_tail: the driver's last stderr lines, oldest first.
        exit_status: the driver's exit code, negative for the signal that killed it (-9 for
            SIGKILL), or None when it was still running when the harness gave up on it (it
            closed its stdout or missed the deadline; the harness then killed it).
    """

    def __init__(
        self, message: str, *, op: str, stderr_tail: Sequence[str], exit_status: int | None
    ) -> None:
        """Carry ``message`` and the three attributes; see the class docstring."""
        super().__init__(message)
        self.op = op
        self.stderr_tail = list(stderr_tail)
        self.exit_status = exit_status


class ProtocolFault(Exception):
    """A driver's line broke the protocol; the message says how (without the driver's name)."""


def capabilities_from_json(raw: Any) -> Capabilities:
    """The `Capabilities` a hello declares; missing keys take the defaults, unknown ones are
    ignored.

    Raises:
        ValueError: ``raw`` is not an object, or a known key has a wrong type or value; the
            message names the key and repr's the value.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"capabilities must be a JSON object, got {raw!r}")
    fields: dict[str, Any] = {}
    for key in CAPABILITY_KEYS:
        if key not in raw:
            continue
        value = raw[key]
        if key in _BOOLEAN_KEYS and not isinstance(value, bool):
            raise ValueError(f"capability {key} must be true or false, got {value!r}")
        if key == "duplicate_ids" and value not in ("reject", "distinct"):
            raise ValueError(
                f'capability duplicate_ids must be "reject" or "distinct", got {value!r}'
            )
        if (
            key == "max_jobs"
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        ):
            raise ValueError(f"capability max_jobs must be null or an integer >= 1, got {value!r}")
        fields[key] = value
    try:
        return Capabilities(**fields)
    except (TypeError, ValueError) as err:
        raise ValueError(f"capability {err}") from None


def request_deadline(value: float | None) -> float:
    """The per-request deadline: ``value``, else $MQSPEC_DRIVER_DEADLINE, else the default.

    Raises:
        UsageError: the value (or the variable) is not a finite number of seconds > 0.
    """
    source = "deadline"
    if value is None:
        text = os.environ.get(DEADLINE_ENV, "").strip()
        if not text:
            return DEFAULT_DEADLINE
        source = DEADLINE_ENV
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{DEADLINE_ENV}={text!r}: expected seconds") from None
    return check_seconds(source, value)


def quote(line: bytes | str) -> str:
    """repr of an offending line, cut to a readable length."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if len(text) > QUOTE_LENGTH:
        return f"{text[:QUOTE_LENGTH]!r}... ({len(text)} characters)"
    return repr(text)


def parse_int(text: str) -> int | float:
    """An integer literal; beyond +-2^53 it is read as a double, as JavaScript reads it.

    Such a literal can only be a large float the driver printed without a fraction (JavaScript
    prints 7.125046441720807e16 as 71250464417208070): the harness never sends integers beyond
    +-2^53 (the portable range). Read exactly, it would differ from the float that was sent.
    """
    value = int(text)
    return value if -_SAFE_INT <= value <= _SAFE_INT else float(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def encode_request(seq: int, op: str, fields: dict[str, Any]) -> bytes:
    """The request line for ``op`` (ASCII JSON and a newline).

    Raises:
        UsageError: a field is not JSON (the caller's mistake, not the driver's).
    """
    try:
        text = json.dumps({"seq": seq, "op": op, **fields}, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise UsageError(f"{op} request is not JSON: {err}") from None
    return text.encode("ascii") + b"\n"


def parse_answer(line: bytes, seq: int, op: str, line_number: int) -> tuple[bool, Any]:
    """Check stdout line ``line_number``, the answer to request ``seq``; ``(True, ok)`` or
    ``(False, the error message)``.

    Raises:
        ProtocolFault: the line is not UTF-8 JSON, not an object, answers another seq, or has
            not exactly one of ``ok`` and ``error`` (or a malformed error).
    """
    where = f"stdout line {line_number} (the answer to request seq {seq}, {op})"
    try:
        answer = json.loads(
            line.decode("utf-8"), parse_int=parse_int, parse_constant=_reject_constant
        )
    except UnicodeDecodeError:
        raise ProtocolFault(f"{where} is not UTF-8: {quote(line)}") from None
    except (ValueError, RecursionError):
        raise ProtocolFault(
            f"{where} is not JSON: {quote(line)} (stdout carries only answers; log to stderr)"
        ) from None
    if not isinstance(answer, dict):
        raise ProtocolFault(f"{where} is not a JSON object: {quote(line)}")
    got = answer.get("seq")
    if isinstance(got, bool) or got != seq:
        if isinstance(got, int) and not isinstance(got, bool) and got < seq:
            raise ProtocolFault(
                f"sent more than one line for request seq {got}: stdout line "
                f"{line_number} {quote(line)} came while waiting for the answer to seq "
                f"{seq} ({op})"
            )
        if "seq" not in answer:
            raise ProtocolFault(f"{where} has no seq: {quote(line)}")
        raise ProtocolFault(f"answered request seq {seq} ({op}) with seq {got!r}: {quote(line)}")
    if ("ok" in answer) == ("error" in answer):
        raise ProtocolFault(f'{where} must have exactly one of "ok" and "error": {quote(line)}')
    if "ok" in answer:
        return True, answer["ok"]
    error = answer["error"]
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        raise ProtocolFault(
            f'{where} has an error that is not {{"message": <text>}}: {quote(line)}'
        )
    return False, error["message"]


def checked_hello(
    ok: bool, result: Any, *, default_name: str, asked_timeout: float | None
) -> tuple[str, Capabilities]:
    """The driver's name and capabilities from its hello answer.

    Raises:
        ProtocolFault: the hello was refused, is not an object, speaks another protocol, has a
            bad name or bad capabilities, or (settable T) declares another T than was asked.
    """
    if not ok:
        raise ProtocolFault(f"refused hello: {result!r}")
    if not isinstance(result, dict):
        raise ProtocolFault(
            f"answered hello with ok {quote(json.dumps(result))}; expected an object"
        )
    version = result.get("protocol")
    if isinstance(version, bool) or version != PROTOCOL:
        raise ProtocolFault(f"speaks protocol {version!r}; mqspec speaks protocol {PROTOCOL}")
    name = result.get("name", default_name)
    if not isinstance(name, str):
        raise ProtocolFault(f"hello name must be a string, got {name!r}")
    try:
        caps = capabilities_from_json(result.get("capabilities", {}))
    except ValueError as err:
        raise ProtocolFault(f"hello declared bad capabilities: {err}") from None
    if (
        asked_timeout is not None
        and caps.timeout_settable
        and caps.reservation_timeout != asked_timeout
    ):
        # A settable driver that ignored the request would be judged against a T the harness
        # did not choose; a driver that cannot set T says so (timeout_settable false) and
        # keeps its own.
        raise ProtocolFault(
            f"declared timeout_settable but reservation_timeout "
            f"{caps.reservation_timeout:g} after hello asked for {asked_timeout:g}"
        )
    return name, caps


def checked_result(op: str, result: Any) -> Any:
    """What an ``ok`` answer to ``op`` carries: the task (or None) for push and reserve, None
    for the others.

    Raises:
        ProtocolFault: push or reserve without ``{"task": ...}``, or another op with a non-null
            ``ok``.
    """
    if op in ("push", "reserve"):
        if not isinstance(result, dict) or "task" not in result:
            shown = quote(json.dumps(result))
            raise ProtocolFault(f'answered {op} with ok {shown}; expected {{"task": ...}}')
        return result["task"]
    if result is not None:
        raise ProtocolFault(f"answered {op} with ok {quote(json.dumps(result))}; expected null")
    return None
