"""Fault runs: cut operations with injected failures and prove no job is lost.

Responsibility: MQ-LOSS-2 (an operation cut by a fault takes full effect or none), MQ-LOSS-3 (a
Push that reported failure has not queued the job) and MQ-LOSS-1 (nothing is lost), under
faults that land before, during and after operations:

* server adapters (``redis://``, ``postgresql://``/``postgres://``, ``mysql://``/``mariadb://``)
  are reopened through a `FaultProxy` (`mqspec.conformance.faults.proxy`): connection resets,
  stalls, lost answers, slow links;
* every other adapter is wrapped in a `FaultyQueue` (`mqspec.conformance.faults.injection`):
  errors before or after the call, and faults at the points inside operations an adapter
  declares (`mqspec.adapters.base.FaultPoints`).

An operation that raised while a fault hit it is judged as an unknown outcome (for a Push, one
that reported failure); one that raised with no fault is an error, judged as ever. Faults
always heal before a case's reset and before its final drain.

Which fault hit decides what the error means (`mqspec.conformance.faults.injection`): one that
stopped the request before the queue acted makes a Push a reported failure, which SHOULD have
queued nothing (MQ-LOSS-3, a warning if the job comes out); one that lost the answer after the
queue acted (``error-after``, ``drop-response``) is a plain unknown, which may have queued the
job once. So a correct queue passes in strict mode too.

The interface the engine uses::

    with FaultRig(adapter, opened_url, seed=seed) as rig:
        machine = rig.machine(strict)       # a FaultMachine subclass (a QueueMachine)
        ...                                 # run it with Hypothesis (machine_search.run_machine)
        stats = rig.stats                   # a FaultStats snapshot

``adapter`` is the open adapter and ``opened_url`` the URL it was opened with (its ``queue=``
included). For a server URL the rig opens a second adapter on the same namespace through the
proxy and closes it on exit; it never drops the namespace (the caller owns it). `FaultStats`
holds the faults injected and fired by kind, the operations that errored or had an unknown
outcome, the violations by clause, and the Jepsen-style counts over every case's final drain
(lost, duplicated, unexpected; `mqspec.conformance.faults.ledger`), each attributed to the clause
the case failed on ("none" if it failed on none: a hole in the model).

Forbidden imports: click, pytest (front ends), the engine (it imports this module).
"""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import open_adapter
from mqspec.conformance.core.calls import drain_answers, outcome_of
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.statemachine import QueueMachine
from mqspec.conformance.faults.injection import FaultyQueue
from mqspec.conformance.faults.ledger import Anomalies, tally
from mqspec.conformance.faults.proxy import FaultProxy
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Ok, Outcome

__all__ = ["SERVER_SCHEMES", "FaultMachine", "FaultRig", "FaultStats"]

SERVER_SCHEMES = {
    "redis": 6379,
    "postgresql": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
}
"""Schemes reached over TCP, so faulted through a `FaultProxy`, with their default ports."""

UNJUDGED_WAIT = 3600
"""Seconds past every deadline an unjudged drain runs at: more than any delay the machine uses."""

MOST_WORLDS_TO_FAULT = 4
"""No fault is armed while more possible states than this explain the case.

Each operation a fault cuts may have taken effect or not, which can double the states, and the
model pays for every later operation in every state. Four rules arm faults, so a fault case
cuts operations often: 4 keeps a heavily faulted case about as fast as a plain one. (Crash runs
bound the same count separately, `mqspec.conformance.faults.crash.MOST_WORLDS_TO_CRASH`: one
rule cuts an operation there.)"""


@attrs.frozen
class FaultStats:
    """What a fault run did, over every case Hypothesis ran (shrinking included).

    Attributes:
        injected: faults armed, by kind (``point`` for every fault point).
        fired: faults that actually happened, by kind.
        cases: test cases run; ``drained``: those whose final drain reached null.
        operations: push, reserve, delete and drain calls judged.
        errored: of those, the ones that answered with an error.
        unknown: the ones judged an unknown outcome (an error while a fault hit them).
        refused: pushes a fault stopped before the queue acted (MQ-LOSS-3 applies to them).
        violations: cases that failed, by the clause they failed on.
        lost, duplicated, unexpected: the Jepsen-style counts over the final drains.
        by_clause: those counts by the clause of the case they occurred in (``"none"``: the
            case failed on no clause).
    """

    injected: dict[str, int]
    fired: dict[str, int]
    cases: int
    drained: int
    operations: int
    errored: int
    unknown: int
    refused: int
    violations: dict[str, int]
    lost: int
    duplicated: int
    unexpected: int
    by_clause: dict[str, dict[str, int]]

    @classmethod
    def merged(cls, parts: list[FaultStats]) -> FaultStats:
        """The stats of several runs as one (the real-clock faults phase's workers)."""

        def total(name: str) -> dict[str, int]:
            out: Counter[str] = Counter()
            for part in parts:
                out.update(getattr(part, name))
            return dict(out)

        by_clause: dict[str, Counter[str]] = {}
        for part in parts:
            for clause, counts in part.by_clause.items():
                by_clause.setdefault(clause, Counter()).update(counts)
        return cls(
            injected=total("injected"),
            fired=total("fired"),
            cases=sum(p.cases for p in parts),
            drained=sum(p.drained for p in parts),
            operations=sum(p.operations for p in parts),
            errored=sum(p.errored for p in parts),
            unknown=sum(p.unknown for p in parts),
            refused=sum(p.refused for p in parts),
            violations=total("violations"),
            lost=sum(p.lost for p in parts),
            duplicated=sum(p.duplicated for p in parts),
            unexpected=sum(p.unexpected for p in parts),
            by_clause={clause: dict(counts) for clause, counts in by_clause.items()},
        )


