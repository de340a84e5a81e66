"""QBO's answers mapped onto the engine's error tree: fatal, retriable or skippable.

Every error keeps QBO's code, its Detail text and the `intuit_tid` Intuit support asks for.
Faults come in three shapes (JSON `Fault`, the gateway's lower-case `fault`, XML for
throttling) and sometimes inside an HTTP 200: all are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tpsqbo_engine.errors import (
    ConnectorError,
    FatalConnectorError,
    RetriableConnectorError,
    SkippableConnectorError,
)

FATAL_CODES = frozenset({"120", "3100", "3200", "6190"})
RETRIABLE_CODES = frozenset({"3001", "10000"})
STALE_OBJECT = "5010"


@dataclass(frozen=True)
class QboFault:
    status: int
    code: str
    message: str
    detail: str
    element: str = ""
    intuit_tid: str = ""

    def describe(self) -> str:
        tid = f" (intuit_tid {self.intuit_tid})" if self.intuit_tid else ""
        return f"QBO {self.code} {self.message}: {self.detail}{tid}"


class QboError(ConnectorError):
    def __init__(self, fault: QboFault, *, hint: str = "") -> None:
        super().__init__(fault.describe(), hint=hint)
        self.fault = fault


class QboFatalError(QboError, FatalConnectorError):
    pass


class QboRetriableError(QboError, RetriableConnectorError):
    pass


class QboSkippableError(QboError, SkippableConnectorError):
    pass


class StaleObjectError(QboSkippableError):
    """5010: someone else changed the record; re-read it and apply the change again."""


class ReconnectRequired(FatalConnectorError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"QuickBooks Online refused the saved connection: {reason}",
            hint="reconnect with `tpsqbo-engine connect`",
        )


def fault_from(status: int, body: Any, text: str, intuit_tid: str) -> QboFault | None:
    """The first error in a response body, whatever its shape; None when there is none."""
    if isinstance(body, dict):
        fault = body.get("Fault") or body.get("fault")
        if isinstance(fault, dict):
            errors = fault.get("Error") or fault.get("error") or [{}]
            first = errors[0] if errors else {}
            return QboFault(
                status,
                str(first.get("code", "")),
                str(first.get("Message") or first.get("message") or ""),
                str(first.get("Detail") or first.get("detail") or ""),
                str(first.get("element") or ""),
                intuit_tid,
            )
    xml = re.search(
        r'<Error code="(\d+)"[^>]*>\s*<Message>(.*?)</Message>\s*(?:<Detail>(.*?)'
        r"</Detail>)?",
        text,
        re.S,
    )
    if xml:
        return QboFault(status, xml.group(1), xml.group(2), xml.group(3) or "", "", intuit_tid)
    if status >= 400:
        return QboFault(status, str(status), f"HTTP {status}", text[:200], "", intuit_tid)
    return None


def error_for(fault: QboFault) -> QboError:
    if fault.code == STALE_OBJECT:
        return StaleObjectError(fault)
    if fault.status == 429 or fault.code in RETRIABLE_CODES or fault.status >= 500:
        return QboRetriableError(fault)
    if fault.code in FATAL_CODES or fault.status in (401, 403):
        return QboFatalError(fault, hint="check the connection with `tpsqbo-engine connect`")
    return QboSkippableError(fault)
