"""mutmut 2 hook (copied to the root of the work copy by bench/mutation/run.sh).

Skips a mutant whose line belongs to no statement the test command ever executed (see
`executed_lines.py`): such a mutant cannot be killed by the test, and it would cost a full run.
Skipped mutants are reported and counted as *not killed* in reports/mutation.md.
"""

import json
import os

_EXECUTED = None


def pre_mutation(context):
    global _EXECUTED
    if _EXECUTED is None:
        path = os.environ.get("MQSPEC_MUT_EXECUTED", "executed.json")
        with open(path, encoding="utf-8") as f:
            _EXECUTED = set(json.load(f)["lines"])
    if context.current_line_index + 1 not in _EXECUTED:
        context.skip = True
