"""The profiles: how hard, and how, the engine looks at a queue.

Rule: plain values, imported by the engine and the front ends (for ``--profile`` choices).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "FULL",
    "PROFILES",
    "REALTIME_MAX_TIMEOUT",
    "REALTIME_TIMEOUT",
    "Profile",
    "combined",
    "profiles_named",
]


@attrs.frozen
class Profile:
    """How hard to look: Hypothesis examples and steps per example (0: no state machine).

    ``realtime`` runs on the real clock with the adapter's own time source (``now=None``): the
    production code path, as every profile does for a queue that declares ``virtual_time``
    false. The scenarios run on the real clock, then the state machine on a compressed
    timescale (``realtime_steps`` per example) with several workers for ``realtime_budget``
    seconds (`mqspec.conformance.core.realclock`). It needs a reservation timeout of at most
    `REALTIME_MAX_TIMEOUT` seconds; the harness asks for one where the queue lets it set it.

    ``crash`` runs the state machine on a queue that declares ``durable`` in a process of its
    own, killed with SIGKILL between and inside operations (`mqspec.conformance.faults.crash`); the
    engine reopens the queue there by its URL. A queue that is not durable gets the ordinary
    state machine instead.

    ``faults`` runs the state machine with injected faults (`mqspec.conformance.faults.runs`):
    connection resets, stalls and lost answers through a TCP proxy for the servers, errors
    before and after the call (and at the fault points an adapter declares) for the others;
    then, for a durable queue that is not a server, the crash machine too (SIGKILL inside
    operations, `crash`). On the real clock it runs like the real-clock search: parallel
    workers for a budget, a fault rig each.

    ``crash_check`` (quick, thorough): after the state machine, a queue that declares
    ``durable`` also gets that many examples of the crash machine, when the engine can reopen
    it by URL in a process of its own (not for a server, whose data is not in that process).

    ``concurrency`` runs several clients at once on one queue (`run_concurrency`, named
    settings ``concurrency``): recorded histories checked by the fast and the exact checker,
    then small parallel programs, shrunk. Queues the engine can open again by URL (the
    servers, SQLite) get one connection per client; any other adapter is shared by every
    client thread and must be thread-safe (memory and ``exec:`` are).
    """

    name: str
    examples: int
    steps: int
    realtime: bool = False
    crash: bool = False
    faults: bool = False
    concurrency: str = ""  # the `run_concurrency` settings to use; "" runs no clients
    # Examples of the crash machine run after the state machine for a queue that declares
    # durable (0: none): a durable claim is cheap to check, so the default run checks it.
    crash_check: int = 0
    # On the real clock (a queue that reads its own clock): steps per example, the seconds
    # the whole search may take, and the seconds shrinking one failure may take, all slept.
    realtime_steps: int = 15
    realtime_budget: float = 120.0
    realtime_shrink: float = 60.0
    # Seconds Hypothesis may spend shrinking a failure; then it reports the smallest so far.
    shrink_seconds: float = 20.0
    # A run of several profiles (``--profile quick,faults``, ``full``): the scenarios run once,
    # then each part's search in turn, into one report. Empty for a single profile.
    parts: tuple[Profile, ...] = ()

    @property
    def searches(self) -> tuple[Profile, ...]:
        """The profiles whose searches this one runs, in order: its parts, or itself."""
        return self.parts or (self,)


PROFILES = {
    "quick": Profile("quick", examples=60, steps=40, crash_check=10),
    "thorough": Profile(
        "thorough",
        examples=400,
        steps=80,
        shrink_seconds=120.0,
        crash_check=25,
        realtime_steps=25,
        realtime_budget=600.0,
        realtime_shrink=180.0,
    ),
    "realtime": Profile("realtime", examples=60, steps=40, realtime=True),
    "crash": Profile("crash", examples=25, steps=25, crash=True),
    "faults": Profile("faults", examples=40, steps=30, faults=True),
    "concurrency": Profile("concurrency", examples=0, steps=0, concurrency="quick"),
}

FULL = ("quick", "faults", "concurrency")
"""What ``full`` runs: every search the queue's capabilities allow. The quick state machine
(and, for a durable queue the engine can reopen, its crash check), the faults machine (then the
crash machine, for a durable queue that is not a server) and the concurrent clients."""


def combined(parts: Sequence[Profile], name: str = "") -> Profile:
    """One profile that runs ``parts``' searches in turn (a single part is returned as it is).

    The scenarios run once: on the real clock if any part says so. ``name`` defaults to the
    parts' names joined by commas, as ``--profile`` takes them.
    """
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return attrs.evolve(
        first,
        name=name or ",".join(p.name for p in parts),
        realtime=any(p.realtime for p in parts),
        crash=any(p.crash for p in parts),
        faults=any(p.faults for p in parts),
        concurrency="",
        parts=tuple(parts),
    )


def profiles_named(text: str) -> Profile:
    """The profile ``text`` names: one name, several joined by commas (run in that order,
    each once), or ``full`` (`FULL`).

    Raises:
        ValueError: an empty list, or a name no profile has; the message lists the known ones.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = [*PROFILES, "full"]
    if not names:
        raise ValueError(f"no profile named; known: {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown profile {unknown[0]!r}; known: {', '.join(known)}")
    expanded = [part for n in names for part in (FULL if n == "full" else (n,))]
    parts = [PROFILES[n] for n in dict.fromkeys(expanded)]
    if any(p.faults for p in parts):
        # The faults profile runs the crash machine after its own for every durable queue the
        # crash check could reach: the check would only repeat it.
        parts = [attrs.evolve(p, crash_check=0) for p in parts]
    return combined(parts, name=",".join(dict.fromkeys(names)))


REALTIME_MAX_TIMEOUT = 5.0
"""The longest reservation timeout a real-clock run accepts: every second of it is slept."""

REALTIME_TIMEOUT = 1.0
"""The reservation timeout the harness asks for on the real clock, where the queue lets it."""
