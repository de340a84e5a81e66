"""The console script. Its signal handling comes first and the CLI is imported after, so
Ctrl-C (exit 130) or SIGTERM (exit 143) at any moment, even while the engine is still being
imported, ends with the documented code and no traceback."""

from __future__ import annotations

import signal
import sys

from tpsqbo_engine import signals


def run() -> None:
    try:
        with signals.installed():
            from tpsqbo_engine.cli import main

            code = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except signals.Terminated:
        print("terminated", file=sys.stderr)
        code = signals.EXIT_TERMINATED
    # The command is over and its code decided: a late Ctrl-C must not turn it into a
    # death by signal while the interpreter shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)
