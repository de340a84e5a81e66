"""A firm whose TPS endpoint differs from the contract (another path for clients, another
name for their email) connects through `tps.paths` and `tps.fields` in its firm config."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tpsqbo_engine.emulators.serving import LoopbackServer
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.session import Session

THEIRS, OURS = "/v2/customers", "/api/v1/clients"


def _renamed(value: Any) -> Any:
    """The emulator's answer as the firm's endpoint gives it."""
    if isinstance(value, dict):
        return {("email_address" if k == "email" else k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    if isinstance(value, str):
        return value.replace(OURS, THEIRS)
    return value


def _endpoint(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Serves the emulator's clients only under THEIRS, with `email` named `email_address`."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path.startswith(OURS):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "no such path here"}']
        if not path.startswith(THEIRS):
            return app(environ, start_response)
        environ["PATH_INFO"] = OURS + path[len(THEIRS) :]
        answered: list[Any] = []
        body = b"".join(app(environ, lambda status, headers: answered.extend([status, headers])))
        status, headers = answered
        body = json.dumps(_renamed(json.loads(body))).encode()
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        start_response(status, headers)
        return [body]

    return serve


def test_paths_and_fields_of_the_firm_config_are_used(tmp_path: Path) -> None:
    with demo_firm(tmp_path / "run") as (session, _, tps):
        server = LoopbackServer(_endpoint(tps.app), "127.0.0.1", 0, lambda: None)
        server.start()
        try:
            text = session.config.path.read_text()
            text = text.replace(
                f"tps: {{connection: http, base_url: '{tps.base_url}'}}",
                f"tps: {{connection: http, base_url: '{server.base_url}', "
                f"paths: {{clients: '{THEIRS}'}}, fields: {{Client: {{email: email_address}}}}}}",
            )
            config = tmp_path / "elsewhere.yaml"
            config.write_text(text)
            clients = list(Session(load_config(config)).tps.records("clients"))
        finally:
            server.stop()
        expected = {c["id"]: c.get("email") for c in tps.firm.table("clients").values()}
        assert len(clients) == len(expected) > 0
        assert {c["id"]: c.get("email") for c in clients} == expected
        assert any(expected.values())
