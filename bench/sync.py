"""A whole firm across, the run reading its writes back, then the same firm unchanged, then
1% of it changed: QBO calls, wall time against the true floor, and memory, each with its
target.

    python bench/sync.py [--firm large:2000] [--limits scale=40] [--separate-processes]

The TPS emulator serves `large:N` (N clients, about ten invoices each); the QBO emulator and
the client both keep Intuit's per-realm limits (`real`, or `scale=N`: the same counts in
windows N times shorter). With --separate-processes each emulator runs in its own process,
so the sync's CPU and memory are its own; without, all three share this one.

The true floor: a realm may make 500 requests a minute, of which at most 40 are batch calls
of up to 30 operations, and 10 a second: at most 40 x 30 + 460 = 1,660 writes a minute.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hosting import hosted, write_firm

from tpsqbo_engine.connectors.qbo.limits import Budget, Limits
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.executor import Progress
from tpsqbo_engine.sync.session import Session

BATCH_OPS = 30


def true_floor_seconds(writes: int, limits: Limits) -> float:
    per_window = limits.batch_per_minute * BATCH_OPS + limits.per_minute - limits.batch_per_minute
    return writes / per_window * limits.minute


def of_calls_floor(took: float, floor: float) -> str:
    if floor <= 0:
        return "the calls it made fit in one window: no floor of theirs to compare with"
    return f"{took / floor:.2f}x the floor of the calls it made ({floor:.1f} s)"


def batch_only_floor_seconds(calls: int, batch_calls: int, limits: Limits) -> float:
    """The earliest the last of these calls may be sent: the floor for the calls made."""
    waits = [
        max(calls - 1, 0) // limits.per_minute * limits.minute,
        max(calls - 1, 0) // limits.per_second * limits.second,
        max(batch_calls - 1, 0) // limits.batch_per_minute * limits.minute,
    ]
    return max(waits)


class Recorded:
    """The client's budget, noting when it admitted each call: where the time goes."""

    def __init__(self, inner: Budget) -> None:
        self.inner = inner
        self.admitted: list[tuple[float, bool]] = []

    def acquire(self, *, batch: bool) -> str:
        ticket = self.inner.acquire(batch=batch)
        self.admitted.append((time.perf_counter(), batch))
        return ticket

    def finished(self, ticket: str) -> None:
        self.inner.finished(ticket)

    def batch_room(self) -> bool:
        return self.inner.batch_room()


