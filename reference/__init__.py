"""mqspec.reference: the executable reference model of the fn MessageQueue contract.

Pure and deterministic: no I/O, no clock, no threads, no harness. Imports the standard library
and attrs only. The clause catalogue it loads is ``spec/clauses.toml``.

Read it top down: `model` (the set of queue states that explain what was observed) over
`queue_state` (one conforming state and the contract's checks on each call), built on
`job_store` (the heaps and time) and `job` (one job and its heap entries); `root_causes` names
the clause a divergence really breaks; `tasks` says what a valid task is, `jsonvalue` what
equal JSON is; `types`, `clauses` and `errors` are the values they share.
"""

from mqspec.reference.clauses import CATALOGUE, Clause, clause
from mqspec.reference.errors import DriverError, MqspecError, UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY, json_equal, without_token
from mqspec.reference.model import Model
from mqspec.reference.tasks import PRIORITIES, task_problem
from mqspec.reference.types import Capabilities, Failed, Finding, Ok, Outcome, Unknown, Verdict

__all__ = [
    "CATALOGUE",
    "PRIORITIES",
    "TOKEN_KEY",
    "Capabilities",
    "Clause",
    "DriverError",
    "Failed",
    "Finding",
    "Model",
    "MqspecError",
    "Ok",
    "Outcome",
    "Unknown",
    "UsageError",
    "Verdict",
    "clause",
    "json_equal",
    "task_problem",
    "without_token",
]
