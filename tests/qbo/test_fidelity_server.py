"""XML answers and the emulator as a server (docs/emulator-fidelity.md, rows 8.x and 9.x)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from xml.etree import ElementTree

import pytest
import requests

from tests.qbo.conftest import Api
from tpsqbo_engine import cli
from tpsqbo_engine.emulators.qbo.webhooks import WebhookSender

NS = {"q": "http://schema.intuit.com/finance/v3"}


def _xml(api: Api, method: str, path: str, **kwargs: Any) -> ElementTree.Element:
    headers = api.headers(Accept="application/xml")
    response = requests.request(method, f"{api.base}/{path}", headers=headers, timeout=5, **kwargs)
    assert response.headers["Content-Type"].startswith("application/xml")
    return ElementTree.fromstring(response.content)


def _customer_id(api: Api) -> str:
    customer = api.server.company.find_by("Customer", "DisplayName", "Red Rock Diner")
    assert customer is not None
    return str(customer["Id"])


def test_a_read_in_xml(api: Api) -> None:
    ident = _customer_id(api)
    root = _xml(api, "GET", f"customer/{ident}")
    customer = root.find("q:Customer", NS)
    assert customer is not None and customer.get("domain") == "QBO"
    assert customer.findtext("q:Id", namespaces=NS) == ident
    assert customer.findtext("q:DisplayName", namespaces=NS) == "Red Rock Diner"
    assert root.get("time")


def test_a_query_in_xml(api: Api) -> None:
    root = _xml(api, "GET", "query", params={"query": "SELECT * FROM Customer MAXRESULTS 2"})
    answer = root.find("q:QueryResponse", NS)
    assert answer is not None and answer.get("maxResults") == "2"
    assert len(answer.findall("q:Customer", NS)) == 2
    count = _xml(api, "GET", "query", params={"query": "SELECT COUNT(*) FROM Customer"})
    assert int(count.find("q:QueryResponse", NS).get("totalCount", "0")) > 2  # type: ignore[union-attr]


def test_a_write_in_xml_with_references_as_text(api: Api) -> None:
    item = api.server.company.find_by("Item", "Name", "Bookkeeping")
    assert item is not None
    body = {
        "CustomerRef": {"value": _customer_id(api)},
        "Line": [
            {
                "Amount": 50,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1},
            }
        ],
    }
    root = _xml(api, "POST", "invoice", json=body)
    invoice = root.find("q:Invoice", NS)
    assert invoice is not None
    ref = invoice.find("q:CustomerRef", NS)
    assert ref is not None and ref.text == _customer_id(api)
    assert ref.get("name") == "Red Rock Diner"
    assert len(invoice.findall("q:Line", NS)) >= 1


def test_a_fault_in_xml(api: Api) -> None:
    root = _xml(api, "POST", "customer", json={"DisplayName": "X", "Bogus": 1})
    error = root.find("q:Fault/q:Error", NS)
    assert error is not None and error.get("code") == "2010"
    assert "Bogus" in (error.findtext("q:Detail", namespaces=NS) or "")
    assert root.find("q:Fault", NS).get("type") == "ValidationFault"  # type: ignore[union-attr]


def test_control_endpoints_need_the_admin_token(api: Api) -> None:
    url = f"{api.server.base_url}/__emulator__/faults"
    assert requests.post(url, json={"spec": "5xx#1"}, timeout=5).status_code == 401
    access = {"Authorization": f"Bearer {api.token}"}  # an API token is not the admin token
    assert requests.post(url, json={"spec": "5xx#1"}, headers=access, timeout=5).status_code == 401
    api.faults("5xx#1")  # with the admin token
    assert api.get("preferences").status_code == 503


def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    port = int(api.server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = (
            f"POST /v3/company/{api.server.company.realm_id}/customer HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {api.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
        )
        sock.sendall(head.encode())  # the announced gigabyte is never sent
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")


def test_a_chunked_body_over_the_limit_is_413(api: Api) -> None:
    api.server.emulator.max_body = 1000

    def chunks(size: int) -> Iterator[bytes]:
        yield b'{"DisplayName": "Chunked'
        yield b" " * size
        yield b'"}'

    url = f"{api.base}/customer"
    headers = api.headers(**{"Content-Type": "application/json"})
    over = requests.post(url, data=chunks(5000), headers=headers, timeout=5)
    assert over.status_code == 413
    assert requests.post(url, data=chunks(10), headers=headers, timeout=5).status_code == 200


class _Redirecting(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        type(self).hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(307)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    _Redirecting.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_the_webhook_sender_never_follows_a_redirect(redirecting: str) -> None:
    sender = WebhookSender(redirecting, "verifier", "1")
    sender._deliver([("Customer", "1", "Create", "2024-01-01T00:00:00.000Z")])
    assert _Redirecting.hits == ["/hook"] and sender.delivered == 0


def test_the_webhook_sender_refuses_an_empty_verifier() -> None:
    with pytest.raises(ValueError, match="verifier"):
        WebhookSender("http://127.0.0.1:9/hook", "", "1")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--seed", "sandbox-xx"), ("--limits", "fast"), ("--webhook-format", "xml")],
)
def test_choices_are_checked_while_parsing(capsys: Any, option: str, value: str) -> None:
    assert cli.main(["emulate", "qbo", option, value]) == 2
    assert f"Invalid value for '{option}'" in capsys.readouterr().err


def test_batch_and_cdc_in_xml(api: Api) -> None:
    body = {"BatchItemRequest": [{"bId": "q1", "Query": "SELECT * FROM Term"}]}
    root = _xml(api, "POST", "batch", json=body)
    item = root.find("q:BatchItemResponse", NS)
    assert item is not None and item.get("bId") == "q1"
    assert item.find("q:QueryResponse/q:Term", NS) is not None
    api.create("Customer", {"DisplayName": "Changed Lately"})
    since = api.server.company.timestamp()[:10]  # today, in the company's offset
    cdc = _xml(api, "GET", "cdc", params={"entities": "Customer", "changedSince": since})
    names = cdc.findall("q:CDCResponse/q:QueryResponse/q:Customer/q:DisplayName", NS)
    assert "Changed Lately" in [n.text for n in names]


def test_the_checks_can_be_measured_off(api: Api) -> None:
    # bench/qbo_client.py compares the emulator with its checks on and off: off must be off.
    api.server.emulator.strict_properties = False
    assert api.post("customer", {"DisplayName": "Lenient", "NoSuchField": 1}).status_code == 200
    api.server.emulator.strict_properties = True
    assert api.post("customer", {"DisplayName": "Strict", "NoSuchField": 1}).status_code == 400


def test_a_report_in_xml(api: Api) -> None:
    root = _xml(api, "GET", "reports/CustomerBalance")
    assert root.tag == "{http://schema.intuit.com/finance/v3}Report"
    assert root.findtext("q:Header/q:ReportName", namespaces=NS) == "CustomerBalance"
    cells = root.findall("q:Rows/q:Row/q:ColData", NS)
    assert cells and cells[0].get("value") and cells[0].text is None
