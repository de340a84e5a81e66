"""Batch, CDC, requestid, error envelopes, OAuth, throttling, faults, webhooks and state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.qbo.conftest import Api, make_options, token_grant
from tests.qbo.test_emulator_routes import _invoice
from tpsqbo_engine.emulators.qbo.server import QboEmulatorServer


class TestBatch:
    def test_items_are_independent_and_faults_stay_inside_an_http_200(self, api: Api) -> None:
        items = [
            {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
            {"bId": "b2", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
            {"bId": "b3", "Query": "select * from Item where Name = 'Consulting'"},
        ]
        response = api.post("batch", {"BatchItemRequest": items})
        assert response.status_code == 200
        answers = {a["bId"]: a for a in response.json()["BatchItemResponse"]}
        assert answers["b1"]["Customer"]["DisplayName"] == "Batch One"
        assert answers["b2"]["Fault"]["Error"][0]["code"] == "6240"
        assert answers["b3"]["QueryResponse"]["Item"][0]["Name"] == "Consulting"

    def test_what_one_item_creates_is_invisible_to_the_next(self, api: Api) -> None:
        item = api.query("select * from Item where Name = 'Consulting'").json()["QueryResponse"][
            "Item"
        ][0]["Id"]
        next_id = str(api.server.company.next_id)
        items = [
            {"bId": "c", "operation": "create", "Customer": {"DisplayName": "Newborn"}},
            {
                "bId": "i",
                "operation": "create",
                "Invoice": {
                    "CustomerRef": {"value": next_id},
                    "Line": [
                        {
                            "Amount": 5,
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {"ItemRef": {"value": item}},
                        }
                    ],
                },
            },
        ]
        answers = api.post("batch", {"BatchItemRequest": items}).json()["BatchItemResponse"]
        assert answers[0]["Customer"]["Id"] == next_id
        assert answers[1]["Fault"]["Error"][0]["code"] == "2500"

    def test_at_most_30_items(self, api: Api) -> None:
        items = [{"bId": f"b{i}", "Query": "select * from Term"} for i in range(31)]
        response = api.post("batch", {"BatchItemRequest": items})
        assert (
            response.status_code == 400 and "30" in response.json()["Fault"]["Error"][0]["Detail"]
        )


class TestCdc:
    def test_changes_since_a_moment_with_deleted_stubs(self, api: Api) -> None:
        since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
        customer = api.create("Customer", {"DisplayName": "Changed Lately"})
        invoice = _invoice(api)
        api.post(
            "invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}, operation="delete"
        )
        body = api.get("cdc", entities="customer,Invoice", changedSince=since).json()
        blocks = body["CDCResponse"][0]["QueryResponse"]
        found = {
            name: rows for block in blocks for name, rows in block.items() if isinstance(rows, list)
        }
        assert customer["Id"] in [c["Id"] for c in found["Customer"]]
        assert {"Id": invoice["Id"], "status": "Deleted"}.items() <= found["Invoice"][-1].items()

    def test_look_back_is_30_days(self, api: Api) -> None:
        old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
        response = api.get("cdc", entities="Customer", changedSince=old)
        assert response.status_code == 400
        assert (
            "older than fixed days is not supported"
            in response.json()["Fault"]["Error"][0]["Detail"]
        )

    def test_answers_hold_at_most_1000_objects_across_entities(self, api: Api) -> None:
        since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
        for n in range(1005):
            api.server.company.create("Customer", {"DisplayName": f"Wave {n:04d}"})
        body = api.get("cdc", entities="Customer,Invoice", changedSince=since).json()
        counted = sum(
            len(rows)
            for block in body["CDCResponse"][0]["QueryResponse"]
            for rows in block.values()
            if isinstance(rows, list)
        )
        assert counted == 1000

    def test_nothing_changed_is_an_empty_response(self, api: Api) -> None:
        soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        body = api.get("cdc", entities="Customer", changedSince=soon).json()
        assert body["CDCResponse"] == [{"QueryResponse": [{}]}]


class TestRequestId:
    def test_a_repeated_requestid_replays_the_first_answer(self, api: Api) -> None:
        first = api.post("customer", {"DisplayName": "Once Only"}, requestid="r-1")
        again = api.post("customer", {"DisplayName": "Once Only"}, requestid="r-1")
        assert again.status_code == 200 and again.json() == first.json()
        rows = api.query("select * from Customer where DisplayName = 'Once Only'").json()
        assert len(rows["QueryResponse"]["Customer"]) == 1

    def test_ignore_requestid_fault_runs_the_write_twice(self, api: Api) -> None:
        api.faults("ignore-requestid")
        body = {"CustomerRef": _invoice(api)["CustomerRef"], "Line": _invoice(api)["Line"][:1]}
        first = api.post("invoice", body, requestid="r-2").json()["Invoice"]
        second = api.post("invoice", body, requestid="r-2").json()["Invoice"]
        assert first["Id"] != second["Id"]

    def test_requestid_longer_than_50_is_refused(self, api: Api) -> None:
        response = api.post("customer", {"DisplayName": "Long Id"}, requestid="x" * 51)
        assert response.status_code == 400


class TestErrors:
    def test_faults_have_string_codes(self, api: Api) -> None:
        error = api.get("customer/999999").json()["Fault"]
        assert error["type"] == "ValidationFault"
        assert isinstance(error["Error"][0]["code"], str)

    def test_a_bad_token_gets_the_gateway_shape(self, api: Api) -> None:
        response = requests.get(
            f"{api.base}/customer/1", timeout=5, headers={"Authorization": "Bearer nope"}
        )
        assert response.status_code == 401
        body = response.json()
        assert body["fault"]["error"][0]["code"] == "3200"
        assert "AuthenticationFailed" in body["fault"]["error"][0]["message"]
        assert isinstance(body["time"], int)

    def test_throttle_json_and_xml(self, api: Api) -> None:
        api.faults("throttle#1")
        json_answer = api.get("preferences")
        assert json_answer.status_code == 429
        assert json_answer.json()["Fault"]["Error"][0]["code"] == "3001"
        api.faults("throttle-xml#1")
        xml_answer = api.get("preferences")
        assert xml_answer.status_code == 429 and '<Error code="3001">' in xml_answer.text

    def test_every_response_has_an_intuit_tid(self, api: Api) -> None:
        assert api.get("preferences").headers["intuit_tid"]


class TestFaults:
    def test_5xx(self, api: Api) -> None:
        api.faults("5xx#1")
        assert api.get("preferences").status_code == 503
        assert api.get("preferences").status_code == 200

    def test_slow(self, api: Api) -> None:
        api.faults("slow=0.3#1")
        started = time.perf_counter()
        api.get("preferences")
        assert time.perf_counter() - started >= 0.3

    def test_commit_then_timeout_writes_but_never_answers(self, api: Api) -> None:
        api.faults("commit-timeout#1")
        with pytest.raises(requests.ConnectionError):
            api.post("customer", {"DisplayName": "Ghost Write"})
        rows = api.query("select * from Customer where DisplayName = 'Ghost Write'").json()
        assert len(rows["QueryResponse"]["Customer"]) == 1

    def test_every_nth_request(self, api: Api) -> None:
        api.faults("5xx@3")
        codes = [api.get("preferences").status_code for _ in range(6)]
        assert codes.count(503) == 2

    def test_a_bad_spec_is_refused(self, api: Api) -> None:
        response = requests.post(
            f"{api.server.base_url}/__emulator__/faults",
            json={"spec": "explode@2"},
            headers={"Authorization": f"Bearer {api.server.emulator.admin_token}"},
            timeout=5,
        )
        assert response.status_code == 400


class TestOAuth:
    def test_discovery_document_points_at_the_emulator(self, qbo_server: QboEmulatorServer) -> None:
        doc = requests.get(qbo_server.discovery_url, timeout=5).json()
        assert doc["token_endpoint"] == f"{qbo_server.base_url}/oauth2/v1/tokens/bearer"
        assert doc["authorization_endpoint"].startswith(qbo_server.base_url)

    def test_authorize_consents_and_the_code_is_single_use(
        self, qbo_server: QboEmulatorServer
    ) -> None:
        redirect = "http://127.0.0.1:1/callback"
        answer = requests.get(
            f"{qbo_server.base_url}/connect/oauth2",
            timeout=5,
            allow_redirects=False,
            params={
                "client_id": qbo_server.oauth.client_id,
                "state": "s1",
                "response_type": "code",
                "redirect_uri": redirect,
                "scope": "com.intuit.quickbooks.accounting",
            },
        )
        assert answer.status_code == 302
        params = parse_qs(urlparse(answer.headers["Location"]).query)
        assert params["state"] == ["s1"] and params["realmId"] == [qbo_server.company.realm_id]
        grant = {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": redirect,
        }
        credentials = (qbo_server.oauth.client_id, qbo_server.oauth.client_secret)
        url = f"{qbo_server.base_url}/oauth2/v1/tokens/bearer"
        first = requests.post(url, data=grant, auth=credentials, timeout=5)
        assert first.status_code == 200 and first.json()["token_type"] == "bearer"
        assert requests.post(url, data=grant, auth=credentials, timeout=5).status_code == 400

    @pytest.mark.qbo(refresh_rotation=0)
    def test_refresh_rotates_and_the_old_token_is_invalid_grant(
        self, qbo_server: QboEmulatorServer
    ) -> None:
        grant = token_grant(qbo_server, qbo_server.refresh_token)
        assert grant["refresh_token"] != qbo_server.refresh_token
        again = requests.post(
            f"{qbo_server.base_url}/oauth2/v1/tokens/bearer",
            timeout=5,
            data={"grant_type": "refresh_token", "refresh_token": qbo_server.refresh_token},
            auth=(qbo_server.oauth.client_id, qbo_server.oauth.client_secret),
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    @pytest.mark.qbo(access_ttl=0.5)
    def test_access_tokens_expire(self, api: Api) -> None:
        assert api.get("preferences").status_code == 200
        time.sleep(0.6)
        expired = api.get("preferences")
        assert (
            expired.status_code == 401
            and "expired" in expired.json()["fault"]["error"][0]["detail"]
        )

    def test_revoke(self, qbo_server: QboEmulatorServer) -> None:
        grant = token_grant(qbo_server, qbo_server.refresh_token)
        requests.post(
            f"{qbo_server.base_url}/oauth2/v1/tokens/revoke",
            timeout=5,
            json={"token": grant["refresh_token"]},
            auth=(qbo_server.oauth.client_id, qbo_server.oauth.client_secret),
        )
        with pytest.raises(requests.HTTPError):
            token_grant(qbo_server, grant["refresh_token"])


@pytest.mark.qbo(limits="real")
def test_ten_requests_a_second(api: Api) -> None:
    codes = [api.get("preferences").status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429


@pytest.mark.qbo(limits="scale=1,minute=500,second=100,batch=2")
def test_batch_calls_per_minute(api: Api) -> None:
    body = {"BatchItemRequest": [{"bId": "q", "Query": "select * from Term"}]}
    codes = [api.post("batch", body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


class _Receiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((body, dict(self.headers)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def wait(self) -> tuple[bytes, dict[str, str]]:
        deadline = time.monotonic() + 5
        while not self.deliveries and time.monotonic() < deadline:
            time.sleep(0.02)
        self.server.shutdown()
        self.server.server_close()
        return self.deliveries[0]


@pytest.mark.parametrize("fmt", ["legacy", "cloudevents"])
def test_webhooks_are_signed_with_the_verifier_token(fmt: str) -> None:
    receiver = _Receiver()
    options = make_options(
        webhook_url=receiver.url, webhook_verifier="verifier-123", webhook_format=fmt
    )
    with QboEmulatorServer(options) as server:
        api = Api(server, token_grant(server, server.refresh_token)["access_token"])
        customer = api.create("Customer", {"DisplayName": "Hooked Co"})
        body, headers = receiver.wait()
    expected = base64.b64encode(hmac.new(b"verifier-123", body, hashlib.sha256).digest())
    assert headers["intuit-signature"] == expected.decode()
    payload = json.loads(body)
    if fmt == "legacy":
        entity = payload["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
        assert entity == {**entity, "name": "Customer", "id": customer["Id"], "operation": "Create"}
    else:
        assert payload[0]["type"] == "qbo.customer.created.v1"
        assert payload[0]["intuitentityid"] == customer["Id"]


def test_webhooks_go_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        QboEmulatorServer(make_options(webhook_url="http://192.0.2.1/hook"))


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "company.json"
    with QboEmulatorServer(make_options(state=state)) as server:
        api = Api(server, token_grant(server, server.refresh_token)["access_token"])
        kept = api.create("Customer", {"DisplayName": "Persistent Pty"})
        client_id = server.oauth.client_id
    assert state.stat().st_mode & 0o777 == 0o600
    with QboEmulatorServer(make_options(state=state)) as server:
        assert server.oauth.client_id == client_id
        assert server.company.get("Customer", kept["Id"])["DisplayName"] == "Persistent Pty"


@pytest.mark.qbo(seed="sandbox-ca")
def test_canadian_sandbox_has_gst_hst_codes(api: Api) -> None:
    codes = [
        c["Name"] for c in api.query("select * from TaxCode").json()["QueryResponse"]["TaxCode"]
    ]
    assert {"GST", "HST ON"} <= set(codes)
    invoice = api.query("select * from Invoice where DocNumber = '1002'").json()["QueryResponse"][
        "Invoice"
    ][0]
    assert invoice["TxnTaxDetail"]["TotalTax"] == 97.5


def test_us_sandbox_holds_what_the_exclusions_look_for(api: Api) -> None:
    for entity in ("CreditMemo", "JournalEntry", "Deposit"):
        assert (
            api.query(f"select count(*) from {entity}").json()["QueryResponse"]["totalCount"] >= 1
        )
    cheque = api.query("select * from Purchase where PaymentType = 'Check'").json()
    assert cheque["QueryResponse"]["Purchase"]
    lines = api.query("select * from Invoice").json()["QueryResponse"]["Invoice"][0]["Line"]
    assert lines[0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] in ("TAX", "NON")