class FaultMachine(QueueMachine):
    """`QueueMachine` on a `FaultyQueue`, with rules that arm faults for the next operation."""

    adapter: FaultyQueue
    rig: FaultRig

    def __init__(self) -> None:
        self.adapter.heal()  # before the reset the Session makes
        super().__init__()
        self.session.fault_outcome = self.adapter.fault_outcome

    def _may_arm(self) -> bool:
        """Whether a fault may be armed now: none is waiting, and the model can still follow
        the outcomes a fault leaves.

        Through the proxy it is read inside the rules, not as a precondition (`_may_draw`):
        there both halves depend on the network, on whether an armed fault has fired yet (how
        the client's requests were cut into chunks) and on the outcomes faults left, so two
        runs of one program may differ, and Hypothesis requires the rules a program could
        choose to be the same on every run (a precondition that changed raised
        FlakyStrategyDefinition on Redis). A rule drawn while arming is not allowed does
        nothing. Faults at the adapter's boundary fire the same way on every run, so there it
        stays a precondition, and the programs drawn are those of before.
        """
        model = self.session.model
        if self.adapter.armed is not None or model.inconclusive:
            return False
        return model.worlds <= MOST_WORLDS_TO_FAULT

    def _may_draw(self) -> bool:
        """The arming rules' precondition: always through the proxy, else `_may_arm`."""
        return self.adapter.proxy is not None or self._may_arm()

    @precondition(lambda self: self._may_draw())
    @rule(data=st.data())
    def arm_fault(self, data: st.DataObject) -> None:
        """Cut the next push, reserve or delete at its start, or inside it at a fault point:
        it must take full effect or none (MQ-LOSS-2)."""
        kind = data.draw(st.sampled_from(self.adapter.kinds), label="kind")
        if self._may_arm():
            self.adapter.arm(kind)

    @precondition(lambda self: self._may_draw())
    @rule(after=st.integers(0, 2))
    def arm_lost_answer(self, after: int) -> None:
        """The next operation takes effect and its answer is lost (MQ-LOSS-2; for a Push that
        then reports failure, MQ-LOSS-3). Through the proxy, ``after`` round trips pass
        first, so the answer lost may be a transaction's COMMIT."""
        if self._may_arm():
            proxied = self.adapter.proxy is not None
            self.adapter.arm("drop-response" if proxied else "error-after", after=after)

    @precondition(lambda self: bool(self.adapter.points) and self._may_draw())
    @rule(data=st.data())
    def arm_fault_point(self, data: st.DataObject) -> None:
        """Strike inside an operation, at a point the adapter declares (between two of its
        writes, say): the operation must still take full effect or none (MQ-LOSS-2)."""
        point = data.draw(st.sampled_from(self.adapter.points), label="point")
        if self._may_arm():
            self.adapter.arm(f"point:{point}")

    @precondition(lambda self: self.adapter.proxy is not None)
    @rule(kind=st.sampled_from(("reset", "stall-reset")), after=st.integers(1, 3))
    def arm_fault_later(self, kind: str, after: int) -> None:
        """Reset a later round trip: inside a multi-statement operation, or one after next."""
        if self._may_arm():
            self.adapter.arm(kind, after=after)

    @rule()
    def heal_faults(self) -> None:
        """The network is whole again: whatever was armed never fires."""
        self.adapter.heal()

    def teardown(self) -> None:
        # Heal first: the final drain must see the queue, not a fault (MQ-LOSS-1).
        self.adapter.heal()
        try:
            super().teardown()
        finally:
            self.rig.record(self.session, self._finish_drain())

    def _finish_drain(self) -> list[Any] | None:
        """For the counts only: when the judged drain did not reach null (the case failed
        first), drain the queue unjudged, far past every deadline and delay, to see what it
        still holds. None when the judged drain finished, or in real time."""
        steps = self.session.transcript.steps
        if steps and steps[-1].op == "drain" and steps[-1].outcome == Ok(None):
            return None
        if self.session.realtime:
            return None
        at = self.session.now + 2 * self.session.capabilities.reservation_timeout + UNJUDGED_WAIT
        pushes = sum(step.op == "push" for step in steps)
        out: list[Any] = []

        def reserve() -> Outcome:
            return outcome_of(lambda: self.adapter.reserve(at))[0]

        # Any answer but a task or null ends it, and so does any exception (a DriverError
        # too): the queue cannot be drained, so count what came out (null included).
        with suppress(Exception):
            for outcome in drain_answers(reserve, pushes):
                if isinstance(outcome, Ok):
                    out.append(outcome.value)
        return out


