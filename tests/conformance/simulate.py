"""Histories of a correct queue served one call at a time behind random latencies, simulated.

This is how an ``exec:`` driver answers concurrent clients: each request travels to one
process (latency), waits its turn, is served (the queue decides at the moment it is served,
which is the ``now`` the recorder hands a serial adapter), and the answer travels back. A
discrete-event simulation produces such histories by the thousand, with every overlap and
delay a real run could show, in milliseconds of CPU and no threads. Every history it makes is
linearizable by construction (the serving order is a witness), so a checker that flags one
raises a false alarm.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.reference.types import Failed, Ok, Outcome


def _call(queue: QueueAdapter, kind: str, task: Any, now: float) -> Outcome:
    try:
        if kind == "push":
            return Ok(queue.push(dict(task), now))
        if kind == "reserve":
            return Ok(queue.reserve(now))
        queue.delete(dict(task), now)
        return Ok(None)
    except Exception as err:  # the queue's error answer
        return Failed(f"{type(err).__name__}: {err}")


def simulate(
    make_queue: Callable[[], QueueAdapter],
    seed: int,
    *,
    clients: int = 3,
    ops_per_client: int = 12,
    latency: float = 0.004,
    service: float = 0.002,
    delay_rate: float = 0.15,
) -> History:
    """One history: ``clients`` clients, each making ``ops_per_client`` calls in turn.

    Each call waits a random think time, then up to ``latency`` to reach the queue, waits
    for the queue to be free, is served in up to ``service`` seconds, and takes up to
    ``latency`` to come back. Reservation timeouts and delays are drawn so that deadlines and
    ready times fall inside the recording, next to and inside calls' windows. The history
    ends with a drain, as the recorder's does.
    """
    rng = random.Random(seed)
    queue = make_queue()
    caps = queue.capabilities
    queue.reset(0.0)
    events: list[tuple[float, int, int, str]] = []  # (time, tie, client, what)
    tie = 0
    state: list[dict[str, Any]] = [{"k": 0, "held": [], "call": None} for _ in range(clients)]
    server_free = 0.0
    operations: list[Operation] = []
    served_at = 0.0

    def plan(client: int, at: float) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (at + rng.uniform(0, latency), tie, client, "think"))

    for c in range(clients):
        plan(c, 0.0)
    while events:
        at, _, client, what = heapq.heappop(events)
        me = state[client]
        if what == "think":
            if me["k"] >= ops_per_client:
                continue
            k = me["k"]
            me["k"] += 1
            pick = rng.random()
            if pick < 0.4:
                task: Any = {"id": f"c{client}-{k}", "priority": rng.randrange(3)}
                if rng.random() < delay_rate:
                    task["delay"] = rng.choice((1, 1, 2))
                kind = "push"
            elif pick < 0.8 or not me["held"]:
                kind, task = "reserve", None
            else:
                kind = "delete"
                task = me["held"].pop(rng.randrange(len(me["held"])))
            me["call"] = (kind, task, at)
            tie += 1
            heapq.heappush(events, (at + rng.uniform(0, latency), tie, client, "arrive"))
        elif what == "arrive":
            kind, task, invoke = me["call"]
            start = max(at, server_free, served_at)
            served_at = start
            outcome = _call(queue, kind, task, start)
            server_free = start + rng.uniform(0, service)
            done = server_free + rng.uniform(0, latency)
            operations.append(
                Operation(
                    client=client, op=kind, task=task, invoke=invoke, complete=done, result=outcome
                )
            )
            value = outcome.value if isinstance(outcome, Ok) else None
            if kind == "reserve" and isinstance(value, dict) and rng.random() < 0.8:
                me["held"].append(value)
            plan(client, done)
    # The drain: past every deadline and ready time plus slack, reserve until null.
    last = max((op.complete or 0.0) for op in operations) if operations else 0.0
    now = last + caps.reservation_timeout + 2 + caps.slack + 1
    queue.tick(now)
    for _ in range(len(operations) + 1):
        outcome = _call(queue, "reserve", None, now)
        operations.append(
            Operation(
                client=clients,
                op="reserve",
                invoke=now,
                complete=now + 0.0001,
                result=outcome,
                drain=True,
            )
        )
        now += 0.0002
        if not isinstance(outcome, Ok) or outcome.value is None:
            break
    queue.close()
    operations.sort(key=lambda o: (o.invoke, o.client))
    return History(capabilities=caps, operations=operations, clock="virtual", meta={"seed": seed})
