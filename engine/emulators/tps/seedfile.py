"""A firm from a file: `emulate tps --seed firm.yaml` (or .json).

The file holds the firm's own records, in the contract's shapes, each list optional:

    firm: {name: Alder & Ash CPAs, invoice_code: AA}    # settings over the defaults
    work_codes: [{id: wc-1, code: BK, name: Bookkeeping, node_type: work_code}]
    clients: [{id: c-1, code: ALD01, name: Alder Creek Dental, email: ...}]
    wip: [...]
    invoices: [{client_id: c-1, date: 2026-10-01, lines: [...]}]
    payments: [{client_id: c-1, date: ..., amount: "100.00", applications: [...]}]
    adjustments: [...]
    finance_charges: [...]

Each record goes in through the emulated firm's own rules (totals, balances, references),
in that order, so a payment may name an invoice listed above it. An invoice of `status:
void` is voided after everything else is in, so the payments and decreases applied to it
before its void load and stay, as TPS keeps them. Any refusal names the file, the list and
the position, and no firm is made.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from tpsqbo_engine.emulators.tps.firm import Firm, TpsFault

MAX_BYTES = 20_000_000
# File key -> contract resource, in the order records may refer to each other.
LISTS = {
    "work_codes": "work-codes",
    "clients": "clients",
    "wip": "wip",
    "invoices": "invoices",
    "payments": "payments",
    "adjustments": "adjustments",
    "finance_charges": "finance-charges",
}


class _ExactLoader(yaml.SafeLoader):
    """Safe YAML whose numbers with a point stay the exact Decimal written: amounts are
    money, and a float would round 12345678901234567.89."""


def _exact_number(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        number = Decimal(text.replace("_", ""))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not an amount; write digits, e.g. 423.75", node.start_mark
        )
    return number


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_number)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"{path}: no such seed file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: over {MAX_BYTES} bytes; split the firm or trim it")
    text = path.read_text(encoding="utf-8")
    try:
        data = (
            json.loads(text, parse_float=Decimal)
            if path.suffix == ".json"
            else yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a SafeLoader
        )
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping of lists (clients: ...)")
    unknown = sorted(set(data) - set(LISTS) - {"firm"})
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {', '.join(unknown)}; use firm, {', '.join(LISTS)}"
        )
    return data


def firm_from_file(path: Path, defaults: dict[str, Any]) -> Firm:
    data = _read(path)
    settings = data.get("firm") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: firm: must be a mapping of settings")
    firm = Firm({**defaults, **settings})
    voided: list[str] = []
    for key, resource in LISTS.items():
        records = data.get(key) or []
        if not isinstance(records, list):
            raise ValueError(f"{path}: {key}: must be a list")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise ValueError(f"{path}: {key}[{index}]: must be a mapping")
            body = _plain(record)
            # A void invoice is made open and voided once all is in: what was applied to
            # it before the void stays (TPS keeps it), and TPS takes nothing new on a void one.
            void = resource == "invoices" and body.get("status") == "void"
            try:
                made = firm.create(resource, {**body, "status": "outstanding"} if void else body)
            except TpsFault as fault:
                raise ValueError(f"{path}: {key}[{index}]: {fault.message}") from None
            if void:
                voided.append(made["id"])
    for ident in voided:  # a status change alone: it passed every check when it was made
        version = firm.get("invoices", ident)["version"]
        firm.update("invoices", ident, {"version": version, "status": "void"}, partial=True)
    return firm


def _plain(value: Any) -> Any:
    """YAML reads dates and numbers as such; the contract carries them as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    return str(value)  # a Decimal as written (423.75), a date as ISO text