class FaultRig:
    """Everything one fault run needs, built from an open adapter and the URL it was opened with.

    Args:
        adapter: the open adapter (the caller owns it, and closes and drops it).
        url: the URL ``adapter`` was opened with; for a server, with its ``queue=``.
        seed: seeds the proxy's stall and slow delays.

    Raises:
        UsageError: a server URL without ``queue=`` for an adapter that does not say its
            namespace (a second adapter must open the very same one).
        DriverError: the adapter cannot be opened again through the proxy.
    """

    def __init__(self, adapter: QueueAdapter, url: str, *, seed: int = 0) -> None:
        self.adapter = adapter
        self.url = url
        self.seed = seed
        self.proxy: FaultProxy | None = None
        self.queue: FaultyQueue | None = None
        self._proxied: QueueAdapter | None = None
        self._cases: list[tuple[Anomalies, str | None]] = []

    def __enter__(self) -> FaultRig:
        scheme = self.url.split(":", 1)[0].lower()
        if scheme not in SERVER_SCHEMES:
            self.queue = FaultyQueue(self.adapter)
            return self
        parts = urlsplit(self.url)
        self.proxy = FaultProxy(
            parts.hostname or "localhost", parts.port or SERVER_SCHEMES[scheme], seed=self.seed
        )
        try:
            self._proxied = open_adapter(self._through_proxy(self.proxy.port))
        except BaseException:
            self.proxy.close()
            raise
        self.queue = FaultyQueue(self._proxied, proxy=self.proxy)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Heal, close the adapter opened through the proxy (never drop it), stop the proxy."""
        if self.queue is not None:
            self.queue.heal()
        if self._proxied is not None:
            self._proxied.close()
            self._proxied = None
        if self.proxy is not None:
            self.proxy.close()

    def machine(self, strict: bool = False) -> type[FaultMachine]:
        """A `FaultMachine` subclass bound to this rig; its transcripts name the real URL."""
        if self.queue is None:
            raise UsageError("FaultRig.machine() needs the rig entered (use it with `with`)")
        attributes = {
            "adapter": self.queue,
            "rig": self,
            "strict": strict,
            "url": self.url,
            "findings": [],
        }
        return type("FaultMachine", (FaultMachine,), attributes)

    def record(self, session: Session, unjudged: list[Any] | None = None) -> None:
        """Account for one finished case (called by `FaultMachine.teardown`); ``unjudged``:
        what an unjudged drain after a failed case took, None marking its end."""
        timeout = session.capabilities.reservation_timeout
        clause = None if session.violation is None else session.violation.finding.clause.id
        self._cases.append((tally(session.transcript.steps, timeout, unjudged), clause))

    @property
    def stats(self) -> FaultStats:
        """A snapshot of the run so far (see `FaultStats`)."""
        queue = self.queue
        by_clause: dict[str, Counter[str]] = {}
        violations: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for anomalies, clause in self._cases:
            if clause is not None:
                violations[clause] += 1
            counts = {k: n for k, n in anomalies.counts().items() if n}
            totals.update(counts)
            if counts:
                by_clause.setdefault(clause or "none", Counter()).update(counts)
        return FaultStats(
            injected=dict(queue.injected) if queue else {},
            fired=dict(queue.fired_by_kind()) if queue else {},
            cases=len(self._cases),
            drained=sum(a.drained for a, _ in self._cases),
            operations=sum(a.operations for a, _ in self._cases),
            errored=sum(a.errored for a, _ in self._cases),
            unknown=sum(a.unknown for a, _ in self._cases),
            refused=sum(a.refused for a, _ in self._cases),
            violations=dict(violations),
            lost=totals["lost"],
            duplicated=totals["duplicated"],
            unexpected=totals["unexpected"],
            by_clause={clause: dict(counts) for clause, counts in by_clause.items()},
        )

    def _through_proxy(self, port: int) -> str:
        """``url`` with its host:port replaced by the proxy's, on the same namespace."""
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        query = parts.query
        if "queue=" not in query:
            name = getattr(self.adapter, "queue", None)
            if not isinstance(name, str):
                raise UsageError(
                    f"fault runs need the namespace {self.url!r} was opened on: add ?queue=<name>"
                )
            query = f"{query}&queue={name}" if query else f"queue={name}"
        return parts._replace(netloc=netloc, query=query).geturl()
