#!/usr/bin/env node
// A queue driver for mqspec's exec: adapter, in JavaScript, with no dependencies.
//
// mqspec writes one JSON request per line to stdin; this program answers each with exactly
// one JSON line on stdout, in order (spec/driver-protocol.md, protocol version 1). Logs go to
// stderr, which mqspec shows when something goes wrong.
//
//   mqspec check "exec:node adapters/drivers/node/driver.js"
//   mqspec check "exec:node adapters/drivers/node/driver.js --tokens --timeout 30"
//   mqspec check --profile realtime \
//     "exec:node adapters/drivers/node/driver.js --real-clock --timeout 1"
//
// The queue is a lease design, like adapters/memory.py, written for clarity (every Reserve
// scans the live jobs; O(n) is plenty for the suite):
//
// * each job gets a position key [-priority, readyAt, seq] when it is pushed, fixed forever,
//   so a reservation that times out puts the job back in its old place (MQ-RESTORE-2, -3);
// * a job is reservable when visibleAt <= now; Reserve sets visibleAt to the deadline
//   now + timeout, so an expired reservation needs no ticker (slack 0);
// * a job has a pending reservation while now < visibleAt and it holds a reservation token.
//
// Time: by default the driver declares virtual_time and takes every decision from the
// harness's "now" (virtual seconds), so a 60 s timeout costs nothing to test; a request without
// "now" (the real-time profile sends none) falls back to our own clock. With --real-clock it
// ignores "now" and always reads its own monotonic clock, as a production backend does, and
// declares virtual_time false, so mqspec judges it on the real clock: give it a short timeout.
//
// The reservation timeout T is --timeout (default 60) unless hello carries reservation_timeout:
// we declare timeout_settable, so we adopt the T the harness asks for, in both time modes.

"use strict";

const readline = require("node:readline");

const PROTOCOL = 1;
const TOKEN_KEY = "_mq_token";

// An error answer: the backend refused (an invalid task, a Delete of a job not reserved).
class QueueError extends Error {}

// Whether a value is a usable reservation timeout: a finite number of seconds > 0.
function isTimeout(value) {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

// Our own clock, in seconds: monotonic (performance.now() never goes back, unlike Date.now()),
// counted from the start of this process.
function monotonicSeconds() {
  return performance.now() / 1000;
}

function parseArgs(argv) {
  const options = { timeout: 60, tokens: false, realClock: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--tokens") {
      options.tokens = true;
    } else if (argv[i] === "--real-clock") {
      options.realClock = true;
    } else if (argv[i] === "--timeout" && i + 1 < argv.length) {
      options.timeout = Number(argv[++i]);
      if (!isTimeout(options.timeout)) {
        throw new Error(`--timeout must be a number of seconds > 0, got ${argv[i]}`);
      }
    } else {
      throw new Error(
        `unknown argument ${argv[i]} (known: --tokens, --timeout SECONDS, --real-clock)`,
      );
    }
  }
  return options;
}

// What makes a task invalid (MQ-TASK-1), or null when it is valid.
function taskProblem(task) {
  if (task === null || typeof task !== "object" || Array.isArray(task)) {
    return `task is not a JSON object: ${JSON.stringify(task)}`;
  }
  if (typeof task.id !== "string" || task.id === "") {
    return `task id must be a non-empty string, got ${JSON.stringify(task.id)}`;
  }
  if (![0, 1, 2].includes(task.priority)) {
    return `task priority must be 0, 1 or 2, got ${JSON.stringify(task.priority)}`;
  }
  const delay = Object.hasOwn(task, "delay") ? task.delay : 0;
  if (!Number.isInteger(delay) || delay < 0) {
    return `task delay must be an integer >= 0, got ${JSON.stringify(delay)}`;
  }
  if (Object.hasOwn(task, TOKEN_KEY)) {
    return `task carries the reserved key ${TOKEN_KEY}`;
  }
  return null;
}

// Compare position keys [-priority, readyAt, seq]: negative when a comes first.
function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

class Queue {
  constructor(timeout, tokens, realClock) {
    this.timeout = timeout;
    this.tokens = tokens;
    this.realClock = realClock;
    this.reservations = 0; // numbers the tokens; never reset, so no token is reused
    this.reset();
  }

  // Adopt the reservation timeout hello asked for. T is configuration, not state: it holds
  // for every later reset. A backend whose T is fixed would declare timeout_settable false.
  setReservationTimeout(timeout) {
    if (!isTimeout(timeout)) {
      const shown = JSON.stringify(timeout);
      throw new QueueError(`reservation_timeout must be a number > 0, got ${shown}`);
    }
    this.timeout = timeout;
  }

