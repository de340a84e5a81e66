"""The TPS contract's client: paging, `updated_since` cursors, optimistic concurrency,
retries with backoff on 429 and 5xx, idempotency keys on creates, and Decimal money.

Errors name the resource and the record, never the record's contents.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import requests

from tpsqbo_engine import __version__
from tpsqbo_engine.amounts import (
    EXAMPLE,
    NOT_FINITE,
    UNREADABLE,
    NotAnAmount,
    in_cents,
    read_amount,
    unreadable,
)
from tpsqbo_engine.connectors.retry import Again, RetryPolicy, retry_after
from tpsqbo_engine.connectors.tps.contract import MAX_PAGE_SIZE, RESOURCES, TpsContract
from tpsqbo_engine.errors import (
    ConnectorError,
    FatalConnectorError,
    RetriableConnectorError,
    SkippableConnectorError,
    UsageError,
)
from tpsqbo_engine.ruleset.shapes import Shape, entity_catalog

TOKEN_ENV = "TPSQBO_TPS_TOKEN"  # noqa: S105 - the variable's name, not a secret
KEY_NAMESPACE = uuid.UUID("0b8e3c52-51b7-4c29-9a7f-54c1f31a3d10")
Record = dict[str, Any]


class TpsError(ConnectorError):
    def __init__(self, message: str, *, status: int = 0, code: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status, self.code = status, code


class TpsFatalError(TpsError, FatalConnectorError):
    pass


class TpsRetriableError(TpsError, RetriableConnectorError):
    pass


class TpsRejected(TpsError, SkippableConnectorError):
    """The endpoint refused this record (validation, unknown reference)."""


class TpsConflict(TpsRejected):
    """409: the record changed since it was read; re-read it and decide again."""

    def __init__(self, message: str, current_version: int | None) -> None:
        super().__init__(
            message,
            status=409,
            code="conflict",
            hint="read the record again and re-apply the change",
        )
        self.current_version = current_version


class TpsSource(Protocol):
    """What the sync needs of TPS: an endpoint (`TpsClient`) or sheets (`FileTps`)."""

    def firm(self) -> Record: ...
    def records(
        self, resource: str, updated_since: str = "", page_size: int = ...
    ) -> Iterator[Record]: ...
    def get(self, resource: str, ident: str) -> Record: ...
    def create(self, resource: str, record: Record, *, key: str) -> Record: ...
    def update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record: ...


def _not_understood(body: Any, page: bool) -> str:
    """What is wrong with a 200's body, or "" when it is what was asked for."""
    if not isinstance(body, dict):
        return (
            "something that is not a JSON object"
            if body is None
            else "a JSON " + (type(body).__name__)
        )
    if page:
        if not isinstance(body.get("data"), list):
            return "a page without its data list"
        if not all(isinstance(row, dict) for row in body["data"]):
            return "a page whose records are not objects"
        token = body.get("next_page_token")
        if token is not None and not isinstance(token, str):
            return "a page token that is not text"
    return ""


def token_from_environment() -> str:
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise UsageError(
            "no TPS access token",
            hint=f"export {TOKEN_ENV} (the emulator prints one: `tpsqbo-engine emulate tps`)",
        )
    return token


# Money ----------------------------------------------------------------------------------------
def _is_money(shape: Shape) -> bool:
    node = shape.node or {}
    return str(node.get("$ref", "")).endswith("/Money") or any(
        str(option.get("$ref", "")).endswith("/Money") for option in node.get("anyOf", [])
    )


def convert_money(value: Any, shape: Shape, to_decimal: bool, where: str = "") -> Any:
    """Money fields (by the entity schema) become Decimal when read, text when written.

    Money read must be a finite amount with at most two decimals (the contract's decimal
    string): anything else ("NaN", "1e3", "12,50") is kept as `amounts.unreadable`, naming
    `where` (the record: `invoices inv-1002`) and the field, so the records whose rules
    read it fail alone and the rest of the sync goes on. Money written must be finite."""
    return _converted(value, shape, to_decimal, where, "")