def minutes(admitted: list[tuple[float, bool]], since: float, limits: Limits) -> str:
    """Calls and batch calls admitted in each of the realm's minutes since `since`."""
    counts: dict[int, list[int]] = {}
    for at, batch in admitted:
        if at >= since:
            window = counts.setdefault(int((at - since) // limits.minute), [0, 0])
            window[0] += 1
            window[1] += batch
    last = max(counts, default=-1)
    return ", ".join("{}/{}".format(*counts.get(n, [0, 0])) for n in range(last + 1))


class Peaks:
    """The peak resident memory of each step on its own: on Linux, writing 5 to
    /proc/self/clear_refs sets the process's high-water mark (VmHWM) back to what it holds
    now, so each step's peak is read after it without the steps before it. Elsewhere only
    the whole process's peak (ru_maxrss) is known, and each step shows that."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, float]] = []
        self.own = Path("/proc/self/clear_refs").exists()
        self.began = 0.0  # MB resident when the step began

    def start(self) -> None:
        self.began = self._status("VmRSS:")
        if self.own:
            try:
                Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
            except OSError:  # a kernel that refuses it: whole-process peaks only
                self.own = False

    def done(self, step: str) -> None:
        peak = self._status("VmHWM:") if self.own else 0.0
        if not peak:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.steps.append((step, self.began, peak))

    @staticmethod
    def _status(field: str) -> float:
        """A field of /proc/self/status in MB; 0 where there is none."""
        status = Path("/proc/self/status")
        for line in status.read_text(encoding="ascii").splitlines() if status.exists() else []:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
        return 0.0

    def report(self) -> str:
        how = "each step on its own" if self.own else "the whole process so far, at each step"
        return f"({how}; resident when it began -> its peak): " + ", ".join(
            f"{step} {began:.0f} -> {peak:.0f} MB" for step, began, peak in self.steps
        )


def timed_sync(session: Session, progress: Progress | None = None) -> tuple[float, int, int, int]:
    stats = session.qbo.stats
    calls, batches = stats.calls, stats.batch_calls
    started = time.perf_counter()
    summary = session.sync(progress=progress)
    return (
        time.perf_counter() - started,
        stats.calls - calls,
        stats.batch_calls - batches,
        summary.counts["Successful"],
    )


def change_some_invoices(session: Session, share: float) -> int:
    """Revises every (1/share)th outstanding invoice, holding only those it revises: the
    benchmark runs in the sync's process, whose memory it measures."""
    step = max(int(1 / share), 1)
    outstanding = (i for i in session.tps.records("invoices") if i["status"] == "outstanding")
    chosen = [invoice for n, invoice in enumerate(outstanding) if n % step == 0]
    for invoice in chosen:
        lines = [dict(line) for line in invoice["lines"]]
        lines[0]["description"] = f"{lines[0].get('description') or ''} (revised)"
        session.tps.update("invoices", invoice["id"], {"lines": lines}, version=invoice["version"])
    return len(chosen)


@contextmanager
def separate(folder: Path, seed: str, spec: str) -> Iterator[Session]:
    with hosted("qbo", 1, spec) as [qbo], hosted("tps", 1, seed) as [tps]:
        config, env = write_firm(folder / "firm", "bench", qbo, tps, spec)
        os.environ.update(env)
        yield Session(load_config(config))


@contextmanager
def together(folder: Path, seed: str, spec: str) -> Iterator[Session]:
    with demo_firm(folder, tps_seed=seed, limits=spec) as (session, _, _):
        yield session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firm", default="large:2000", help="the TPS seed, large:N")
    parser.add_argument("--limits", default="scale=40", help="real or scale=N")
    parser.add_argument("--separate-processes", action="store_true")
    args = parser.parse_args()
    limits = Limits.parse(args.limits)
    if limits is None:
        parser.error("the benchmark needs limits: real or scale=N")
    setup = separate if args.separate_processes else together
    with tempfile.TemporaryDirectory() as folder, setup(Path(folder), args.firm, args.limits) as s:
        s.backup()
        assert s.qbo.limiter is not None
        recorded = s.qbo.limiter = Recorded(s.qbo.limiter)
        written_at: list[float] = []  # when each group of operations was applied
        peaks = Peaks()
        peaks.start()
        peaks.done("before the runs (the firm set up)")
        started = time.perf_counter()
        peaks.start()
        first_time, first_calls, first_batches, written = timed_sync(
            s, lambda done, total: written_at.append(time.perf_counter())
        )
        peaks.done("initial sync")
        first_write = written_at[0] if written_at else started
        minutes_used = minutes(recorded.admitted, first_write, limits)
        time.sleep(limits.minute)  # each later run starts with empty windows, as the first
        peaks.start()
        back_time, back_calls, _, _ = timed_sync(s)  # reads the initial sync's writes back
        peaks.done("run reading it back")
        time.sleep(limits.minute)
        peaks.start()
        same_time, same_calls, _, _ = timed_sync(s)
        peaks.done("unchanged re-sync")
        peaks.start()
        changed = change_some_invoices(s, 0.01)
        peaks.done("the benchmark's edit of 1%")
        time.sleep(limits.minute)
        peaks.start()
        second_time, second_calls, _, rewritten = timed_sync(s)
        peaks.done("1% changed re-sync")
    floor = true_floor_seconds(written, limits)
    batch_floor = batch_only_floor_seconds(first_calls, first_batches, limits)
    # A reset high-water mark lowers ru_maxrss on some kernels: the steps' peaks count too.
    peak_mb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        *(peak for _, _, peak in peaks.steps),
    )
    where = "emulators in their own processes" if args.separate_processes else "one process"
    print(f"{args.firm}, QBO limits {args.limits}, {where}")
    print(
        f"initial sync: {written:,} records written with {first_calls:,} QBO calls "
        f"({first_calls / max(written, 1):.3f} per record, {first_batches} batch calls)"
    )
    print(
        f"  wall time {first_time:.1f} s = {first_time / max(floor, 1e-9):.2f}x the true floor "
        f"of {floor:.1f} s (target <= 1.1x); {of_calls_floor(first_time, batch_floor)}"
    )
    writing = first_time - (first_write - started)
    print(
        f"  of which reading and planning before the first operation was applied "
        f"{first_write - started:.1f} s, then writing {writing:.1f} s = "
        f"{writing / max(floor, 1e-9):.2f}x the true floor"
    )
    print(f"  calls/batch calls in each minute of the writes: {minutes_used}")
    print(
        f"the run after it, reading the initial sync's writes back once: {back_calls} QBO "
        f"calls in {back_time:.1f} s"
    )
    print(
        f"unchanged re-sync: {same_calls} QBO calls in {same_time:.1f} s "
        "(target: a handful, the same at any size)"
    )
    print(
        f"1% changed ({changed} invoices): {rewritten} records written with {second_calls} "
        f"calls in {second_time:.1f} s; {second_calls / max(first_calls, 1):.3f}x the initial "
        f"sync's calls (target: in proportion to the changes, about 0.01x plus the unchanged "
        "re-sync's)"
    )
    what = "the sync process alone" if args.separate_processes else "both emulators included"
    print(
        f"peak memory: {peak_mb:.0f} MB over the whole process ({what}; target <= 250 MB at "
        "large:5000, within 10% of that at large:20000)"
    )
    print(f"  peak memory of each step {peaks.report()}")
    print(
        "  target: the initial sync <= 250 MB at large:5000 and within 10% of that at "
        "large:20000; each re-sync bounded by what it writes, not by the firm's size"
    )


if __name__ == "__main__":
    main()
