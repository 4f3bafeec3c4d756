"""One call to a queue and the outcome it is judged by; the drain loop built on such calls.

Responsibility: `outcome_of` turns what an adapter call did (a return value or an exception)
into the outcome value the model judges (`Ok`, `Failed` or `Unknown`); `drain_answers` is the
loop that reserves until the queue answers null. The session, the concurrency recorder and the
fault runs all call a queue through these, so an exception means the same thing everywhere and
every drain has the same bound.

Rule: imports the adapter protocol, the reference vocabulary and the progress counters only,
so the concurrency code can use it without loading the session, Hypothesis or the fault
machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from mqspec.adapters.base import OperationCut
from mqspec.conformance.core.progress import PROGRESS
from mqspec.reference.errors import MqspecError
from mqspec.reference.types import Failed, Ok, Outcome, Unknown

__all__ = ["drain_answers", "outcome_of"]


def outcome_of(
    action: Callable[[], Any], fault_outcome: Callable[[], Unknown | None] | None = None
) -> tuple[Outcome, bool]:
    """Call ``action()``; return its outcome and whether the call completed.

    A return value is `Ok`. An `OperationCut` (the adapter crashed inside the call and is
    back) is `Unknown`, and the call did not complete: no answer to trust (MQ-LOSS-2). An
    `MqspecError` is the harness's (the adapter could not be driven at all) and propagates.
    Any other exception is the queue's error answer, `Failed`, judged like any answer; unless
    ``fault_outcome`` is given and says an injected fault hit the call: then it is the
    `Unknown` that hook returns, with the error's text appended (the call may or may not have
    taken effect).
    """
    PROGRESS.operation()
    try:
        return Ok(action()), True
    except OperationCut as err:
        return Unknown(str(err) or "cut by a crash"), False
    except MqspecError:
        raise
    except Exception as err:  # the queue's error answer, judged by the contract
        message = f"{type(err).__name__}: {err}"
        cut = fault_outcome() if fault_outcome is not None else None
        if cut is not None:
            return attrs.evolve(cut, reason=f"{cut.reason}: {message}"), True
        return Failed(message), True


def drain_answers(
    reserve: Callable[[], Outcome],
    most: int,
    *,
    past_errors: bool = False,
    after_cut: Callable[[], None] | None = None,
) -> Iterator[Outcome]:
    """Reserve until the queue answers null, yielding every answer in the order it came.

    ``most`` is the most jobs that can still be live, so at most ``most + 1`` answers count
    (every live job, then null); the loop ends there even if null never came, and the caller
    tells the two apart by the last answer. Answers that do not count:

    * an error answer (`Failed`) ends the drain, unless ``past_errors``: then it counts and
      the drain goes on (a queue may fail one reserve and still serve the next);
    * an unknown answer (a reserve cut by a crash, which may have reserved a job) ends the
      drain, unless ``after_cut`` is given: then ``after_cut()`` runs (it waits that
      reservation out) and the reserve does not count, at most ``most + 1`` times; past that
      it counts as an error answer does.

    An exception from ``reserve`` propagates, ending the drain after the answers yielded.
    """
    counted = cuts = 0
    while counted < most + 1:
        outcome = reserve()
        yield outcome
        if isinstance(outcome, Unknown) and after_cut is not None and cuts <= most:
            cuts += 1
            after_cut()
            continue
        counted += 1
        if isinstance(outcome, Ok):
            if outcome.value is None:
                return
            continue
        if not past_errors:
            return
