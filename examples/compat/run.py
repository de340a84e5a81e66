"""Runs every compatibility check against the engine named on the command line and prints
their lines and the total as `N passed, N failed` (exit 1 if any failed).

    python examples/compat/run.py .venv/bin/tpsqbo-engine

Run it with a Python that has the third-party clients (`make compat` makes one).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CHECKS = ("python_quickbooks_check.py", "qbosdk_check.py")


def main() -> int:
    here = Path(__file__).resolve().parent
    engine = sys.argv[1] if len(sys.argv) > 1 else "tpsqbo-engine"
    passed = failed = 0
    for script in CHECKS:
        print(f"== {script}", flush=True)
        done = subprocess.run(
            [sys.executable, str(here / script), engine],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        print(done.stdout, end="")
        counts = re.search(r"^(\d+) passed, (\d+) failed$", done.stdout, re.MULTILINE)
        if counts is None:  # the script broke before its tally: count it as one failure
            print(done.stderr[-2000:], end="")
            failed += 1
            continue
        passed, failed = passed + int(counts.group(1)), failed + int(counts.group(2))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
