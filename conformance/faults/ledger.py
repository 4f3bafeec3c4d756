"""Jepsen-style counts of one test case: jobs lost, duplicated or unexpected in its final drain.

Responsibility: an account of what happened that does not go through the model, so a fault run
can say "0 lost, 0 duplicated, 0 unexpected" from the transcript alone (MQ-LOSS-1, MQ-LOSS-2):

* **lost**: a job whose Push answered ok, no Delete of whose id answered ok or unknown, and that
  did not come out of a drain that reached null.
* **duplicated**: each extra time one pushed task came out of the same drain (a drain deletes
  nothing and runs at one instant, so every live job comes out exactly once).
* **unexpected**: a task that came out of the drain although no Push of it answered ok or
  unknown, or although a Delete acknowledged it: the Delete answered ok while the task's latest
  Reserve was pending and no other job shared its id (MQ-DELETE-1).

The rules are conservative (a job whose fate is unclear counts as none of these), so a passing
run shows zeros honestly and a broken queue shows its anomaly. When a case failed before its
drain reached null, the faults machine drains the queue once more, unjudged and past every
deadline, and that drain counts instead (`tally`'s ``unjudged``).

Forbidden imports: the model, hypothesis.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from mqspec.conformance.core.transcript import Step
from mqspec.reference.jsonvalue import TOKEN_KEY
from mqspec.reference.types import Failed, Ok, Unknown

__all__ = ["Anomalies", "tally"]


@attrs.frozen
class Anomalies:
    """What one case's transcript shows; ``drained``: its drain reached null."""

    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    drained: bool = False
    operations: int = 0
    errored: int = 0  # answered with an error (with or without a fault)
    unknown: int = 0  # judged as an unknown outcome (an error during a fault)
    refused: int = 0  # pushes stopped by a fault before the queue acted (MQ-LOSS-3 applies)

    def counts(self) -> dict[str, int]:
        """The three anomaly counts by name."""
        return {"lost": self.lost, "duplicated": self.duplicated, "unexpected": self.unexpected}


def _number(value: Any) -> Any:
    """Numbers as floats, recursively: 256 and 256.0 are the same JSON value (MQ-TASK-2)."""
    if isinstance(value, dict):
        return {k: _number(v) for k, v in value.items() if k != TOKEN_KEY}
    if isinstance(value, list):
        return [_number(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _key(task: Any) -> str | None:
    """A pushed task's identity: its canonical JSON without the token (None if not a task)."""
    if not isinstance(task, dict) or not isinstance(task.get("id"), str):
        return None
    return json.dumps(_number(task), sort_keys=True)


def tally(steps: Iterable[Step], timeout: float, unjudged: list[Any] | None = None) -> Anomalies:
    """Count the anomalies the steps of one case show (see the module docstring).

    ``unjudged``: the tasks an unjudged drain took after the judged one stopped early (None
    marks its end), past every deadline; it then counts as the final drain.
    """
    pushed_ok: dict[str, str] = {}  # key -> id
    ok_key: dict[str, str] = {}  # id -> the key of its (last) ok push
    pushed_maybe: set[str] = set()
    jobs_of: Counter[str] = Counter()  # id -> pushes that may have queued a job
    reserved_at: dict[str, float] = {}  # key -> time of its latest Reserve that answered it
    touched: set[str] = set()  # ids a Delete answered ok or unknown for
    deleted: set[str] = set()  # keys a Delete certainly acknowledged
    out: Counter[str] = Counter()
    drained = False
    operations = errored = unknown = refused = 0
    for step in steps:
        outcome = step.outcome
        if step.op in ("push", "reserve", "delete", "drain"):
            operations += 1
            if isinstance(outcome, (Failed, Unknown)):  # every unknown here was an error
                errored += 1
            if isinstance(outcome, Unknown):
                unknown += 1
                refused += step.op == "push" and outcome.reported_failure
        if step.op == "push":
            key = _key(step.task)
            if key is None or isinstance(outcome, Failed):
                continue
            jobs_of[step.task["id"]] += 1
            if isinstance(outcome, Ok):
                pushed_ok[key] = step.task["id"]
                ok_key[step.task["id"]] = key
            else:
                pushed_maybe.add(key)
        elif step.op in ("reserve", "drain") and isinstance(outcome, Ok):
            key = _key(outcome.value)
            if key is None:
                drained = drained or (step.op == "drain" and outcome.value is None)
            elif step.op == "drain":
                out[key] += 1
            else:
                reserved_at[key] = step.now
        elif step.op == "delete" and isinstance(outcome, (Ok, Unknown)):
            ident = step.task["id"]
            touched.add(ident)
            key = ok_key.get(ident)
            if key is None or key not in reserved_at:
                continue  # never pushed with a plain success, or never reserved: nothing to ack
            pending = step.now < reserved_at[key] + timeout
            if isinstance(outcome, Ok) and jobs_of[ident] == 1 and pending:
                deleted.add(key)
    if unjudged is not None:
        # It ran after every reservation the judged drain made had ended: it replaces that drain.
        out, drained = Counter(), False
        for task in unjudged:
            key = _key(task)
            if key is not None:
                out[key] += 1
            drained = drained or task is None
    lost = 0
    if drained:
        lost = sum(1 for key, ident in pushed_ok.items() if ident not in touched and not out[key])
    expected = pushed_ok.keys() | pushed_maybe
    return Anomalies(
        lost=lost,
        duplicated=sum(n - 1 for n in out.values() if n > 1),
        unexpected=sum(1 for key in out if key not in expected or key in deleted),
        drained=drained,
        operations=operations,
        errored=errored,
        unknown=unknown,
        refused=refused,
    )