  capabilities() {
    return {
      reservation_timeout: this.timeout,
      timeout_settable: true, // hello's reservation_timeout (or --timeout)
      slack: 0,
      virtual_time: !this.realClock, // with --real-clock the harness sends no "now"
      durable: false,
      reservation_tokens: this.tokens,
      duplicate_ids: "distinct", // a push of a live id queues a second job
      max_jobs: null,
    };
  }

  reset() {
    this.jobs = []; // live jobs, in push order
    this.seq = 0;
  }

  push(task, now) {
    const problem = taskProblem(task);
    if (problem !== null) throw new QueueError(problem);
    const readyAt = now + (task.delay || 0);
    this.jobs.push({
      task,
      key: [-task.priority, readyAt, this.seq++],
      visibleAt: readyAt,
      token: null, // set while reserved
    });
    return task;
  }

  reserve(now) {
    let best = null;
    for (const job of this.jobs) {
      if (job.visibleAt <= now && (best === null || compareKeys(job.key, best.key) < 0)) {
        best = job;
      }
    }
    if (best === null) return null;
    best.token = `r${++this.reservations}`;
    best.visibleAt = now + this.timeout; // hidden until the deadline; the key stays
    return this.tokens ? { ...best.task, [TOKEN_KEY]: best.token } : best.task;
  }

  delete(task, now) {
    if (task === null || typeof task !== "object" || typeof task.id !== "string") {
      throw new QueueError("delete needs a task object with a string id");
    }
    const live = this.jobs.filter((job) => job.task.id === task.id);
    if (live.length === 0) return; // not live: Delete is idempotent (MQ-DELETE-3)
    const pending = live.find(
      (job) =>
        job.token !== null &&
        now < job.visibleAt &&
        (!this.tokens || job.token === task[TOKEN_KEY]),
    );
    if (pending === undefined) {
      // Ready, delayed, expired, or reserved under another token (MQ-DELETE-2, MQ-DELETE-5).
      const why = this.tokens ? "not reserved by this token" : "not reserved";
      throw new QueueError(`job ${JSON.stringify(task.id)} is ${why}`);
    }
    this.jobs.splice(this.jobs.indexOf(pending), 1);
  }
}

// The time to decide a request at: with --real-clock our own clock whatever the request says,
// else the harness's "now" when it sent one.
function clock(queue, request) {
  if (queue.realClock) return monotonicSeconds();
  return typeof request.now === "number" ? request.now : monotonicSeconds();
}

function handle(queue, request) {
  const now = clock(queue, request);
  switch (request.op) {
    case "hello":
      if (request.protocol !== PROTOCOL) {
        throw new QueueError(`this driver speaks protocol ${PROTOCOL}`);
      }
      // The harness may choose T; hello comes again after a restart, so it is set again.
      if (Object.hasOwn(request, "reservation_timeout")) {
        queue.setReservationTimeout(request.reservation_timeout);
        process.stderr.write(`node driver: timeout ${queue.timeout} s from hello\n`);
      }
      return { protocol: PROTOCOL, name: "node-example", capabilities: queue.capabilities() };
    case "reset":
      queue.reset();
      return null;
    case "push":
      return { task: queue.push(request.task, now) };
    case "reserve":
      return { task: queue.reserve(now) };
    case "delete":
      queue.delete(request.task, now);
      return null;
    case "tick":
      return null; // a lease design needs no ticker
    default:
      throw new QueueError(`unknown op ${JSON.stringify(request.op)}`);
  }
}

function main() {
  let queue;
  try {
    const options = parseArgs(process.argv.slice(2));
    queue = new Queue(options.timeout, options.tokens, options.realClock);
  } catch (err) {
    process.stderr.write(`node driver: ${err.message}\n`);
    process.exit(2);
  }
  const mode = queue.realClock ? ", real clock" : "";
  process.stderr.write(`node driver ready (timeout ${queue.timeout} s${mode})\n`);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    const request = JSON.parse(line);
    const answer = { seq: request.seq };
    try {
      answer.ok = handle(queue, request);
    } catch (err) {
      if (!(err instanceof QueueError)) throw err; // a bug: crash with the stack on stderr
      answer.error = { message: err.message };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
  // End of input: readline closes, nothing is left to do, and node exits by itself.
}

main();
