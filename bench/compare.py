"""Run the bench scripts on a base revision and on this working tree; print both side by side.

    .venv/bin/python bench/compare.py --base /tmp/baseline        # a checkout with its own .venv
    .venv/bin/python bench/compare.py --rev HEAD~1                # a git worktree, venv made here
    .venv/bin/python bench/compare.py --rev main --scripts checker,model_ops --size full

The base is either ``--base PATH``, an existing checkout whose ``PATH/.venv/bin/python`` has
that checkout installed, or ``--rev REV``: the script adds a detached ``git worktree`` of REV in
a temporary folder, makes a venv there and installs that checkout with its ``dev`` extra (from
the package index, as ``make`` does), and removes both at the end unless ``--keep``. The working
tree runs with this repository's ``.venv``.

For each script (default: every one), the base runs first, then the working tree, one after the
other with the same arguments, each from its own checkout's root; then their outputs are printed
in two columns, line against line (base left). A script the base lacks is shown as missing.
``--size`` picks the arguments: ``smoke`` (seconds: it only shows the scripts run, the figures
mean little), ``small`` (tens of seconds each, the default) or ``full`` (each script's own
defaults: minutes). The exit status is 1 when any run exited non-zero, else 0. On a shared
machine, compare the CPU-time columns the scripts print: the two runs do not overlap, but other
processes may load either.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Arguments per size and script. A script left out of a size runs with no arguments there.
# detection.py's smoke run takes a mutant caught and shrunk in a second or two.
SIZES: dict[str, dict[str, list[str]]] = {
    "smoke": {
        "model_ops": ["--ops", "2000", "--depths", "100,1000"],
        "harness_steps": ["--examples", "3", "--steps", "5"],
        "driver_overhead": ["--steps", "300", "--trips", "300"],
        "servers": ["--jobs", "20", "--clients", "1", "--repeat", "1"],
        "checker": ["--fast", "2000", "--exact", "30", "--runs", "1"],
        "realclock": ["--budget", "1", "--workers", "2", "--no-check"],
        "detection": ["--seeds", "1", "--only", "delete-anything"],
    },
    "small": {
        "model_ops": ["--ops", "50000", "--depths", "1000,100000"],
        "harness_steps": ["--examples", "50"],
        "driver_overhead": ["--steps", "5000", "--trips", "5000"],
        "servers": ["--jobs", "300", "--clients", "1,8", "--repeat", "1"],
        "checker": ["--fast", "10000,100000", "--exact", "100,200", "--runs", "3"],
        "realclock": ["--budget", "10", "--workers", "4", "--no-check"],
        "detection": ["--seeds", "2", "--only", "restore-to-tail", "--only", "delete-anything"],
    },
    "full": {"realclock": ["--no-check"]},
}
SCRIPTS = list(SIZES["smoke"])


def run_script(
    checkout: Path, python: Path, script: str, args: list[str]
) -> tuple[int | None, str, float]:
    """(exit status, stdout and stderr, wall seconds) of ``bench/<script>.py args`` in
    ``checkout``, or (None, a note, 0) when that checkout has no such script."""
    path = checkout / "bench" / f"{script}.py"
    if not path.exists():
        return None, f"(no bench/{script}.py in {checkout})", 0.0
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), str(path), *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - started


def side_by_side(left: str, right: str, width: int) -> Iterator[str]:
    """The two texts in columns of ``width`` characters, line against line; a line too long
    for its column is cut and ends in '~'."""

    def fit(line: str) -> str:
        return line if len(line) <= width else line[: width - 1] + "~"

    for a, b in zip_longest(left.splitlines(), right.splitlines(), fillvalue=""):
        yield f"{fit(a):<{width}} | {fit(b)}"


@contextmanager
def worktree_of(rev: str, keep: bool) -> Iterator[Path]:
    """A detached worktree of ``rev`` with its own venv (the checkout installed, dev extra)."""
    folder = Path(tempfile.mkdtemp(prefix="mqspec-base-"))
    checkout = folder / "checkout"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout), rev], check=True
    )
    try:
        subprocess.run([sys.executable, "-m", "venv", str(checkout / ".venv")], check=True)
        pip = checkout / ".venv" / "bin" / "pip"
        subprocess.run([str(pip), "install", "--quiet", "-e", f"{checkout}[dev]"], check=True)
        yield checkout
    finally:
        if keep:
            print(f"kept the base checkout at {checkout}", file=sys.stderr)
        else:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)],
                check=False,
            )
            shutil.rmtree(folder, ignore_errors=True)


def compare(base: Path, scripts: list[str], size: str, width: int) -> int:
    """Run every script on ``base`` then on this working tree; print them; 1 if any failed."""
    failed = False
    for script in scripts:
        args = SIZES[size].get(script, [])
        runs = [
            run_script(checkout, checkout / ".venv" / "bin" / "python", script, args)
            for checkout in (base, ROOT)
        ]
        (base_rc, base_out, base_s), (head_rc, head_out, head_s) = runs
        failed = failed or base_rc not in (0, None) or head_rc != 0
        title = f"bench/{script}.py {' '.join(args)}"
        print(f"\n=== {title}")
        print(
            f"{f'base {base} (exit {base_rc}, {base_s:.1f} s)':<{width}} | "
            f"working tree (exit {head_rc}, {head_s:.1f} s)"
        )
        print("-" * (2 * width + 3))
        for line in side_by_side(base_out, head_out, width):
            print(line)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base", type=Path, help="a checkout with its own .venv")
    where.add_argument("--rev", help="a git revision, checked out and installed in a temp dir")
    parser.add_argument("--scripts", default=",".join(SCRIPTS), help="comma-separated names")
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--width", type=int, default=0, help="column width (default: terminal)")
    parser.add_argument("--keep", action="store_true", help="keep the --rev checkout")
    args = parser.parse_args(argv)
    scripts = [s.removesuffix(".py") for s in args.scripts.split(",") if s]
    unknown = sorted(set(scripts) - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown scripts {unknown}; known: {', '.join(SCRIPTS)}")
    width = args.width or max(40, (shutil.get_terminal_size((200, 40)).columns - 3) // 2)
    if args.base is not None:
        base = args.base.resolve()
        if not (base / ".venv" / "bin" / "python").exists():
            parser.error(f"{base} has no .venv/bin/python")
        return compare(base, scripts, args.size, width)
    with worktree_of(args.rev, args.keep) as checkout:
        return compare(checkout, scripts, args.size, width)


if __name__ == "__main__":
    sys.exit(main())
