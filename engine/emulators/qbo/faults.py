"""QBO's error envelopes, exactly as the real service sends them.

- validation and business errors: HTTP 400 with a JSON `Fault` whose codes are strings;
- authentication failures come from Intuit's gateway in a different, lower-case shape;
- throttling is HTTP 429, historically as XML even when JSON was asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_text() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="milliseconds")


class Fault(Exception):
    """An error response from the emulated API."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str = "",
        *,
        status: int = 400,
        type: str = "ValidationFault",
        element: str = "",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code, self.message, self.detail = code, message, detail or message
        self.status, self.type, self.element = status, type, element

    def error(self) -> dict[str, Any]:
        return {
            "Message": self.message,
            "Detail": self.detail,
            "code": self.code,
            "element": self.element,
        }

    def body(self) -> dict[str, Any]:
        return {"Fault": {"Error": [self.error()], "type": self.type}, "time": now_text()}


def stale_object(entity: str) -> Fault:
    return Fault(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and another user were working on the {entity} at the "
        "same time. The other user finished before you did, so your work was not saved.",
    )


def duplicate_name() -> Fault:
    return Fault(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is "
        "already using this name. Please use a different name.",
    )


def not_found(entity: str, ident: str) -> Fault:
    return Fault(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive or "
        f"deleted ({entity} {ident}).",
    )


def invalid_reference(name: str) -> Fault:
    return Fault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {name} assigned is not a valid reference or is inactive",
        element=name,
    )


def required(name: str) -> Fault:
    return Fault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def business(detail: str) -> Fault:
    return Fault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def unsupported(detail: str) -> Fault:
    return Fault("500", "Unsupported Operation", detail)


def too_large(limit: int) -> Fault:
    return Fault(
        "413",
        "Request Entity Too Large",
        f"The request body is larger than {limit} bytes",
        status=413,
        type="SystemFault",
    )


def system_fault(
    detail: str = "An application error has occurred while processing your request",
) -> Fault:
    return Fault(
        "10000",
        "An application error has occurred while processing your request",
        detail,
        status=500,
        type="SystemFault",
    )


def gateway_unauthorized(detail: str) -> dict[str, Any]:
    """The gateway's 401 body: lower-case keys, `time` in epoch milliseconds."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(datetime.now(UTC).timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"


def throttle_json() -> dict[str, Any]:
    error = {"Message": THROTTLE_MESSAGE, "Detail": THROTTLE_DETAIL, "code": "3001", "element": ""}
    return {"Fault": {"Error": [error], "type": "SERVICE"}, "time": now_text()}


def throttle_xml() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" '
        f'time="{now_text()}"><Fault type="SERVICE"><Error code="3001">'
        f"<Message>{THROTTLE_MESSAGE}</Message><Detail>{THROTTLE_DETAIL}</Detail>"
        "</Error></Fault></IntuitResponse>"
    )
