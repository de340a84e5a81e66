"""Run the TPS emulator on loopback, optionally keeping the firm in a state file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.bodies import json_default
from tpsqbo_engine.emulators.serving import LoopbackServer
from tpsqbo_engine.emulators.tps.app import TpsEmulator
from tpsqbo_engine.emulators.tps.firm import Firm
from tpsqbo_engine.emulators.tps.seed import seeded_firm
from tpsqbo_engine.private import write_private


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
            {"firm": firm.firm, "records": firm.records, "counters": firm.counters, "token": token},
            default=json_default,
        )
    write_private(path, text)


def load_firm(path: Path) -> tuple[Firm, str]:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
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
        self.options = options
        self._loop = LoopbackServer(self.app, options.host, options.port, self.save)
        self.app.on_write = self._loop.mark_dirty
        self.base_url = self._loop.base_url

    @property
    def firm(self) -> Firm:
        return self.app.firm

    def connection_info(self) -> dict[str, str]:
        return {"base_url": self.base_url, "token": self.app.token}

    def start(self) -> TpsEmulatorServer:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()

    def save(self) -> None:
        if self.options.state is not None:
            save_firm(self.options.state, self.firm, self.app.token)

    def __enter__(self) -> TpsEmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
