"""`emulate tps --seed empty` and `--seed FILE`: a firm without touching the state file."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tpsqbo_engine import cli
from tpsqbo_engine.emulators.tps.seed import seeded_firm
from tpsqbo_engine.emulators.tps.server import TpsEmulatorServer, TpsOptions

# The examples live in the checkout, not in the installed wheel.
EXAMPLE = Path(__file__).parents[2] / "examples" / "awkward-firm" / "tps-firm.yaml"


def test_empty_is_the_firm_s_settings_and_nothing_else() -> None:
    firm = seeded_firm("empty")
    assert firm.firm["name"] and not any(firm.records.values())


def test_the_example_file_is_a_firm_with_its_arithmetic_done() -> None:
    firm = seeded_firm(str(EXAMPLE))
    assert firm.firm["name"] == "Alder & Ash CPAs"
    assert firm.get("invoices", "inv-1")["balance"] == "340.00"  # less the discount
    assert firm.get("invoices", "inv-2")["balance"] == "0.00"
    unapplied = sorted(p["unapplied_amount"] for p in firm.table("payments").values())
    assert unapplied == ["1000.00", "60.00"]
    assert firm.get("invoices", "inv-1")["doc_number"].startswith("AA-")


def test_a_json_firm_is_served(tmp_path: Path) -> None:
    path = tmp_path / "firm.json"
    path.write_text('{"clients": [{"id": "c-9", "code": "Z1", "name": "Zed"}]}')
    with TpsEmulatorServer(TpsOptions(seed=str(path))) as server:
        answer = requests.get(
            f"{server.base_url}/api/v1/clients",
            headers={"Authorization": f"Bearer {server.app.token}"},
            timeout=10,
        ).json()
    assert [c["name"] for c in answer["data"]] == ["Zed"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("clients: [{code: A}]", "clients[0]: (record): 'name' is a required property"),
        ("invoices: [{client_id: c-404, date: '2026-01-01'}]", "invoices[0]: client c-404"),
        ("customers: []", "unknown key(s) customers"),
        ("- just a list", "the top level must be a mapping"),
        ("clients: {a: 1}", "clients: must be a list"),
        ("clients: [oops", "not valid YAML"),
    ],
)
def test_a_bad_firm_file_is_located(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"firm\.yaml") as refused:
        seeded_firm(str(path))
    assert said in str(refused.value)


def test_the_cli_refuses_a_missing_seed_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["emulate", "tps", "--seed", str(tmp_path / "none.yaml")]) == 2
    assert "no such seed file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "firm.yaml",
            "clients: [{id: c-1, code: B1, name: Big}]\n"
            "invoices: [{id: inv-1, client_id: c-1, date: '2026-01-01', lines: [\n"
            "  {line_no: 1, work_code: BK, amount: 1234567890123.45},\n"
            "  {line_no: 2, work_code: BK, amount: 12345678901234567.89}]}]\n",
        ),
        (
            "firm.json",
            '{"clients": [{"id": "c-1", "code": "B1", "name": "Big"}],'
            ' "invoices": [{"id": "inv-1", "client_id": "c-1", "date": "2026-01-01", "lines": ['
            '{"line_no": 1, "work_code": "BK", "amount": 1234567890123.45},'
            ' {"line_no": 2, "work_code": "BK", "amount": 12345678901234567.89}]}]}',
        ),
    ],
)
def test_seed_amounts_stay_exact(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    invoice = seeded_firm(str(path)).get("invoices", "inv-1")
    amounts = [line["amount"] for line in invoice["lines"]]
    assert amounts == ["1234567890123.45", "12345678901234567.89"]  # never through a float
    assert invoice["total"] == "12346913469124691.34"


def test_a_seed_amount_that_is_no_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text("invoices: [{client_id: c-1, date: '2026-01-01', lines: [{amount: .inf}]}]")
    with pytest.raises(ValueError, match=r"firm\.yaml: not valid YAML.*\.inf"):
        seeded_firm(str(path))
