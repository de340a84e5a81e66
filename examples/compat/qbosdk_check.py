"""Checks that qbosdk (Fyle's QuickBooks Online SDK, written against Intuit's service),
unchanged, works against `tpsqbo-engine emulate qbo`.

    /tmp/venv/bin/pip install qbosdk==1.6.1
    /tmp/venv/bin/python examples/compat/qbosdk_check.py .venv/bin/tpsqbo-engine

qbosdk has no configuration for its hosts: they are class and instance attributes. The
check sets exactly those two (the token URL, from the emulator's discovery document, and
the API base URL) and then uses the SDK as its users do: connect by refreshing a token,
read every list, post and delete vendors' bills, bill payments, cheques and journal
entries, upload an attachment, and connect again with the rotated refresh token.
"""

from __future__ import annotations

from typing import Any

from harness import Tally, discovery, emulator, expect, expect_refused
from qbosdk import QuickbooksOnlineSDK

T = Tally()


def connect(info: dict[str, str], refresh_token: str) -> QuickbooksOnlineSDK:
    QuickbooksOnlineSDK.TOKEN_URL = discovery(info["discovery_url"])["token_endpoint"]
    sdk = QuickbooksOnlineSDK(
        info["client_id"], info["client_secret"], refresh_token, info["realm_id"], "sandbox"
    )
    sdk._QuickbooksOnlineSDK__base_url = f"{info['base_url']}/v3/company/{info['realm_id']}"  # type: ignore[attr-defined]
    sdk.update_server_url()
    return sdk


def ref(record: dict[str, Any]) -> dict[str, str]:
    return {"value": record["Id"]}


def reads(sdk: QuickbooksOnlineSDK) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name in [
        "accounts",
        "customers",
        "vendors",
        "employees",
        "classes",
        "departments",
        "items",
        "tax_codes",
        "tax_rates",
        "bills",
        "bill_payments",
        "purchases",
        "journal_entries",
        "attachments",
    ]:
        found[name] = T.check(f"{name}.get", getattr(sdk, name).get) or []
    for name in (
        "accounts",
        "customers",
        "vendors",
        "employees",
        "classes",
        "departments",
        "items",
    ):
        T.check(f"{name}.count", lambda n=name: expect(getattr(sdk, n).count() >= 0))
    T.check("customers.get_inactive", lambda: list(sdk.customers.get_inactive(None)))
    T.check(
        "vendors changed since (Metadata.LastUpdatedTime)",
        lambda: expect(len(list(sdk.vendors.get_all_generator("2020-01-01T00:00:00-08:00"))) >= 1),
    )
    T.check("preferences.get", lambda: expect("SalesFormsPrefs" in sdk.preferences.get()))
    T.check("company_info.get", lambda: expect(bool(sdk.company_info.get()["CompanyName"])))
    rate = (found.get("tax_rates") or [{}])[0]
    T.check(
        "tax_rates.get_by_id",
        lambda: expect(sdk.tax_rates.get_by_id(rate["Id"])["Id"] == rate["Id"]),
    )
    return found


