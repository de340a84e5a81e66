"""A whole firm across, then 1% of it changed: API calls and time against the limits.

Runs the TPS emulator with `large:N` (N clients, about ten invoices each) and the QBO
emulator with Intuit's limits scaled by --scale on both sides, in this process. Prints:

- initial sync: API calls per record written, and wall time against the floor the limits
  imply for the calls it made (the earliest moment the last call may be sent);
- 1% of the invoices changed in TPS, sync again: calls and time as ratios to the initial
  sync's, which should be near the share of records that changed, not near 1;
- the process's peak memory (both emulators included).

    python bench/sync.py [--clients 2000] [--scale 40]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from tpsqbo_engine.connectors.qbo.limits import Limits
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session


def floor_seconds(calls: int, batch_calls: int, limits: Limits) -> float:
    waits = [
        max(calls - 1, 0) // limits.per_minute * limits.minute,
        max(calls - 1, 0) // limits.per_second * limits.second,
        max(batch_calls - 1, 0) // limits.batch_per_minute * limits.minute,
    ]
    return max(waits)


def timed_sync(session: Session) -> tuple[float, int, int, int]:
    stats = session.qbo.stats
    calls, batches = stats.calls, stats.batch_calls
    started = time.perf_counter()
    summary = session.sync()
    return (
        time.perf_counter() - started,
        stats.calls - calls,
        stats.batch_calls - batches,
        summary.counts["Successful"],
    )


def change_some_invoices(session: Session, share: float) -> int:
    invoices = [i for i in session.tps.records("invoices") if i["status"] == "outstanding"]
    chosen = invoices[:: max(int(1 / share), 1)]
    for invoice in chosen:
        lines = [dict(line) for line in invoice["lines"]]
        lines[0]["description"] = f"{lines[0].get('description') or ''} (revised)"
        session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=40.0)
    args = parser.parse_args()
    spec = f"scale={args.scale:g}"
    limits = Limits.parse(spec)
    assert limits is not None
    with (
        tempfile.TemporaryDirectory() as folder,
        demo_firm(Path(folder), tps_seed=f"large:{args.clients}", limits=spec) as (session, _, _),
    ):
        session.backup()
        first_time, first_calls, first_batches, written = timed_sync(session)
        changed = change_some_invoices(session, 0.01)
        time.sleep(limits.minute)  # the second run starts with empty windows, as the first
        second_time, second_calls, _, rewritten = timed_sync(session)
    floor = floor_seconds(first_calls, first_batches, limits)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"large:{args.clients}, QBO limits scaled x{args.scale:g}")
    print(
        f"initial sync: {written:,} records written with {first_calls:,} API calls "
        f"({first_calls / max(written, 1):.3f} per record, {first_batches} batch calls); "
        f"{first_time:.1f} s = {first_time / max(floor, 1e-9):.2f}x the floor of "
        f"{floor:.1f} s"
    )
    print(
        f"1% changed ({changed} invoices): {rewritten} records written with {second_calls} "
        f"calls in {second_time:.1f} s; calls {second_calls / first_calls:.3f}x and time "
        f"{second_time / first_time:.3f}x the initial sync's"
    )
    print(f"peak memory: {peak_mb:.0f} MB (both emulators included)")


if __name__ == "__main__":
    main()
