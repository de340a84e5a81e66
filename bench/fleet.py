"""Many small firms on 1, 2 and 4 worker processes: firms a minute, 429s, and the speed-up.

    python bench/fleet.py [--firms 200] [--seed large:20] [--limits real] [--latency 0.3]
        [--workers 1,2,4] [--timeout 1800]

Each firm has its own QBO company (its own realm) and reads a TPS firm of `--seed`; the QBO
companies and the TPS firms are served by two emulator processes of their own. A real Redis
(`redis-server`) is the broker, and `tpsqbo-engine fleet worker --concurrency N` runs the
firms' initial syncs in N prefork processes. Every round starts from new QBO companies.
Targets: no 429 at all; 4 workers at least 3x as fast as 1.

What it measures: whether workers overlap the waits of different realms. A real firm's run
is bound by QBO, not by this machine's CPU: by its realm's limits for a big firm, and for a
small one by QBO's answer times (a few tenths of a second a request, seconds for a batch of
writes), so a worker spends most of a run waiting and more workers fill those waits with
other realms' runs. The emulator answers in milliseconds, and a `large:20` firm makes only
about 9 requests, which Intuit's real limits (the default) never hold back: on its own
emulator a firm's run is CPU work (about 0.6 s of it, printed per round), and on a 2-core
machine more worker processes than free cores cannot speed CPU work up. So each QBO
company answers every request after `--latency` seconds (default 0.3, the emulator's
`slow` fault; the delay comes before the emulator counts the request against the realm's
limits, as a slow network's would), which makes a firm's run about 4 s of mostly
waiting, as a real one is. `--latency 0` measures the CPU alone. The speed-up is still
bounded by the cores left free: 4 workers need about four times a firm's CPU share of a
core, so on a busy machine (the load average is printed) the 4-worker round is slowed by
CPU, not by QBO.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import local_redis
from celery import Celery
from hosting import hosted, write_firm

from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.fleet.runner import FINAL
from tpsqbo_engine.fleet.tasks import enqueue, make_app

WORKER_START = 60.0  # seconds a worker may take to answer its first ping


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of this run's own (bench/local_redis.py: a port picked free, another tried
    only when that one proved taken)."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(local_redis.running_redis(binary, folder))
        except local_redis.RedisNotStarted as failed:
            sys.exit(f"FAILED: {failed}")
        yield url


@contextmanager
def worker(broker: str, processes: int, env: dict[str, str], folder: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "tpsqbo_engine", "fleet", "worker", "--broker", broker]
    command += ["--concurrency", str(processes), "--hostname", f"bench{processes}@local"]
    log = (folder / f"worker-{processes}.log").open("wb")
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        await_worker(make_app(broker), process, folder / f"worker-{processes}.log")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
        log.close()


def await_worker(app: Celery, process: subprocess.Popen[bytes], log: Path) -> None:
    """Returns once the worker answers a ping; exits with its log's end when it died or
    did not answer within WORKER_START seconds."""
    deadline = time.monotonic() + WORKER_START
    while time.monotonic() < deadline and process.poll() is None:
        if app.control.ping(timeout=0.5):
            return
    why = (
        f"exited with status {process.returncode}"
        if process.poll() is not None
        else f"did not answer a ping within {WORKER_START:.0f} s"
    )
    tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
    sys.exit("\n".join([f"FAILED: the fleet worker {why}; its log ends:", *tail]))


@dataclass(frozen=True)
class Round:
    seconds: float
    runs: list[FirmRun]
    cpu: float  # seconds of CPU the worker and the QBO emulators used in the round
    load: float  # the machine's load average (1 minute) at the round's end


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def one_round(
    processes: int, args: argparse.Namespace, broker: str, tps: list[dict[str, str]], root: Path
) -> Round:
    coordinator = RedisCoordinator(broker)
    coordinator.redis.flushdb()
    folder = root / f"round-{processes}"
    cpu = children_cpu()
    latency = f"slow={args.latency}" if args.latency > 0 else ""
    with hosted("qbo", args.firms, args.limits, latency) as companies:
        firms, env = [], {}
        for n, company in enumerate(companies):
            name = f"firm-{n:03d}"
            config, secrets = write_firm(
                folder / name, name, company, tps[n % len(tps)], args.limits
            )
            firms.append(Firm(name, config))
            env |= secrets
        with worker(broker, processes, env, folder):
            started = time.perf_counter()
            enqueue(make_app(broker), firms, attempts=1, backoff=0, backup_first=True)
            log = folder / f"worker-{processes}.log"
            runs = wait_for_runs(coordinator, len(firms), args.timeout, log)
            seconds = time.perf_counter() - started
            load = os.getloadavg()[0]
    # Both have exited (and been waited for) by now: their CPU is in the children's.
    return Round(seconds, runs, children_cpu() - cpu, load)


def wait_for_runs(
    coordinator: RedisCoordinator, count: int, timeout: float, log: Path
) -> list[FirmRun]:
    """The `count` firms' final runs; exits with a failure once `timeout` seconds pass
    without them all (a worker that died or hangs must not hang the benchmark)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = coordinator.runs()
        if len(runs) == count and all(r.status in FINAL for r in runs):
            return runs
        if time.monotonic() > deadline:
            done = sum(r.status in FINAL for r in runs)
            # The scratch folder goes with the exit: show the end of the worker's log now.
            tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
            sys.exit(
                "\n".join(
                    [
                        f"FAILED: {done} of {count} firms finished within {timeout:.0f} s "
                        "(raise --timeout for a slower machine); the worker's log ends:",
                        *tail,
                    ]
                )
            )
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=200)
    parser.add_argument("--seed", default="large:20")
    parser.add_argument("--limits", default="real", help="real (default) or scale=N,...")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.3,
        help="seconds QBO takes to answer each request (default 0.3; 0: the emulator's own)",
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--tps-servers", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds a round may take (default 1800)"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[int, Round] = {}
    with (
        tempfile.TemporaryDirectory() as scratch,
        redis_server(Path(scratch)) as broker,
        hosted("tps", args.tps_servers, args.seed) as tps,
    ):
        for processes in counts:
            results[processes] = one_round(processes, args, broker, tps, Path(scratch))
    report(args, results)


def report(args: argparse.Namespace, results: dict[int, Round]) -> None:
    print(
        f"{args.firms} firms of {args.seed}, QBO limits {args.limits} per realm, each request "
        f"answered after {args.latency} s, {os.cpu_count()} cores"
    )
    for processes, done in results.items():
        failed = sum(r.status != "completed" for r in done.runs)
        throttled = sum(r.throttled for r in done.runs)
        calls = sum(r.calls for r in done.runs)
        print(
            f"  {processes} worker process(es): {done.seconds:.1f} s, "
            f"{len(done.runs) / done.seconds * 60:.0f} firms/min, {calls} QBO calls, "
            f"{throttled} 429s (target 0), {failed} not completed; CPU of the worker and "
            f"the QBO emulator {done.cpu / max(len(done.runs), 1):.2f} s a firm, "
            f"load average {done.load:.1f} at the end"
        )
    if 1 in results and 4 in results:
        speedup = results[1].seconds / results[4].seconds
        print(f"speed-up from 1 to 4 workers: {speedup:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
