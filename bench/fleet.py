"""Many small firms on 1, 2 and 4 worker processes: firms a minute, 429s, and the speed-up.

    python bench/fleet.py [--firms 200] [--seed large:20] [--limits scale=10] [--workers 1,2,4]
        [--timeout 1800]

Each firm has its own QBO company (its own realm, with Intuit's limits scaled down) and
reads a TPS firm of `--seed`; the QBO companies and the TPS firms are served by two emulator
processes of their own. A real Redis (`redis-server`) is the broker, and `tpsqbo-engine
fleet worker --concurrency N` runs the firms' initial syncs in N prefork processes. Every
round starts from new QBO companies. Targets: no 429 at all; 4 workers at least 3x as fast
as 1 (on a machine with at least 4 cores to give them: the emulators and the workers share
this machine's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from celery import Celery
from hosting import hosted, write_firm

from tpsqbo_engine.fleet.coord import FirmRun
from tpsqbo_engine.fleet.firms import Firm
from tpsqbo_engine.fleet.redis_coord import RedisCoordinator
from tpsqbo_engine.fleet.runner import FINAL
from tpsqbo_engine.fleet.tasks import enqueue, make_app

WORKER_START = 60.0  # seconds a worker may take to answer its first ping


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    process = subprocess.Popen([*command, "no"], cwd=folder, stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        coordinator = RedisCoordinator(url)
        for _ in range(100):
            try:
                coordinator.redis.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        else:
            sys.exit(f"FAILED: redis-server did not answer on port {port} within 10 s")
        yield url
    finally:
        process.terminate()
        process.wait(10)


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


def one_round(
    processes: int, args: argparse.Namespace, broker: str, tps: list[dict[str, str]], root: Path
) -> tuple[float, list[FirmRun]]:
    coordinator = RedisCoordinator(broker)
    coordinator.redis.flushdb()
    folder = root / f"round-{processes}"
    with hosted("qbo", args.firms, args.limits) as companies:
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
            return time.perf_counter() - started, runs


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
    parser.add_argument("--limits", default="scale=10")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--tps-servers", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds a round may take (default 1800)"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[int, tuple[float, list[FirmRun]]] = {}
    with (
        tempfile.TemporaryDirectory() as scratch,
        redis_server(Path(scratch)) as broker,
        hosted("tps", args.tps_servers, args.seed) as tps,
    ):
        for processes in counts:
            results[processes] = one_round(processes, args, broker, tps, Path(scratch))
    print(
        f"{args.firms} firms of {args.seed}, QBO limits {args.limits} per realm, "
        f"{os.cpu_count()} cores"
    )
    for processes, (seconds, runs) in results.items():
        failed = sum(r.status != "completed" for r in runs)
        throttled = sum(r.throttled for r in runs)
        calls = sum(r.calls for r in runs)
        print(
            f"  {processes} worker process(es): {seconds:.1f} s, "
            f"{len(runs) / seconds * 60:.0f} firms/min, {calls} QBO calls, "
            f"{throttled} 429s (target 0), {failed} not completed"
        )
    if 1 in results and 4 in results:
        speedup = results[1][0] / results[4][0]
        print(f"speed-up from 1 to 4 workers: {speedup:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
