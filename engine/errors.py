"""The engine's exception tree. The CLI's error boundary maps each branch to an exit code.

    EngineError                     anything the engine reports on purpose (exit 1)
    ├── RuleError                   rules that cannot be used; carries the Problems found
    ├── UsageError                  a command was asked for something it cannot do (exit 2)
    │   └── ConfigError             the firm config cannot be used; carries its Problems
    ├── ConnectorError              a call to TPS or QBO failed
    │   ├── FatalConnectorError     stop the run (bad credentials, company closed)
    │   ├── RetriableConnectorError try again later (throttle, 5xx, timeout)
    │   └── SkippableConnectorError this record fails, the run goes on (validation fault)
    └── StateError                  the state store is unusable or from a newer engine

Anything else is a bug: the boundary logs its traceback and exits 3.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tpsqbo_engine.problems import Problem


class EngineError(Exception):
    """An error the engine reports to the user; `hint` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @property
    def told(self) -> str:
        """The message with what to do after it, on one line (history rows, fleet status)."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


class RuleError(EngineError):
    """Rules that cannot be used. The CLI prints every problem, located; `paths` are the
    packs that were loaded, so the hint's `validate` checks those and not another pack."""

    def __init__(self, problems: Sequence[Problem], paths: Sequence[Path] = ()) -> None:
        errors = [p for p in problems if p.is_error]
        named = " ".join(shlex.quote(str(p)) for p in paths)
        super().__init__(
            f"the rules have {len(errors)} error(s)",
            hint=f"fix them; `tpsqbo-engine validate{' ' + named if named else ''}` checks again",
        )
        self.problems = tuple(problems)


class UsageError(EngineError):
    exit_code = 2


class ConfigError(UsageError):
    """Every problem of the firm config (or of another file the user keeps, such as the pins
    file: `what` and `hint` say which), each located and naming its field."""

    def __init__(
        self,
        problems: Sequence[Problem],
        *,
        what: str = "the firm config",
        hint: str = "fix these fields; schemas/firm.schema.json describes each one",
    ) -> None:
        shown = [_config_line(p) for p in problems if p.is_error] or [
            _config_line(p) for p in problems
        ]
        super().__init__(
            f"{what} cannot be used ({len(shown)} problem(s)):\n  " + "\n  ".join(shown),
            hint=hint,
        )
        self.problems = tuple(problems)


def _config_line(problem: Problem) -> str:
    field = problem.pointer.strip("/").replace("/", ".")
    named = f" {field}:" if field and field not in problem.message else ""
    hint = f"\n      {problem.hint}" if problem.hint else ""
    return f"{problem.file}:{problem.line}:{problem.column}:{named} {problem.message}{hint}"


class ConnectorError(EngineError):
    pass


class FatalConnectorError(ConnectorError):
    # What a batch of writes made before the error stopped it (BatchResults): recorded.
    partial: tuple[Any, ...] = ()


class RetriableConnectorError(ConnectorError):
    pass


class SkippableConnectorError(ConnectorError):
    pass


class StateError(EngineError):
    pass
