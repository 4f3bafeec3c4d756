"""What the adapters that keep each task as JSON text outside Python share.

Responsibility: the parts of ``sqlite:``, ``redis://``, ``postgresql://`` and ``mysql://`` that
do not depend on the engine: a task as JSON text that round-trips exactly, an id as the exact
bytes a column compares, the task Reserve hands back (with its token), Push's checks of room
and duplicates, the errors Push and Delete answer with (worded alike everywhere), and the
outline of Push, Reserve and Delete around the engine's own storage (`JsonStoreQueue`).

Rule: imports only the standard library and mqspec's vocabulary; never a driver or the model.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from mqspec.adapters.base import Task
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = [
    "JsonStoreQueue",
    "check_room",
    "duplicate_error",
    "encode_task",
    "full_error",
    "id_bytes",
    "not_reserved_error",
    "reserved_task",
]


class JsonStoreQueue:
    """The outline of Push, Reserve and Delete for a queue that stores tasks as JSON text.

    A subclass sets ``_capabilities`` and supplies `_insert`, `_lease` and `_remove_reserved`;
    this class checks the task, encodes it, and answers as the contract says.
    """

    _capabilities: Capabilities

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares (fixed when it was opened)."""
        return self._capabilities

    def push(self, task: Task, now: float | None) -> Task:
        """Queue ``task``; raise ValueError to refuse it (MQ-TASK-1, MQ-PUSH-2, MQ-PUSH-3).

        A refused push queues nothing.
        """
        problem = task_problem(task, tokens=self._capabilities.reservation_tokens)
        if problem is not None:
            raise ValueError(problem)
        text = encode_task(task)
        self._insert(task, text, now)
        stored: Task = json.loads(text)
        return stored

    def reserve(self, now: float | None) -> Task | None:
        """Lease the first ready job for T seconds; None when none is ready."""
        token = uuid.uuid4().hex
        text = self._lease(token, now)
        if text is None:
            return None
        return reserved_task(text, token, tokens=self._capabilities.reservation_tokens)

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``; LookupError when it has none.

        Absent ids succeed (MQ-DELETE-3); a live job without a pending reservation, or (with
        tokens) without one carrying this token, raises and stays as it was (MQ-DELETE-2, -5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise ValueError("delete needs the task Reserve returned (an object with a string id)")
        ident = task["id"]
        token = task.get(TOKEN_KEY)
        if not self._remove_reserved(ident, token if isinstance(token, str) else None, now):
            raise not_reserved_error(ident, tokens=self._capabilities.reservation_tokens)

    def tick(self, now: float | None) -> None:
        """Nothing to do: leases are checked against ``now`` on every operation."""

    # -- what the engine supplies --------------------------------------------------------------

    def _insert(self, task: Task, text: str, now: float | None) -> None:
        """Store the valid ``task`` (JSON ``text``), refusing it with ValueError when the queue
        is full or, under ``duplicates=reject``, a live job has its id (`check_room`)."""
        raise NotImplementedError

    def _lease(self, token: str, now: float | None) -> str | bytes | None:
        """Lease the first ready job with ``token``; its JSON text, or None when none is ready."""
        raise NotImplementedError

    def _remove_reserved(self, ident: str, token: str | None, now: float | None) -> bool:
        """Remove the job with a pending reservation of ``ident`` (with tokens: carrying
        ``token``); whether it did, or no live job has the id."""
        raise NotImplementedError


def check_room(
    capabilities: Capabilities,
    ident: str,
    *,
    live: Callable[[], int],
    exists: Callable[[], bool],
) -> None:
    """Refuse a push the declared capacity or duplicate policy forbids.

    ``live`` counts the live jobs (asked only with a capacity), ``exists`` says whether a live
    job has ``ident`` (asked only under ``duplicates=reject``).

    Raises:
        ValueError: the queue is full (MQ-PUSH-3), or the id is live under reject (MQ-PUSH-2).
    """
    if capabilities.max_jobs is not None:
        count = live()
        if count >= capabilities.max_jobs:
            raise full_error(count, capabilities.max_jobs)
    if capabilities.duplicate_ids == "reject" and exists():
        raise duplicate_error(ident)


def encode_task(task: Any) -> str:
    """Return ``task`` as JSON text that parses back to an equal value; ValueError if not JSON.

    The text is always valid UTF-8: control characters are escaped by ``json``, and a lone
    surrogate (which UTF-8 cannot carry) makes the whole text ASCII with ``\\u`` escapes, which
    round-trip exactly.
    """
    try:
        text = json.dumps(task, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task is not a JSON value: {exc}") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(task, ensure_ascii=True, allow_nan=False)
    return text


def id_bytes(ident: str) -> bytes:
    """The id as the bytes a server column stores: UTF-8, with lone surrogates kept distinct.

    Bytes compare exactly (no collation, no trailing-space padding, NUL allowed), so two ids
    match in the database exactly when they are equal strings.
    """
    return ident.encode("utf-8", "surrogatepass")


def reserved_task(text: str | bytes, token: str, *, tokens: bool) -> Task:
    """The task Reserve answers with: the stored JSON text, plus the lease token when the queue
    hands out tokens (MQ-DELETE-5)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    task: Task = json.loads(text)
    if tokens:
        task[TOKEN_KEY] = token
    return task


def full_error(live: int, capacity: int | None) -> ValueError:
    """Push's answer when the queue holds ``capacity`` live jobs already (MQ-PUSH-3)."""
    return ValueError(f"queue full: {live} live jobs, capacity {capacity}")


def duplicate_error(ident: str) -> ValueError:
    """Push's answer under ``duplicates=reject`` when a live job has the id (MQ-PUSH-2)."""
    return ValueError(f"duplicate id {ident!r}: a live job already has it")


def not_reserved_error(ident: str, *, tokens: bool) -> LookupError:
    """Delete's answer when live jobs have the id but none a pending reservation (with tokens:
    none whose token matches) (MQ-DELETE-2, MQ-DELETE-5)."""
    why = "with this reservation token" if tokens else "(queued, delayed or expired)"
    return LookupError(f"not reserved: job {ident!r} has no pending reservation {why}")
