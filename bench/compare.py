"""One benchmark at two revisions, back to back in the same run: is this checkout slower?

Checks out the base revision (default: `main`) into a temporary git worktree, then runs the
benchmark script of each revision with that revision's engine on the import path, taking
turns, and prints the best wall time of each and their ratio (checkout / base). Turns and
best-of keep a busy machine from deciding the answer.

    python bench/compare.py [--base REV] [--runs N] bench/validate.py [ARGS...]
"""

from __future__ import annotations

import argparse
import os
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


def _run(checkout: Path, path: str, script: str, args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": path}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(checkout / script), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(base), options.base],
            cwd=ROOT,
            check=True,
        )
        try:
            paths = {}
            for name, checkout in (("base", base), ("checkout", ROOT)):
                folder = Path(scratch) / f"path-{name}"
                folder.mkdir()
                paths[name] = (checkout, _import_path(checkout, folder))
            best = {name: float("inf") for name in paths}
            outputs = {}
            for _ in range(options.runs):
                for name, (checkout, path) in paths.items():
                    took, outputs[name] = _run(checkout, path, options.script, options.args)
                    best[name] = min(best[name], took)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)],
                cwd=ROOT,
                check=True,
            )
    for name in paths:
        print(f"--- {name} ({options.base if name == 'base' else 'this checkout'})")
        print(outputs[name].rstrip())
    print(
        f"{options.script}: best of {options.runs}: base {best['base']:.2f} s, "
        f"checkout {best['checkout']:.2f} s, ratio {best['checkout'] / best['base']:.3f}"
    )


if __name__ == "__main__":
    main()
