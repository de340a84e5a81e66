"""Emulators in processes of their own, for the benchmarks, and firms that use them.

    python bench/hosting.py qbo COUNT LIMITS [FAULTS]  # COUNT QBO companies, each its own realm
    python bench/hosting.py tps COUNT SEED     # COUNT TPS firms of SEED (e.g. large:20)

prints one JSON line of connection details per emulator, then `ready`, and serves until its
standard input closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer, QboOptions
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions


def _qbo_servers(
    stack: ExitStack, count: int, limits: str, folder: Path, faults: str
) -> Iterator[Any]:
    """Every seeded company has the same realm id: each gets its own through a state file.
    `faults` (the emulator's fault spec, e.g. `slow=0.3`) applies to every company."""
    template = folder / "template.json"
    with QboEmulatorServer(QboOptions(seed="starter", state=template)) as seeded:
        seeded.save()
    data = json.loads(template.read_text(encoding="utf-8"))
    for n in range(count):
        data["realm_id"] = f"{9200000000000000 + n}"
        state = folder / f"qbo-{n}.json"
        state.write_text(json.dumps(data), encoding="utf-8")
        options = QboOptions(state=state, limits=limits, faults=faults)
        yield stack.enter_context(QboEmulatorServer(options))


def _host(kind: str, count: int, arg: str, faults: str) -> None:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        if kind == "qbo":
            servers = list(_qbo_servers(stack, count, arg, Path(folder), faults))
        else:
            servers = [
                stack.enter_context(TpsEmulatorServer(TpsOptions(seed=arg))) for _ in range(count)
            ]
        for server in servers:
            print(json.dumps(server.connection_info()), flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # until the benchmark closes it


@contextmanager
def hosted(kind: str, count: int, arg: str, faults: str = "") -> Iterator[list[dict[str, str]]]:
    command = [sys.executable, __file__, kind, str(count), arg, faults]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdin is not None
    infos = []
    for line in process.stdout:
        if line.strip() == "ready":
            break
        infos.append(json.loads(line))
    if len(infos) != count:
        process.kill()
        process.wait(60)
        process.stdout.close()
        process.stdin.close()
        raise RuntimeError(f"the {kind} emulator host did not start")
    try:
        yield infos
    finally:
        process.stdin.close()
        process.wait(60)
        process.stdout.close()


def write_firm(
    folder: Path, name: str, qbo: dict[str, str], tps: dict[str, str], limits: str
) -> tuple[Path, dict[str, str]]:
    """A firm config for one QBO company and one TPS firm, connected (its refresh token
    saved as `connect` would), and the environment its secrets are read from."""
    key = name.upper().replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "tpsqbo.yaml"
    config.write_text(
        f"kind: firm\nfirm: {name}\nrules: [tps-qbo-standard]\n"
        f"tps: {{connection: http, base_url: '{tps['base_url']}', token_env: TPS_{key}}}\n"
        f"qbo: {{environment: '{qbo['discovery_url']}', limits: '{limits}', "
        f"client_secret_env: QBO_{key}}}\n",
        encoding="utf-8",
    )
    tokens = Tokens(
        qbo["realm_id"],
        qbo["base_url"],
        qbo["discovery_url"],
        qbo["client_id"],
        "",
        0.0,
        qbo["refresh_token"],
        time.time() + 100 * 86400,
    )
    TokenStore(folder / ".tpsqbo" / "qbo-tokens.json").save(tokens)
    return config, {f"TPS_{key}": tps["token"], f"QBO_{key}": qbo["client_secret"]}


if __name__ == "__main__":
    _host(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
