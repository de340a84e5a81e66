"""The engine's exception tree. The CLI's error boundary maps each branch to an exit code.

    EngineError                     anything the engine reports on purpose (exit 1)
    ├── RuleError                   rules that cannot be used; carries the Problems found
    ├── UsageError                  a command was asked for something it cannot do (exit 2)
    ├── ConnectorError              a call to TPS or QBO failed
    │   ├── FatalConnectorError     stop the run (bad credentials, company closed)
    │   ├── RetriableConnectorError try again later (throttle, 5xx, timeout)
    │   └── SkippableConnectorError this record fails, the run goes on (validation fault)
    └── StateError                  the state store is unusable or from a newer engine

Anything else is a bug: the boundary logs its traceback and exits 3.
"""

from __future__ import annotations

from collections.abc import Sequence

from tpsqbo_engine.problems import Problem


class EngineError(Exception):
    """An error the engine reports to the user; `hint` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class RuleError(EngineError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        errors = [p for p in problems if p.is_error]
        super().__init__(
            f"the rules have {len(errors)} error(s)",
            hint="run `tpsqbo-engine validate` to see them",
        )
        self.problems = tuple(problems)


class UsageError(EngineError):
    exit_code = 2


class ConnectorError(EngineError):
    pass


class FatalConnectorError(ConnectorError):
    pass


class RetriableConnectorError(ConnectorError):
    pass


class SkippableConnectorError(ConnectorError):
    pass


class StateError(EngineError):
    pass
