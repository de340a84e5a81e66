"""The `emulate qbo` options through the real command: `--state`, `--access-ttl`,
`--webhook-url` and `--webhook-verifier`, each server on port 0 and stopped with SIGTERM as a
service manager would (`emulate tps --state`: tests/test_emulate_tps_state.py)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.emulate_cli import serving
from tpsqbo_engine.emulators.qbo.webhooks import sign


def _access_token(info: dict[str, str]) -> dict[str, Any]:
    discovery = requests.get(info["discovery_url"], timeout=10).json()
    answer = requests.post(
        discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": info["refresh_token"]},
        auth=(info["client_id"], info["client_secret"]),
        timeout=10,
    )
    answer.raise_for_status()
    tokens: dict[str, Any] = answer.json()
    return tokens


def _company(info: dict[str, str], access: str, path: str) -> requests.Response:
    url = f"{info['base_url']}/v3/company/{info['realm_id']}/{path}"
    return requests.get(url, headers=_bearer(access), timeout=10)


def _bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}", "Accept": "application/json"}


def _new_customer(info: dict[str, str], access: str, name: str) -> str:
    answer = requests.post(
        f"{info['base_url']}/v3/company/{info['realm_id']}/customer",
        json={"DisplayName": name},
        headers=_bearer(access),
        timeout=10,
    )
    answer.raise_for_status()
    ident: str = answer.json()["Customer"]["Id"]
    return ident


def test_emulate_qbo_state_keeps_the_company_and_the_app_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "qbo-state.json"
    with serving("qbo", "--seed", "starter", "--state", str(state)) as first:
        access = _access_token(first)["access_token"]
        ident = _new_customer(first, access, "Kept Across Restarts Ltd")
    assert state.exists() and state.stat().st_mode & 0o077 == 0
    with serving("qbo", "--seed", "starter", "--state", str(state)) as second:
        assert (second["realm_id"], second["client_id"]) == (first["realm_id"], first["client_id"])
        access = _access_token(second)["access_token"]
        found = _company(second, access, f"customer/{ident}")
        assert found.status_code == 200, found.text
        assert found.json()["Customer"]["DisplayName"] == "Kept Across Restarts Ltd"


def test_emulate_qbo_access_ttl_is_how_long_an_access_token_works() -> None:
    with serving("qbo", "--seed", "starter", "--access-ttl", "2") as info:
        issued = time.monotonic()
        tokens = _access_token(info)
        assert tokens["expires_in"] == 2
        companyinfo = f"companyinfo/{info['realm_id']}"
        assert _company(info, tokens["access_token"], companyinfo).status_code == 200
        time.sleep(max(0.0, issued + 2.3 - time.monotonic()))
        expired = _company(info, tokens["access_token"], companyinfo)
        assert expired.status_code == 401, expired.text
        fresh = _access_token(info)["access_token"]  # the refresh token still works
        assert _company(info, fresh, companyinfo).status_code == 200


class _Receiver(BaseHTTPRequestHandler):
    got: queue.Queue[tuple[str, dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.got.put((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, str], bytes]]]]:
    got: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"got": got})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/qbo", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_emulate_qbo_webhook_url_gets_a_post_signed_with_the_verifier() -> None:
    verifier = "verifier-for-this-test"
    with (
        receiver() as (url, got),
        serving(
            "qbo", "--seed", "starter", "--webhook-url", url, "--webhook-verifier", verifier
        ) as info,
    ):
        access = _access_token(info)["access_token"]
        ident = _new_customer(info, access, "Webhook Watchers Ltd")
        path, headers, body = got.get(timeout=10)
    assert path == "/hooks/qbo"
    assert headers["intuit-signature"] == sign(verifier, body)
    assert headers["intuit-signature"] != sign("another verifier", body)
    (notification,) = json.loads(body)["eventNotifications"]
    assert notification["realmId"] == info["realm_id"]
    entities = notification["dataChangeEvent"]["entities"]
    assert {"name": "Customer", "id": ident, "operation": "Create"}.items() <= entities[0].items()
