"""The sandbox companies, built from data files (seeds/<name>.json) the way Intuit's sample
company looks: jobs under customers, vendors, employees, service, non-inventory and inventory
items, bank and credit-card accounts, tax agencies, rates and codes, estimates, invoices,
payments, receipts, a refund, bills and what paid them, a deposit, a journal entry, a
transfer, time, an attachment's metadata, and Preferences as a new sandbox has them.

Records a client can write go in through `Company.create`, so the emulator's own rules check
the seed; read-only lists (tax rates and codes, customer types, budgets) and the settings
singletons are placed directly. In a file, `{"$ref": "Entity:name"}` is a reference by name
(or by an entry's `key`), `{"$id": key}` the id of a keyed entry, `"$balance:key"` its open
balance, `"$total:key"` its total, and a string with a decimal point an amount. Same file,
same company.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.qbo.company import Company

SEEDS_DIR = Path(__file__).resolve().parent / "seeds"
_AMOUNT = re.compile(r"^-?\d+\.\d+$")
_NAME_FIELD = {"Customer": "DisplayName", "Vendor": "DisplayName", "Employee": "DisplayName"}
_NAME_FIELD |= {"TaxAgency": "DisplayName"}


def insert(company: Company, entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """Places a record no client could write (read-only lists, singletons) as QBO holds it."""
    return company.place(entity, dict(record))


class _Builder:
    def __init__(self, company: Company) -> None:
        self.company = company
        self.keys: dict[str, dict[str, Any]] = {}

    def find(self, text: str) -> dict[str, Any]:
        entity, _, name = text.partition(":")
        found = self.keys.get(name) or self.company.find_by(
            entity, _NAME_FIELD.get(entity, "Name"), name
        )
        if found is None:
            raise ValueError(f"seed: no {entity} named {name!r}")
        return found

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "$ref" in value:
                found = self.find(str(value["$ref"]))
                label = found.get("DisplayName") or found.get("Name")
                extra = {k: v for k, v in value.items() if k != "$ref"}
                return {"value": found["Id"], **({"name": label} if label else {}), **extra}
            if "$id" in value:
                return self.keys[str(value["$id"])]["Id"]
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        for prefix, field in (("$balance:", "Balance"), ("$total:", "TotalAmt")):
            if isinstance(value, str) and value.startswith(prefix):
                keyed = self.keys[value.removeprefix(prefix)]
                return self.company.get(keyed["_entity"], keyed["Id"])[field]
        if isinstance(value, str) and _AMOUNT.match(value):
            return Decimal(value)
        return value

    def create(self, entry: dict[str, Any]) -> None:
        entity = str(entry["entity"])
        made = self.company.create(entity, self.resolve(entry["body"]))
        if "key" in entry:
            self.keys[str(entry["key"])] = {**made, "_entity": entity}


def _taxes(company: Company, builder: _Builder, tax: dict[str, Any]) -> None:
    for agency in tax.get("agencies", []):
        company.create("TaxAgency", agency)
    rates: dict[str, dict[str, Any]] = {}
    for name, value, agency in tax.get("rates", []):
        rates[name] = insert(
            company,
            "TaxRate",
            {
                "Name": name,
                "Description": f"{name} {value}%",
                "RateValue": Decimal(value),
                "AgencyRef": builder.resolve({"$ref": f"TaxAgency:{agency}"}),
                "Active": True,
                "SpecialTaxType": "NONE",
                "DisplayType": "ReadOnly",
            },
        )
    for name, parts in tax.get("codes", []):
        details = [
            {
                "TaxRateRef": {"value": rates[p]["Id"], "name": p},
                "TaxTypeApplicable": "TaxOnAmount",
                "TaxOrder": 0,
            }
            for p in parts
        ]
        insert(
            company,
            "TaxCode",
            {
                "Name": name,
                "Description": name,
                "Active": True,
                "Taxable": any(rates[p]["RateValue"] != 0 for p in parts),
                "TaxGroup": len(parts) > 1,
                "Hidden": False,
                "SalesTaxRateList": {"TaxRateDetail": details},
                "PurchaseTaxRateList": {"TaxRateDetail": []},
            },
        )


def read(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SEEDS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def load(name: str, realm_id: str) -> Company:
    data = read(name)
    company = Company(realm_id, str(data["country"]))
    builder = _Builder(company)
    info = data["company"]
    insert(
        company,
        "CompanyInfo",
        {
            **info,
            "LegalName": info["CompanyName"],
            "Country": company.country,
            "Email": {"Address": "noreply@quickbooks.example"},
            "NameValue": [
                {"Name": "SubscriptionStatus", "Value": "PAID"},
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            ],
        },
    )
    insert(company, "Preferences", data["preferences"])
    for account, kind, subtype in data["accounts"]:
        company.create("Account", {"Name": account, "AccountType": kind, "AccountSubType": subtype})
    _taxes(company, builder, data.get("tax", {}))
    for kind in data.get("customer_types", []):
        insert(company, "CustomerType", {"Name": kind, "Active": True})
    for entry in data["create"]:
        builder.create(entry)
    for budget in data.get("budgets", []):
        insert(company, "Budget", {**builder.resolve(budget), "Active": True})
    return company
