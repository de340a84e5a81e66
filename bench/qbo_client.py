"""Pushing invoices into QBO: batches against one POST per invoice, under the rate limits.

Starts the QBO emulator with Intuit's limits (500 calls/min, 10/s, 40 batch calls/min) and
the client's limiter set to the same, both scaled by --scale so the run takes about a minute.
Then, in the same run:

- baseline: one POST per invoice (what a naive integration does);
- engine:   `QboClient.batch`, 30 invoices a call, with requestid and natural-key guards.

For each it prints API calls per invoice and wall time against the floor the limits imply
(the earliest moment the last call may be sent). Targets for the engine: at most 0.04 calls
per invoice and at most 1.2x the floor.

    python bench/qbo_client.py [--invoices 3000] [--scale 7]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tpsqbo_engine.connectors.qbo.auth import QboAuth
from tpsqbo_engine.connectors.qbo.client import BatchOp, NaturalKey, QboClient, RetryPolicy
from tpsqbo_engine.connectors.qbo.limits import Limiter, Limits
from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions


def floor_seconds(calls: int, limits: Limits, *, batch: bool) -> float:
    """When the last of `calls` calls may be sent at the earliest, from the first at 0."""
    last = calls - 1
    waits = [last // limits.per_minute * limits.minute, last // limits.per_second * limits.second]
    if batch:
        waits.append(last // limits.batch_per_minute * limits.minute)
    return max(waits)


def connect(server: QboEmulatorServer, folder: Path, limits: Limits) -> QboClient:
    import requests

    grant = requests.post(
        f"{server.base_url}/oauth2/v1/tokens/bearer",
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": server.oauth.issue_refresh_token()},
        auth=(server.oauth.client_id, server.oauth.client_secret),
    ).json()
    store = TokenStore(folder / "tokens.json")
    now = time.time()
    store.save(
        Tokens(
            server.company.realm_id,
            server.base_url,
            server.discovery_url,
            server.oauth.client_id,
            grant["access_token"],
            now + 3600,
            grant["refresh_token"],
            now + 86400,
        )
    )
    retry = RetryPolicy(max_backoff=limits.minute / 4)
    return QboClient(
        QboAuth(store, server.oauth.client_secret), limiter=Limiter(limits), retry=retry
    )


def invoice(customer: str, item: str, number: str) -> dict[str, object]:
    amount = Decimal("125.00")
    return {
        "CustomerRef": {"value": customer},
        "DocNumber": number,
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount},
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--scale", type=float, default=7.0)
    args = parser.parse_args()
    spec = f"scale={args.scale}"
    limits = Limits.parse(spec)
    assert limits is not None
    with (
        tempfile.TemporaryDirectory() as folder,
        QboEmulatorServer(QboOptions(port=0, seed="sandbox-us", limits=spec)) as server,
    ):
        company = server.company
        customer = company.find_by("Customer", "DisplayName", "Red Rock Diner")
        item = company.find_by("Item", "Name", "Bookkeeping")
        assert customer is not None and item is not None
        client = connect(server, Path(folder), limits)
        n = args.invoices

        time.sleep(limits.minute)  # start each side with empty windows
        started = time.perf_counter()
        for i in range(n):
            client.create("Invoice", invoice(customer["Id"], item["Id"], f"P-{i}"), key=f"P-{i}")
        base_time, base_calls = time.perf_counter() - started, client.stats.calls
        base_floor = floor_seconds(n, limits, batch=False)

        time.sleep(limits.minute)
        before = client.stats.calls
        started = time.perf_counter()
        results = client.batch(
            [
                BatchOp(
                    "Invoice",
                    invoice(customer["Id"], item["Id"], f"B-{i}"),
                    key=f"B-{i}",
                    guard=NaturalKey("DocNumber", f"B-{i}"),
                )
                for i in range(n)
            ]
        )
        batch_time, batch_calls = time.perf_counter() - started, client.stats.calls - before
        batch_floor = floor_seconds(math.ceil(n / 30), limits, batch=True)
        failed = sum(r.error is not None for r in results)
        created = sum(
            1
            for r in company.table("Invoice").values()
            if str(r.get("DocNumber", "")).startswith(("P-", "B-"))
        )
    print(
        f"{n:,} invoices, limits {limits.per_minute}/min, {limits.per_second}/s, "
        f"{limits.batch_per_minute} batch/min, time scaled x{args.scale:g}"
    )
    print(
        f"baseline (one POST each): {base_calls / n:6.3f} calls/invoice, "
        f"{base_time:6.1f} s = {base_time / base_floor:5.2f}x its floor of {base_floor:.1f} s"
    )
    print(
        f"engine (batches of 30):   {batch_calls / n:6.3f} calls/invoice (target <= 0.04), "
        f"{batch_time:6.1f} s = {batch_time / batch_floor:5.2f}x its floor of "
        f"{batch_floor:.1f} s (target <= 1.2x)"
    )
    print(
        f"engine vs baseline: {base_time / batch_time:.1f}x faster, "
        f"{base_calls / batch_calls:.0f}x fewer calls; {failed} failed items, "
        f"{created:,} invoices in QBO (expected {2 * n:,})"
    )


if __name__ == "__main__":
    main()
