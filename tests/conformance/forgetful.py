"""A queue that declares itself durable but keeps its jobs only in memory (MQ-DURABLE-1).

The crash tests load it in a host process as ``py:forgetful:ForgetfulDurable``, with this folder
on PYTHONPATH: every restart of that process forgets every job, which the crash profile must
catch on MQ-DURABLE-1.
"""

from __future__ import annotations

import attrs

from mqspec.adapters.memory import MemoryQueue
from mqspec.reference.types import Capabilities


class ForgetfulDurable(MemoryQueue):
    """Claims durable=True, yet its jobs live in the process's memory and die with it."""

    @property
    def capabilities(self) -> Capabilities:
        return attrs.evolve(super().capabilities, durable=True)
