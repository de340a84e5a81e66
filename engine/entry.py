"""The console script. Its signal handling comes first and the CLI is imported after, so
Ctrl-C (exit 130) or SIGTERM (exit 143) at any moment, even while the engine is still being
imported, ends with the documented code and no traceback."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from tpsqbo_engine import signals


def _cli_main() -> Callable[[], int]:
    try:
        from tpsqbo_engine.cli import main
    except Exception as error:  # a stop while importing may come wrapped (signals.stop_within)
        stop = signals.stop_within(error)
        if stop is None:
            raise
        raise stop from None
    return main


def run() -> None:
    try:
        with signals.installed():
            code = _cli_main()()
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