def writes(sdk: QuickbooksOnlineSDK, found: dict[str, list[dict[str, Any]]]) -> None:
    accounts = {a["Name"]: a for a in found.get("accounts", [])}
    vendor = T.check(
        "vendors.post",
        lambda: sdk.vendors.post({"DisplayName": "Compat Fyle Vendor", "CompanyName": "Fyle"})[
            "Vendor"
        ],
    )
    T.check(
        "vendors.search_vendor_by_display_name",
        lambda: expect(
            sdk.vendors.search_vendor_by_display_name("Compat Fyle Vendor")["Id"] == vendor["Id"]
        ),
    )
    T.check(
        "a second vendor with that name is refused",
        lambda: expect_refused(lambda: sdk.vendors.post({"DisplayName": "Compat Fyle Vendor"})),
    )
    T.check(
        "employees.post", lambda: sdk.employees.post({"GivenName": "Fyle", "FamilyName": "Compat"})
    )
    line = {
        "Amount": 42.5,
        "DetailType": "AccountBasedExpenseLineDetail",
        "Description": "expense report",
        "AccountBasedExpenseLineDetail": {"AccountRef": ref(accounts["Office Expenses"])},
    }
    bill = T.check(
        "bills.post",
        lambda: sdk.bills.post({"VendorRef": ref(vendor), "TxnDate": "2026-11-20", "Line": [line]})[
            "Bill"
        ],
    )
    T.check("bills.get_by_id", lambda: expect(sdk.bills.get_by_id(bill["Id"])["Balance"] == 42.5))
    payment = T.check(
        "bill_payments.post",
        lambda: sdk.bill_payments.post(
            {
                "VendorRef": ref(vendor),
                "PayType": "Check",
                "TotalAmt": 42.5,
                "CheckPayment": {"BankAccountRef": ref(accounts["Chequing"])},
                "Line": [{"Amount": 42.5, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
            }
        )["BillPayment"],
    )
    T.check("the bill is paid", lambda: expect(sdk.bills.get_by_id(bill["Id"])["Balance"] == 0))
    T.check(
        "a paid bill cannot be deleted",
        lambda: expect_refused(lambda: sdk.bills.delete(bill["Id"])),
    )
    # qbosdk deletes with SyncToken "1": a record it edited once, as its users' flows do.
    T.check(
        "bill_payments.post (update)",
        lambda: sdk.bill_payments.post({**payment, "PrivateNote": "exported"}),
    )
    T.check("bill_payments.delete", lambda: sdk.bill_payments.delete(payment["Id"]))
    # A bill a payment applied to was versioned by the payment and by its delete (as QBO
    # does), so the edited-once record qbosdk can delete is a bill of its own.
    spare = T.check(
        "bills.post (another)",
        lambda: sdk.bills.post({"VendorRef": ref(vendor), "TxnDate": "2026-11-21", "Line": [line]})[
            "Bill"
        ],
    )
    T.check(
        "bills.post (update)",
        lambda: sdk.bills.post({**sdk.bills.get_by_id(spare["Id"]), "PrivateNote": "exported"}),
    )
    T.check("bills.delete", lambda: sdk.bills.delete(spare["Id"]))
    cheque = T.check(
        "purchases.post",
        lambda: sdk.purchases.post(
            {
                "PaymentType": "Check",
                "AccountRef": ref(accounts["Chequing"]),
                "EntityRef": {**ref(vendor), "type": "Vendor"},
                "Line": [line],
            }
        )["Purchase"],
    )
    # get_by_id is a query here: it answers the QueryResponse.
    T.check(
        "purchases.get_by_id",
        lambda: expect(sdk.purchases.get_by_id(cheque["Id"])["Purchase"][0]["TotalAmt"] == 42.5),
    )
    entry = T.check(
        "journal_entries.post",
        lambda: sdk.journal_entries.post(
            {
                "Line": [
                    {
                        "Amount": 10,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {
                            "PostingType": "Debit",
                            "AccountRef": ref(accounts["Office Expenses"]),
                        },
                    },
                    {
                        "Amount": 10,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {
                            "PostingType": "Credit",
                            "AccountRef": ref(accounts["Chequing"]),
                        },
                    },
                ]
            }
        )["JournalEntry"],
    )
    T.check(
        "journal_entries.get_by_id",
        lambda: expect(sdk.journal_entries.get_by_id(entry["Id"])["TotalAmt"] == 10),
    )
    T.check(
        "unbalanced journal entry refused",
        lambda: expect_refused(
            lambda: sdk.journal_entries.post(
                {
                    "Line": [
                        {
                            "Amount": 10,
                            "DetailType": "JournalEntryLineDetail",
                            "JournalEntryLineDetail": {
                                "PostingType": "Debit",
                                "AccountRef": ref(accounts["Office Expenses"]),
                            },
                        }
                    ]
                }
            )
        ),
    )
    attached = T.check(
        "attachments.post (upload)",
        lambda: sdk.attachments.post(
            cheque["Id"], "Purchase", "aGVsbG8gcmVjZWlwdA==", "receipt.png"
        ),
    )
    T.check(
        "the attachment keeps its name and size",
        lambda: expect((attached.get("Attachable", attached))["FileName"] == "receipt.png"),
    )
    T.check(
        "purchases.post (update) and delete",
        lambda: (
            sdk.purchases.post({**cheque, "PrivateNote": "exported"}),
            sdk.purchases.delete(cheque["Id"]),
        ),
    )


def main() -> int:
    with emulator() as info:
        sdk = T.check(
            "connect (refresh token → access token)", lambda: connect(info, info["refresh_token"])
        )
        if sdk is None:
            return T.report()
        found = reads(sdk)
        writes(sdk, found)
        rotated = sdk.refresh_token
        T.check("the refresh token rotates", lambda: expect(bool(rotated)))
        again = T.check(
            "connect again with the rotated refresh token", lambda: connect(info, rotated)
        )
        T.check("the new connection reads", lambda: expect(len(again.customers.get()) >= 1))
    return T.report()


if __name__ == "__main__":
    raise SystemExit(main())
