"""A driver that breaks the driver protocol in one chosen way, for tests/adapters/test_process.py.

Usage: ``misbehave.py FAULT [OP]``. It answers correctly (with a trivial queue that never holds
a job) until the first request whose op is OP (default ``hello``), and commits FAULT there.
Each fault is one the exec: adapter must report as a DriverError naming it; ``none`` commits
no fault (its hello declares only some capabilities, plus an unknown one); ``echo-namespace``
none either, its hello naming the driver by its $MQSPEC_NAMESPACE.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

FAULT = sys.argv[1]
ON = sys.argv[2] if len(sys.argv) > 2 else "hello"

CAPS = {"reservation_timeout": 60, "virtual_time": True, "colour": "unknown keys are ignored"}
BAD_CAPS = {
    "caps-timeout": {"reservation_timeout": -1},
    "caps-bool": {"virtual_time": "yes"},
    "caps-policy": {"duplicate_ids": "maybe"},
    "caps-max-jobs": {"max_jobs": 0},
    "caps-not-object": [60],
}


def send(obj, raw=None):
    sys.stdout.write((raw if raw is not None else json.dumps(obj)) + "\n")
    sys.stdout.flush()


def normal(request):
    op = request["op"]
    if op == "hello":
        caps = BAD_CAPS.get(FAULT, CAPS) if ON == "hello" else CAPS
        result = {"protocol": 2 if FAULT == "protocol-2" else 1, "name": "misbehave"}
        if FAULT == "echo-namespace":  # no fault: the name says the queue it was started for
            result["name"] = os.environ.get("MQSPEC_NAMESPACE", "none given")
        result["capabilities"] = caps
        return {"seq": request["seq"], "ok": result}
    if op == "push":
        return {"seq": request["seq"], "ok": {"task": request["task"]}}
    if op == "reserve":
        return {"seq": request["seq"], "ok": {"task": None}}
    return {"seq": request["seq"], "ok": None}


def main():
    # The pid lets a test find this process in the DriverError's stderr lines.
    print(f"misbehave: pid {os.getpid()} fault {FAULT} on {ON}", file=sys.stderr, flush=True)
    if FAULT == "ignore-eof":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if FAULT == "exit-at-start":
        print("misbehave: giving up before hello", file=sys.stderr, flush=True)
        sys.exit(3)
    for line in sys.stdin:
        request = json.loads(line)
        seq = request["seq"]
        if (
            request["op"] != ON
            or FAULT in BAD_CAPS
            or FAULT in ("none", "protocol-2", "ignore-eof", "echo-namespace")
        ):
            send(normal(request))
            continue
        if FAULT == "silent":
            time.sleep(3600)
        elif FAULT == "garbage":
            send(None, raw="this is not json at all")
        elif FAULT == "not-object":
            send([seq, "ok"])
        elif FAULT == "wrong-seq":
            send({**normal(request), "seq": seq + 1000})
        elif FAULT == "no-seq":
            send({"ok": None})
        elif FAULT == "two-lines":
            send(normal(request))
            send(normal(request))
        elif FAULT == "exit":
            print("misbehave: exiting without an answer", file=sys.stderr, flush=True)
            sys.exit(3)
        elif FAULT == "crash-after-answer":
            send(normal(request))
            print("misbehave: crashing after the answer", file=sys.stderr, flush=True)
            sys.exit(4)
        elif FAULT == "kill-self":
            sys.stdout.flush()
            signal.raise_signal(signal.SIGKILL)
        elif FAULT == "ok-and-error":
            send({"seq": seq, "ok": None, "error": {"message": "both"}})
        elif FAULT == "bad-error":
            send({"seq": seq, "error": "a bare string"})
        elif FAULT == "error":
            send({"seq": seq, "error": {"message": "refused by misbehave"}})
        elif FAULT == "no-task-wrapper":
            send({"seq": seq, "ok": request.get("task")})
        elif FAULT == "partial-line":
            sys.stdout.write('{"seq": ')
            sys.stdout.flush()
            time.sleep(3600)
        elif FAULT == "not-utf8":
            sys.stdout.buffer.write(b'{"seq": 0, "ok": "\xff\xfe"}\n')
            sys.stdout.flush()
        else:
            raise SystemExit(f"unknown fault {FAULT!r}")
    if FAULT == "ignore-eof":
        time.sleep(3600)  # stdin is closed, but this driver does not exit (nor on SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
