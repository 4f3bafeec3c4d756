# ruff: noqa: E501
"""The judgement of every mutant the conformance suite did not kill (reports/mutation.md).

Keyed by file and 1-based source line of adapters/*.py at commit b7dad0d (sha256 in the
report); after the adapters change, re-judge. A rule is (first_line, last_line, category,
reason), optionally narrowed to mutants whose mutated line contains a given text.

Categories:
  E  equivalent: no observable behaviour of the queue changes (dead code, unused field, an
     annotation never evaluated, a redundant guard, a different but equally unique counter).
  C  contract-equivalent: behaviour or declaration changes, but the mutated queue still keeps
     the contract for what it declares (a MAY freedom, a weaker promise, an option that is
     ignored and declared as ignored). No conformance test can kill it by design.
  O  outside the contract: URL parsing, constructor argument checks, error text or exception
     type, lock-wait tuning, thread affinity, naming, close/drop resource handling. Real
     behaviour, not judged by the conformance suite by design (adapter unit tests' job).
  P  another profile: a contract property the quick profile does not exercise (crash).
  H  hole: a contract violation the quick profile should catch and does not.
"""

from __future__ import annotations

Rule = tuple[int, int, str, str] | tuple[int, int, str, str, str]

RULES: dict[str, list[Rule]] = {
    "adapters/memory.py": [
        (
            40,
            41,
            "O",
            "URL-option constants, read only by from_url's parsers; the suite opens the adapter directly",
        ),
        (
            47,
            47,
            "K",
            "killed in fact: `__slots__ = None` raises TypeError at import, pytest exits 2, and mutmut 2 counts only exit 1 as killed (run.sh now maps every failure to 1)",
        ),
        (51, 51, "E", "_Job.ident is never read"),
        (
            55,
            55,
            "E",
            "gen is only compared with the snapshot in a heap entry; any start value works",
        ),
        (
            58,
            59,
            "E",
            "annotation (or initial value never read); `from __future__ import annotations` means annotations are never evaluated",
        ),
        (
            75,
            77,
            "O",
            "a different default option value; the queue declares it consistently, so it still conforms",
        ),
        (
            80,
            92,
            "O",
            "constructor argument validation (bad options); the suite never passes bad options",
        ),
        (
            94,
            96,
            "C",
            "the option is ignored and `capabilities` reads the same field, so the queue declares what it does; only an options-to-capabilities unit test sees it",
        ),
        (
            107,
            107,
            "C",
            "timeout_settable is a declaration the harness does not use; behaviour unchanged",
        ),
        (
            110,
            110,
            "P",
            "declares durable while it is not: only the crash profile (MQ-DURABLE-1) restarts the queue",
        ),
        (135, 135, "O", "error text of a refused duplicate push"),
        (137, 137, "O", "error text of a refused push at capacity"),
        (
            136,
            136,
            "C",
            "accepts one job past max_jobs: MQ-PUSH-3 only says a queue MAY refuse at capacity",
        ),
        (
            139,
            139,
            "H",
            "the stored job aliases the caller's nested objects (shallow copy); the harness copies everything it passes, so it never sees the aliasing",
        ),
        (143, 143, "E", "seq only has to grow and stay unique"),
        (
            144,
            144,
            "C",
            "`delayed` is read only by ReversedTiesQueue; treating delay=1 jobs as immediate changes its tie order only among jobs MQ-ORDER-3 leaves unordered",
        ),
        (
            146,
            146,
            "C",
            "the live count is wrong so the capacity is never reached; accepting at capacity is allowed (MQ-PUSH-3 is a MAY)",
        ),
        (
            151,
            151,
            "H",
            "the task Push returns aliases the stored job's nested objects; a caller changing it changes the queued job",
        ),
        (
            160,
            161,
            "E",
            "no stale entry can reach the visible heap (a visible job is never deleted: only reserved, hidden jobs are), so this guard never fires; coverage confirms the `continue` never runs",
        ),
        (
            162,
            162,
            "E",
            "gen is redundant with `live`: a hidden entry becomes stale only through delete, which also sets live=False; any change of gen works",
        ),
        (167, 167, "H", "the task Reserve returns aliases the stored job's nested objects"),
        (
            180,
            181,
            "O",
            "validation of a malformed Delete argument (not a task); the harness only deletes tasks",
        ),
        (
            197,
            198,
            "E",
            "live and gen are redundant in delete: either one makes the deleted job's heap entries stale",
        ),
        (
            199,
            199,
            "C",
            "undercounts live jobs, so the capacity is reached later; accepting at capacity is allowed (MQ-PUSH-3 is a MAY)",
        ),
        (201, 205, "O", "which error text a refused Delete gets"),
        (219, 219, "C", "declares slack 1 while exact: a weaker promise the queue keeps"),
        (237, 237, "E", "seq start value: it only has to grow and stay unique"),
        (
            252,
            252,
            "E",
            "a hidden entry goes stale only through delete, which changes gen and clears live together, so `or` and `and` select the same entries",
        ),
        (
            256,
            256,
            "E",
            "job.deadline is never read after Reserve pushes the heap entry; clearing it to anything is the same",
        ),
        (
            260,
            327,
            "O",
            "URL parsing (from_url and its option parsers); the suite opens the adapter directly",
        ),
    ],
    "adapters/sqlite.py": [
        (
            51,
            52,
            "O",
            "URL-option constants, read only by _parse_option; the suite opens the adapter directly",
        ),
        (
            53,
            53,
            "O",
            "busy timeout: how long a writer waits for another process's lock; the suite has one client",
        ),
        (
            63,
            63,
            "O",
            "thread affinity of the connection; the suite calls from one thread (tests/adapters/test_sqlite.py has a threads test)",
        ),
        (64, 73, "O", "error text when the file cannot be opened"),
        (
            89,
            91,
            "O",
            "a different default option value; the queue declares it consistently, so it still conforms",
        ),
        (
            100,
            111,
            "O",
            "constructor argument validation (bad options); the suite never passes bad options",
        ),
        (113, 113, "O", "self.queue is read only by __repr__ (error messages)"),
        (
            114,
            114,
            "O",
            "the table name: all operations use the same (mutated) name, so one queue still works; isolation between queue names and the documented mq_<name> are adapter unit-test matters",
        ),
        (
            117,
            117,
            "C",
            "timeout_settable is a declaration the harness does not use; behaviour unchanged",
        ),
        (118, 118, "C", "declares slack 1 while exact: a weaker promise the queue keeps"),
        (
            120,
            120,
            "C",
            "declares not durable while it is: a weaker promise (the crash profile would skip)",
        ),
        (
            122,
            122,
            "C",
            "the duplicate policy is inverted, and push reads the declared policy, so the queue does what it declares; both policies are allowed (MQ-PUSH-2)",
        ),
        (132, 132, "E", "annotation, never evaluated (`from __future__ import annotations`)"),
        (125, 139, "O", "error text when the directory or table cannot be made"),
        (140, 173, "O", "URL parsing (from_url); the suite opens the adapter directly"),
        (
            197,
            197,
            "C",
            "accepts one job past max_jobs: MQ-PUSH-3 only says a queue MAY refuse at capacity",
        ),
        (198, 198, "O", "error text of a refused push at capacity"),
        (
            200,
            200,
            "O",
            "error text (or a KeyError instead of a ValueError) of a refused duplicate push: the contract sees an error either way",
        ),
        (
            241,
            242,
            "O",
            "validation of a malformed Delete argument (not a task); the harness only deletes tasks",
        ),
        (256, 257, "O", "error text of a refused Delete"),
        (268, 270, "O", "error text of a failed reset"),
        (271, 281, "O", "close(): a leaked connection; the contract does not judge close"),
        (284, 295, "O", "drop(): cleanup of the namespace, not judged by the contract"),
        (296, 298, "O", "__repr__ text (error messages)"),
        (312, 312, "O", "error text for a closed queue"),
        (
            359,
            359,
            "E",
            "JSON with \\u escapes parses back to the same strings; only the stored size changes",
            "ensure_ascii=True",
        ),
        (
            359,
            359,
            "O",
            "lets NaN/Infinity through: not JSON, and the suite generates only portable JSON (the model's task check does not mention them)",
            "allow_nan=True",
        ),
        (361, 361, "O", "error text for a task that is not JSON"),
        (
            362,
            367,
            "O",
            "the lone-surrogate fallback: the suite's strategies generate portable JSON text, never a lone surrogate (tests/adapters/test_sqlite.py does)",
        ),
        (370, 390, "O", "URL option parsing (_parse_option); the suite opens the adapter directly"),
    ],
}


def judge(path: str, line: int, after: str) -> tuple[str, str]:
    for rule in RULES.get(path, []):
        first, last, category, reason = rule[:4]
        needle = rule[4] if len(rule) > 4 else None
        if first <= line <= last and (needle is None or needle in after):
            return category, reason
    return "?", "not judged yet"
