"""Run the mutants the conformance suite did not kill against the adapter's own unit tests.

    python bench/mutation/crosscheck.py WORKDIR adapters/sqlite.py tests/adapters/test_sqlite.py

Not part of the score (the score is the conformance suite's); it tells, for each surviving or
skipped mutant, whether the adapter's unit tests catch it, which separates "out of the contract
and tested elsewhere" from "tested nowhere". Run it in the work copy after mutmut has finished
(the file must be pristine); it restores the file after each mutant. Prints JSON lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mutmut import Context, RelativeMutationID, mutate
from summarize import mutants  # same folder


def main() -> None:
    workdir, path, tests = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(os.environ.get("CROSSCHECK_TIMEOUT", "120"))
    target = os.path.join(workdir, path)
    backup = target + ".crosscheck"
    shutil.copyfile(target, backup)
    source = Path(backup).read_text(encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    import sqlite3

    db = sqlite3.connect(os.path.join(workdir, ".mutmut-cache"))
    keys = {
        pk: (line, index, number)
        for pk, line, index, number in db.execute(
            'SELECT m.id, l.line, m."index", l.line_number FROM Mutant m'
            " JOIN Line l ON m.line = l.id"
        )
    }
    try:
        for item in mutants(workdir, path, workdir):
            if item["status"] not in ("survived", "skipped"):
                continue
            line, index, number = keys[item["id"]]
            mid = RelativeMutationID(line=line, index=index, line_number=number)
            mutated, _ = mutate(Context(source=source, mutation_id=mid, filename=path))
            with open(target, "w", encoding="utf-8") as f:
                f.write(mutated)
            started = time.monotonic()
            try:
                rc = subprocess.run(
                    [sys.executable, "-m", "pytest", tests, "-x", "-q", "-p", "no:cacheprovider"],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    timeout=timeout,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            item["unit_tests"] = "killed" if rc != 0 else "survived"
            item["unit_rc"] = rc
            item["seconds"] = round(time.monotonic() - started, 1)
            print(json.dumps(item), flush=True)
    finally:
        shutil.copyfile(backup, target)
        os.remove(backup)


if __name__ == "__main__":
    main()
