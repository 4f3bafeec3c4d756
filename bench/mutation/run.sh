#!/usr/bin/env bash
# Mutation testing of the memory and SQLite adapters with the conformance suite as the test.
#
#   bash bench/mutation/run.sh [memory|sqlite|all]     (default: all)
#
# For each target it copies the repository (without .venv, .git, reports) into a work dir of its
# own ($MUT_WORK/<target>, default /tmp/mqspec-mutation/<target>), makes a venv there (kept for
# the next run) with the project (editable), mutmut 2.5.1 and coverage, and runs
#
#   mutmut run --paths-to-mutate adapters/<target>.py --tests-dir tests/mutation \
#              --runner "timeout -s KILL 240 python -m pytest tests/mutation -x -q -k <target>"
#
# The test (tests/mutation/test_adapters_conform.py) is the conformance suite: engine.run with
# the quick profile, seed 0, strict, on each shipped configuration of the adapter. Nothing in the
# checkout is mutated and its .venv is not touched. Before mutating, the test runs once under
# coverage; mutants on lines of statements it never executes are skipped by mutmut_config.py
# (they cannot be killed) and must be counted as not killed.
#
# Results land in $MUT_OUT/<target>/ (default bench/mutation/out/<target>/, git-ignored):
# run.log, results.txt, ids-<status>.txt, survivors.diff, skipped.diff, counts.txt.
# Runs niced; targets run one after another unless MUT_PARALLEL=1 (two workers at once).
#
# Why mutmut 2.x and not 3.x: mutmut 3 copies the sources to mutants/ and swaps functions through
# trampolines keyed by the module name it derives from the file path (adapters.memory), while the
# code is imported as mqspec.adapters.memory through setuptools package-dir and an editable
# install that points at the real folders; its mutants would never be switched on. mutmut 2
# mutates the file in place (in our private copy) and runs any shell command.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${1:-all}
WORK=${MUT_WORK:-/tmp/mqspec-mutation}
OUT=${MUT_OUT:-$HERE/bench/mutation/out}
PYTHON=${PYTHON:-python3}
MUTMUT_VERSION=${MUTMUT_VERSION:-2.5.1}
PER_RUN_TIMEOUT=${PER_RUN_TIMEOUT:-240}   # seconds; mutmut itself also kills at 10x the baseline

case "$TARGET" in
  memory|sqlite) TARGETS=("$TARGET") ;;
  all) TARGETS=(memory sqlite) ;;
  *) echo "usage: $0 [memory|sqlite|all]" >&2; exit 2 ;;
esac

prepare() {  # $1: target
  local dir="$WORK/$1"
  mkdir -p "$dir"
  # Fresh sources every run; the venv (an editable install pointing here) is kept.
  # MUT_RESUME=1 keeps mutmut's cache too, so an interrupted run goes on where it stopped.
  if [[ "${MUT_RESUME:-0}" == 1 ]]; then
    find "$dir" -mindepth 1 -maxdepth 1 ! -name .venv ! -name .mutmut-cache ! -name .coverage.mut \
        -exec rm -rf {} +
  else
    find "$dir" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
  fi
  (cd "$HERE" && tar --exclude=./.venv --exclude=./.git --exclude=./reports \
      --exclude=./bench/mutation/out --exclude='*/__pycache__' --exclude=./.mutmut-cache \
      --exclude=./mutants --exclude=./.hypothesis -cf - .) | tar -C "$dir" -xf -
  if [[ ! -x "$dir/.venv/bin/mutmut" ]]; then
    "$PYTHON" -m venv "$dir/.venv"
    "$dir/.venv/bin/pip" install --quiet --upgrade pip
    "$dir/.venv/bin/pip" install --quiet -e "$dir[dev]" "mutmut==$MUTMUT_VERSION" coverage
  fi
  cp "$HERE/bench/mutation/mutmut_config.py" "$dir/mutmut_config.py"
}

