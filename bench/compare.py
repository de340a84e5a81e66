"""One benchmark at two revisions, back to back in the same run: is this checkout slower?

Checks out the base revision (default: `main`) into a temporary git worktree, then runs the
benchmark script of each revision with that revision's engine on the import path, taking
turns, and prints the best wall and CPU time of each and their ratios (checkout / base).
Turns and best-of keep a busy machine from deciding the answer; CPU time is the steadier of
the two when the machine is shared.

    python bench/compare.py [--base REV] [--checkout REV] [--runs N] bench/validate.py [ARGS...]

`--checkout REV` measures a revision instead of this working tree, so the cost of one merge
is `--base M^1 --checkout M`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_path(checkout: Path, folder: Path) -> str:
    """A folder where `tpsqbo_engine` is the checkout's engine/ (it comes before the
    editable install on sys.path, so the revision's own code is what runs)."""
    link = folder / "tpsqbo_engine"
    link.symlink_to(checkout / "engine", target_is_directory=True)
    return str(folder)


def _run(checkout: Path, path: str, script: str, args: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system, which a busy shared machine disturbs less), output."""
    env = {**os.environ, "PYTHONPATH": path}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(checkout / script), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{checkout / script} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--checkout", default="", help="a revision; default: this working tree")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"base": (Path(scratch) / "base", options.base)}
        if options.checkout:
            trees["checkout"] = (Path(scratch) / "checkout", options.checkout)
        for folder, revision in trees.values():
            _git("worktree", "add", "--detach", "--quiet", str(folder), revision)
        try:
            paths = {}
            for name in ("base", "checkout"):
                checkout = trees[name][0] if name in trees else ROOT
                folder = Path(scratch) / f"path-{name}"
                folder.mkdir()
                paths[name] = (checkout, _import_path(checkout, folder))
            best = {name: float("inf") for name in paths}
            cpu = {name: float("inf") for name in paths}
            outputs = {}
            for _ in range(options.runs):
                for name, (checkout, path) in paths.items():
                    took, spent, outputs[name] = _run(checkout, path, options.script, options.args)
                    best[name], cpu[name] = min(best[name], took), min(cpu[name], spent)
        finally:
            for folder, _ in trees.values():
                _git("worktree", "remove", "--force", str(folder))
    labels = {"base": options.base, "checkout": options.checkout or "this working tree"}
    for name in paths:
        print(f"--- {name} ({labels[name]})")
        print(outputs[name].rstrip())
    print(
        f"{options.script}: best of {options.runs}: wall base {best['base']:.2f} s, "
        f"checkout {best['checkout']:.2f} s, ratio {best['checkout'] / best['base']:.3f}; "
        f"CPU base {cpu['base']:.2f} s, checkout {cpu['checkout']:.2f} s, "
        f"ratio {cpu['checkout'] / cpu['base']:.3f}"
    )


if __name__ == "__main__":
    main()