def _converted(value: Any, shape: Shape, to_decimal: bool, where: str, path: str) -> Any:
    if _is_money(shape) and value is not None:
        if not to_decimal:
            return _money_text(value, where, path)
        amount = _amount(value)
        if isinstance(amount, Decimal):
            return amount
        record = f"{where} " if where else "a record "
        return unreadable(
            f"TPS sent {record}whose {path} is not money: {amount}; correct it in TPS"
        )
    if isinstance(value, Mapping):
        props = shape.properties()
        return {
            k: _converted(v, props[k], to_decimal, where, f"{path}.{k}" if path else k)
            if k in props
            else v
            for k, v in value.items()
        }
    if isinstance(value, list):
        item = shape.item()
        return [_converted(v, item, to_decimal, where, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _amount(value: Any) -> Decimal | str:
    """The amount TPS sent, or why it is not one (without the value: it is the firm's data)."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, str | float):
        try:  # a float's shortest spelling: exact when it has at most two decimals
            amount = read_amount(str(value))
        except NotAnAmount as refused:
            return refused.why
    else:
        return f"expected {EXAMPLE} as text, got {_kind(value)}"
    if not amount.is_finite():
        return NOT_FINITE
    return amount if in_cents(amount) else f"expected {EXAMPLE}, with at most two decimals"


def _kind(value: Any) -> str:
    return {bool: "true or false", dict: "an object", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _money_text(value: Any, where: str, path: str) -> Any:
    if isinstance(value, Decimal) and not value.is_finite():
        raise TpsRejected(f"{path} of {where or 'a record'} for TPS is NaN or Infinity, not money")
    if isinstance(value, dict) and UNREADABLE in value:  # never read as money either
        raise TpsRejected(str(value[UNREADABLE]))
    return str(value) if isinstance(value, Decimal) else value


Retry = RetryPolicy  # the one policy both clients share
MAX_PAGES = 100_000  # past this many pages of one list, paging is going in circles


@dataclass
class TpsClient:
    base_url: str
    token: str
    contract: TpsContract = field(default_factory=TpsContract)
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(5, 0.5, 20.0, (5.0, 30.0)))
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": f"tpsqbo-engine/{__version__}"}
        )

    # Transport ----------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        what: str,
        key: str = "",
        page: bool = False,
    ) -> Record:
        """One request under the retry policy; the answer is a JSON object (a page: with a
        `data` list) or a retriable error, never an empty answer made up from garbage."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if key:
            headers["Idempotency-Key"] = key

        def attempt() -> Record:
            self.calls += 1
            try:
                response = self.session.request(
                    method,
                    f"{self.base_url}{path}",
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=self.retry.timeout,
                )
            except (requests.ConnectionError, requests.Timeout):
                if method != "GET" and not key:
                    raise TpsRetriableError(
                        f"no answer from TPS for {what}; it may or may not have been written"
                    ) from None
                raise Again(
                    TpsRetriableError(f"TPS did not answer {what}", hint="try again later")
                ) from None
            if response.status_code in (429, 500, 502, 503, 504):
                error = TpsRetriableError(
                    f"TPS kept failing for {what} (HTTP {response.status_code})",
                    status=response.status_code,
                    hint="try again later",
                )
                raise Again(error, retry_after(response.headers))
            return self._result(response, what, page)

        return self.retry.run(attempt, sleep=self.sleep)

    @staticmethod
    def _result(response: requests.Response, what: str, page: bool) -> Record:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok:
            problem = _not_understood(body, page)
            if problem:
                raise Again(
                    TpsRetriableError(
                        f"TPS answered {what} with {problem}",
                        status=response.status_code,
                        code="answer",
                        hint="TPS or something between it and this machine answered garbage; "
                        "try again later, and check the base_url in the firm config",
                    )
                )
            assert isinstance(body, dict)
            return body
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        detail = error.get("message") or f"HTTP {response.status_code}"
        code = str(error.get("code", ""))
        message = f"TPS refused {what}: {detail}"
        if response.status_code == 409:
            version = error.get("current_version")
            raise TpsConflict(message, version if isinstance(version, int) else None)
        if response.status_code in (401, 403):
            raise TpsFatalError(
                message, status=response.status_code, code=code, hint=f"check {TOKEN_ENV}"
            )
        raise TpsRejected(message, status=response.status_code, code=code)

    # Records ------------------------------------------------------------------------------
    def _shape(self, resource: str) -> Shape:
        shape = entity_catalog().get(f"tps.{RESOURCES[resource]}")
        assert shape is not None
        return shape

    def _read(self, resource: str, remote: Record, what: str, ident: str = "") -> Record:
        """A record TPS answered, once it is one: with an id (`ident` when one was asked
        for) and its money read (`convert_money`)."""
        local = self.contract.from_remote(resource, remote)
        found = local.get("id")
        if not isinstance(found, str) or not found or (ident and found != ident):
            raise TpsRetriableError(
                f"TPS answered {what} with "
                + (f"another record ({resource} {found})" if found and ident else "no record id"),
                code="answer",
                hint="TPS or something between it and this machine did not answer with the "
                "record; try again later, and check the base_url and fields in the firm config",
            )
        converted: Record = convert_money(
            local, self._shape(resource), to_decimal=True, where=f"{resource} {found}"
        )
        return converted

    def _write(self, resource: str, record: Record, ident: str = "") -> Record:
        where = f"{resource} {ident}" if ident else f"a new {resource} record"
        text: Record = convert_money(record, self._shape(resource), to_decimal=False, where=where)
        return self.contract.to_remote(resource, text)

    def firm(self) -> Record:
        firm: Record = self._call("GET", self.contract.firm_path, what="the firm")
        return firm

    def _record_path(self, resource: str, ident: str) -> str:
        """A record's URL path, its id a single path segment whatever it holds (`../x`,
        `?`, `/`, spaces): ids are the firm's data."""
        return f"{self.contract.path(resource)}/{quote(str(ident), safe='')}"

    def get(self, resource: str, ident: str) -> Record:
        what = f"{resource} {ident}"
        remote = self._call("GET", self._record_path(resource, ident), what=what)
        return self._read(resource, remote, what, ident)

    def records(
        self, resource: str, updated_since: str = "", page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Record]:
        """Every record (changed strictly after `updated_since`), page by page."""
        params = {"page_size": str(page_size)}
        if updated_since:
            params["updated_since"] = updated_since
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self._call(
                "GET",
                self.contract.path(resource),
                params=params,
                what=f"the {resource} list",
                page=True,
            )
            for remote in page["data"]:
                yield self._read(resource, remote, f"the {resource} list")
            token = page.get("next_page_token")
            if not token:
                return
            if token in seen:
                raise TpsFatalError(
                    f"TPS sent the {resource} list's page token {token[:40]!r} a second time",
                    code="paging-cycle",
                    hint="the endpoint's paging goes in circles; report it to whoever runs it",
                )
            seen.add(token)
            params["page_token"] = token
        raise TpsFatalError(f"the {resource} list did not end after {MAX_PAGES:,} pages")

    def changes(self, resource: str, cursor: str = "") -> tuple[list[Record], str]:
        """What changed after `cursor`, and the cursor to pass next time."""
        records = list(self.records(resource, cursor))
        newest = max((r["updated_at"] for r in records), default=cursor)
        return records, newest

    def create(self, resource: str, record: Record, *, key: str) -> Record:
        """Creates once per attempt: `key` names the attempt (engine/sync/bookkeeping.py), so
        a retry after a lost answer carries the same Idempotency-Key and TPS answers it
        again, while a new attempt of the write is a new request."""
        idempotency = str(uuid.uuid5(KEY_NAMESPACE, f"{resource}:{key}"))
        what = f"a new {resource} record"
        remote = self._call(
            "POST",
            self.contract.path(resource),
            key=idempotency,
            body=self._write(resource, record),
            what=what,
        )
        return self._read(resource, remote, what)

    def update(self, resource: str, ident: str, changes: Record, *, version: int) -> Record:
        """Changes some fields of the version that was read; 409 if it changed meanwhile."""
        body = {**self._write(resource, changes, ident), "version": version}
        what = f"{resource} {ident}"
        remote = self._call("PATCH", self._record_path(resource, ident), body=body, what=what)
        return self._read(resource, remote, what, ident)
