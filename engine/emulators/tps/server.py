"""Run the TPS emulator on loopback, optionally keeping the firm in a state file."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from tpsqbo_engine.emulators.tps.app import TpsEmulator
from tpsqbo_engine.emulators.tps.firm import Firm
from tpsqbo_engine.emulators.tps.seed import seeded_firm

SAVE_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class TpsOptions:
    host: str = "127.0.0.1"
    port: int = 0
    seed: str = "demo"
    state: Path | None = None
    faults: str = ""


def save_firm(path: Path, firm: Firm, token: str) -> None:
    with firm.lock:
        text = json.dumps(
            {"firm": firm.firm, "records": firm.records, "counters": firm.counters, "token": token}
        )
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)


def load_firm(path: Path) -> tuple[Firm, str]:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    firm = Firm(state["firm"], state["records"], state["counters"])
    firm.rebuild_index()
    return firm, str(state["token"])


class TpsEmulatorServer:
    def __init__(self, options: TpsOptions) -> None:
        if options.state is not None and options.state.exists():
            firm, token = load_firm(options.state)
            self.app = TpsEmulator(firm, token)
        else:
            self.app = TpsEmulator(seeded_firm(options.seed))
        self.app.plan.add(options.faults)
        self.app.on_write = self._dirty_set
        self.options = options
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: BaseWSGIServer = make_server(
            options.host, options.port, self.app, threaded=True
        )
        self.base_url = f"http://{options.host}:{self._server.server_port}"
        self._dirty, self._stopping = threading.Event(), threading.Event()

    @property
    def firm(self) -> Firm:
        return self.app.firm

    def connection_info(self) -> dict[str, str]:
        return {"base_url": self.base_url, "token": self.app.token}

    def start(self) -> TpsEmulatorServer:
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="tps-emulator",
        ).start()
        threading.Thread(target=self._keep_saving, daemon=True, name="tps-saver").start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.save()

    def save(self) -> None:
        if self.options.state is not None:
            save_firm(self.options.state, self.firm, self.app.token)

    def __enter__(self) -> TpsEmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dirty_set(self) -> None:
        self._dirty.set()

    def _keep_saving(self) -> None:
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            if self._dirty.is_set():
                self._dirty.clear()
                self.save()
