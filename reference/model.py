"""The reference model: the set of queue states that explain everything observed so far.

Rule: no I/O, no clock, no harness. The caller reports each operation with the time it ran and
the outcome the backend gave; the model answers with a `Verdict`.

Most observations leave exactly one possible state, and then the model costs O(log n) per
operation. Where the contract leaves an outcome open, the model keeps every possible state
(deduplicated) and narrows the set by later observations; past ``max_worlds`` it stops judging
and reports ``inconclusive`` rather than risk a false failure.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from mqspec.reference.errors import UsageError
from mqspec.reference.job import Instants
from mqspec.reference.queue_state import QueueState, Transition
from mqspec.reference.types import Capabilities, Finding, Outcome, Verdict

__all__ = ["Instants", "Model"]

# Verdicts are frozen values, so the two commonest ones are shared.
_ALLOWED = Verdict()
_INCONCLUSIVE = Verdict(inconclusive=True)


class Model:
    """Checks one queue's observed behaviour against the contract, operation by operation.

    Args:
        capabilities: what the queue under test declares about itself.
        now: the queue clock's starting time, in seconds.
        max_worlds: the most possible states kept before the verdict becomes inconclusive.
    """

    def __init__(
        self, capabilities: Capabilities, now: float = 0.0, *, max_worlds: int = 64
    ) -> None:
        self.capabilities = capabilities
        self.now = now
        self.max_worlds = max_worlds
        self.inconclusive = False
        self._worlds: list[QueueState] = [QueueState(capabilities, now)]
        self._pushes = 0

    # ---------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        """Move the queue clock to ``now``.

        Raises:
            UsageError: ``now`` is earlier than the last time given, or not a finite number.
        """
        kind = type(now)
        if (
            # A plain float or int (the common case) skips the isinstance checks.
            kind is not float
            and kind is not int
            and (isinstance(now, bool) or not isinstance(now, (int, float)))
        ) or now - now != 0:  # NaN or an infinity: x - x is NaN for both, 0 for any other
            raise UsageError(f"now must be a finite number of seconds, got {now!r}")
        if now < self.now:
            raise UsageError(f"time ran backwards: now={now!r} after now={self.now!r}")
        self.now = now
        for world in self._worlds:
            world.settle(now)

    # ---------------------------------------------------------------- operations

    def push(self, task: Any, now: float, outcome: Outcome) -> Verdict:
        """Check that Push(``task``) at ``now`` may answer ``outcome``.

        The model keeps a reference to ``task``; the caller must not mutate it afterwards.
        """
        self.advance(now)
        self._pushes += 1
        uid = self._pushes
        if self.inconclusive:
            return _INCONCLUSIVE
        worlds = self._worlds
        if len(worlds) == 1:  # the common case, without a closure
            return self._settle_one(worlds[0].push(uid, task, outcome))
        return self._step_many(lambda w: w.push(uid, task, outcome))

    def reserve(self, now: float, outcome: Outcome, *, final: bool = False) -> Verdict:
        """Check that Reserve at ``now`` may answer ``outcome``.

        Args:
            final: this Reserve is part of the drain that ends a case (MQ-LOSS-1), made after
                every ready time and deadline plus slack has passed.
        """
        self.advance(now)
        if self.inconclusive:
            return _INCONCLUSIVE
        worlds = self._worlds
        if len(worlds) == 1:
            return self._settle_one(worlds[0].reserve(outcome, final))
        return self._step_many(lambda w: w.reserve(outcome, final))

    def delete(self, task: dict[str, Any], now: float, outcome: Outcome) -> Verdict:
        """Check that Delete(``task``) at ``now`` may answer ``outcome``.

        Raises:
            UsageError: ``task`` has no string ``id`` (the harness never sends one).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise UsageError(f"delete needs a task with a string id, got {task!r}")
        self.advance(now)
        if self.inconclusive:
            return _INCONCLUSIVE
        worlds = self._worlds
        if len(worlds) == 1:
            return self._settle_one(worlds[0].delete(task, outcome))
        return self._step_many(lambda w: w.delete(task, outcome))

    def _settle_one(self, result: Transition | Finding) -> Verdict:
        """The verdict on the only possible state's transition ``result``."""
        if isinstance(result, Finding):
            return Verdict(violation=result)
        successors, warning = result
        self._worlds = successors
        if len(successors) > 1:
            self._dedupe()
        if warning:
            return Verdict(warnings=(warning,), inconclusive=self.inconclusive)
        return _INCONCLUSIVE if self.inconclusive else _ALLOWED

    def _step_many(self, transition: Any) -> Verdict:
        successors: list[QueueState] = []
        first_finding: Finding | None = None
        warnings: list[Finding | None] = []
        for world in self._worlds:
            result: Transition | Finding = transition(world)
            if isinstance(result, Finding):
                first_finding = first_finding or result
                continue
            more, warning = result
            successors.extend(more)
            warnings.append(warning)
        if not successors:
            # Rejected worlds were left untouched (transitions decide before they mutate).
            assert first_finding is not None
            return Verdict(violation=first_finding)
        self._worlds = successors
        self._dedupe()
        # A SHOULD finding stands only if every explanation of the observation needs it.
        warning = warnings[0] if warnings and all(w is not None for w in warnings) else None
        return Verdict(warnings=(warning,) if warning else (), inconclusive=self.inconclusive)

    def _dedupe(self) -> None:
        seen: dict[Any, QueueState] = {}
        for world in self._worlds:
            seen.setdefault(world.fingerprint(), world)
        self._worlds = list(seen.values())
        if len(self._worlds) > self.max_worlds:
            self.inconclusive = True
            self._worlds = self._worlds[:1]

    def restart(self, now: float) -> None:
        """The process holding the queue was killed and started again at ``now``.

        A durable queue must come back unchanged (MQ-DURABLE-1); an operation cut by the kill
        is reported separately, as an `Unknown` outcome.

        Raises:
            UsageError: the queue does not declare itself durable (it may forget everything).
        """
        if not self.capabilities.durable:
            raise UsageError("restart() needs a queue that declares durable=True")
        self.advance(now)
        for world in self._worlds:
            world.restart()

    def fork(self) -> Model:
        """An independent copy: O(n) in live jobs, far cheaper than `copy.deepcopy`.

        For searches over possible histories (the linearizability checker) that try an
        observation on a copy and keep the original.
        """
        twin = object.__new__(Model)
        twin.__dict__.update(self.__dict__)
        twin._worlds = [world.copy() for world in self._worlds]
        return twin

    # ---------------------------------------------------------------- reading

    def state_key(self, instants: Instants | None = None) -> Hashable:
        """A hashable summary of the possible states: two models with equal keys behave the same.

        For searches that memoise (the linearizability checker skips a node whose set of
        placed operations already reached an equal key). Jobs are named by the identity of the
        task object their Push was given (the model keeps that object), so keys compare only
        between models fed the same task objects, and only while those objects live.

        Args:
            instants: None for the exact key: every job with all its instants, and the clock.
                Otherwise the clock is left out and each job's instants are replaced by what
                ``instants(deadline, delayed, lo, hi, ready_at)`` returns; jobs are listed in
                their place in line ((priority, push order): only the order within a priority
                matters, MQ-ORDER-2), so pushes that commuted share one key. The caller
                decides which instants can no longer change a verdict, and answers for it.

        Returns:
            A hashable value; equal values mean equal sets of possible states (up to what
            ``instants`` chose to forget).
        """
        keys = [world.state_key(instants) for world in self._worlds]
        key = keys[0] if len(keys) == 1 else frozenset(keys)
        return (self.now, key) if instants is None else key

    @property
    def worlds(self) -> int:
        """How many possible states explain the observations so far."""
        return len(self._worlds)

    def allowed_reserve(self) -> tuple[list[str], bool]:
        """What Reserve may return now: the ids (sorted) and whether null is allowed."""
        ids: set[str] = set()
        null_ok = False
        for world in self._worlds:
            ids.update(world.allowed_ids())
            null_ok = null_ok or world.null_allowed()
        return sorted(ids), null_ok

    def live_count(self) -> tuple[int, int]:
        """The fewest and most live jobs over the possible states."""
        counts = [w.live_count() for w in self._worlds]
        return min(counts), max(counts)

    def next_events(self) -> list[float]:
        """Upcoming times where readiness or a reservation changes, over every possible state."""
        times: set[float] = set()
        for world in self._worlds:
            times.update(world.next_events())
        return sorted(times)

    def quiet_time(self) -> float:
        """The earliest time by which every ready time and deadline plus slack has passed."""
        events = self.next_events()
        return max(events[-1], self.now) if events else self.now
