"""A queue that declares itself durable but keeps its jobs only in memory (MQ-DURABLE-1).

The crash tests load it in a host process as ``py:forgetful:ForgetfulDurable``, with this folder
on PYTHONPATH: every restart of that process forgets every job, which the crash profile must
catch on MQ-DURABLE-1. The class itself is the catalogue's mutant ``forgetful-durable``.
"""

from __future__ import annotations

from mqspec.adapters.selftest.mutants import ForgetfulDurable

__all__ = ["ForgetfulDurable"]