mutate() {  # $1: target
  local target=$1 dir="$WORK/$1" out="$OUT/$1"
  mkdir -p "$out"
  cd "$dir"
  # Stale bytecode of the file under mutation must never be picked up.
  find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
  export PYTHONDONTWRITEBYTECODE=1
  local test="$dir/.venv/bin/python -m pytest tests/mutation -x -q -p no:cacheprovider -k $target"
  # mutmut 2 counts only exit code 1 as "killed": pytest's 2 (a mutant that breaks the import)
  # or timeout's 137 would read as "survived". Any failure must become 1.
  local runner="timeout -s KILL $PER_RUN_TIMEOUT $test || exit 1"
  {
    echo "== $target: $(date -u +%FT%TZ) mutmut $MUTMUT_VERSION"
    echo "runner: $runner"
    echo "mutated file: $(sha256sum "adapters/$target.py")"
    echo "source commit: $(git -C "$HERE" rev-parse HEAD 2>/dev/null || echo unknown)"
  } | tee "$out/run.log"
  # Which statements the test executes (mutants elsewhere are skipped, see mutmut_config.py).
  [[ "${MUT_RESUME:-0}" == 1 && -f .coverage.mut ]] ||
    nice -n 15 .venv/bin/python -m coverage run --data-file=.coverage.mut --include="adapters/$target.py" \
      -m pytest tests/mutation -q -p no:cacheprovider -k "$target" >>"$out/run.log" 2>&1
  .venv/bin/python bench/mutation/executed_lines.py "adapters/$target.py" .coverage.mut >executed.json
  export MQSPEC_MUT_EXECUTED="$dir/executed.json"
  # Exit code: bit mask of survived(2)/timeout(4)/suspicious(8); 1 is a fatal error.
  set +e
  nice -n 15 .venv/bin/mutmut run --paths-to-mutate "adapters/$target.py" \
      --tests-dir tests/mutation --runner "$runner" --no-progress --simple-output \
      >>"$out/run.log" 2>&1
  local rc=$?
  set -e
  echo "mutmut exit code: $rc" | tee -a "$out/run.log"
  .venv/bin/mutmut results >"$out/results.txt" 2>&1 || true
  for status in killed survived timeout suspicious skipped untested; do
    .venv/bin/mutmut result-ids "$status" >"$out/ids-$status.txt" 2>/dev/null || true
  done
  for status in survived skipped; do
    : >"$out/$status.diff"
    for id in $(cat "$out/ids-$status.txt"); do
      { echo "### mutant $id"; .venv/bin/mutmut show "$id"; echo; } >>"$out/$status.diff" 2>&1
    done
  done
  echo "== $target finished $(date -u +%FT%TZ)" | tee -a "$out/run.log"
  for status in killed timeout suspicious survived skipped untested; do
    printf '%s: %s\n' "$status" "$(wc -w <"$out/ids-$status.txt")"
  done | tee "$out/counts.txt"
}

for t in "${TARGETS[@]}"; do prepare "$t"; done
if [[ "${MUT_PARALLEL:-0}" == 1 ]]; then
  for t in "${TARGETS[@]}"; do (mutate "$t") & done
  wait
else
  for t in "${TARGETS[@]}"; do (mutate "$t"); done
fi

# The score and the table of not-killed mutants with their judgements (judgements.py), and
# optionally (MUT_CROSSCHECK=1) which of them the adapters' own unit tests kill.
if [[ "$TARGET" == all ]]; then
  "$WORK/memory/.venv/bin/python" "$HERE/bench/mutation/render.py" "$WORK/memory" "$WORK/sqlite" \
    >"$OUT/summary.md"
  head -9 "$OUT/summary.md"
fi
if [[ "${MUT_CROSSCHECK:-0}" == 1 ]]; then
  for t in "${TARGETS[@]}"; do
    (cd "$WORK/$t" && nice -n 15 .venv/bin/python "$HERE/bench/mutation/crosscheck.py" "$WORK/$t" \
        "adapters/$t.py" "tests/adapters/test_$t.py" >"$OUT/$t/crosscheck.jsonl")
  done
fi
