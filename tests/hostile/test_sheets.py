"""People's files: outbox sheets are safe to open in a spreadsheet, and come back as written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps import sheetio, sheetlayouts, sheetreading, sheetwriting

DANGEROUS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1 555 0100",
    "-2+3",
    "@SUM(A1:A9)",
    "\tleading tab",
    "\r=cr",
    "'=already quoted",
    "''@twice",
    "'Tis the season",
    "plain",
]


def _payments() -> list[dict[str, object]]:
    return [
        {
            "client_id": f"C{n}",
            "date": "2026-11-30",
            "amount": "40.00",
            "reference": value,
            "description": value,
        }
        for n, value in enumerate(DANGEROUS)
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_outbox_cells_that_would_be_formulas_are_neutralised(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"payments{suffix}"
    sheetwriting.write_sheet(
        path, sheetlayouts.SHEETS["payments"], sheetwriting.payment_rows(_payments())
    )
    raw = list(_raw_cells(path))
    references = [row[4] for row in raw[1:]]
    for cell, original in zip(references, _as_stored(DANGEROUS, suffix), strict=True):
        starts_formula = original.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r", "\n")
        assert cell == ("'" + original if starts_formula else original)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_negative_amounts_stay_numbers(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"invoices{suffix}"
    credit = {"client_id": "C1", "doc_number": "-7", "subtotal": "-12.50", "tax_total": "-0.63"}
    sheetwriting.write_sheet(
        path, sheetlayouts.SHEETS["invoices"], [{**credit, "date": "2026-11-30"}]
    )
    assert _raw_cells(path)[1][1:4] == ["-7", "-12.50", "-0.63"]
    read = sheetreading.read_invoices(path)
    assert (read[0]["doc_number"], str(read[0]["subtotal"])) == ("-7", "-12.50")


def test_xlsx_holds_no_formula(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "payments.xlsx"
    sheetwriting.write_sheet(
        path, sheetlayouts.SHEETS["payments"], sheetwriting.payment_rows(_payments())
    )
    sheet = load_workbook(path).worksheets[0]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_reader_takes_off_exactly_what_the_writer_put_on(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"payments{suffix}"
    sheetwriting.write_sheet(
        path, sheetlayouts.SHEETS["payments"], sheetwriting.payment_rows(_payments())
    )
    read = sheetreading.read_payments(path)
    assert [r.get("reference") for r in read] == _as_stored(DANGEROUS, suffix)
    assert [r.get("description") for r in read] == _as_stored(DANGEROUS, suffix)


def _as_stored(values: list[str], suffix: str) -> list[str]:
    """XLSX is XML, where a CR is read back as a LF."""
    return [v.replace("\r", "\n") for v in values] if suffix == ".xlsx" else values


def _raw_cells(path: Path) -> list[list[str]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.reader(handle))
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    return [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]


# Sheets as people save them ----------------------------------------------------------------
CLIENTS = "Client Code,Client Name,Email\nC1,Café Zoë Ltd,zoe@example.com\nC2,Smith & Sons,\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: t.encode("utf-8-sig"),
        lambda t: t.encode("utf-16"),
        lambda t: t.encode("utf-16-be").join([b"\xfe\xff", b""]),
        lambda t: t.encode("cp1252"),
        lambda t: t.replace("Zoë", "Zoë \u2019").encode("cp1252"),
        lambda t: t.encode("latin-1"),
    ],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom", "cp1252", "cp1252-quote", "latin1"],
)
def test_sheets_read_in_the_encodings_people_save(tmp_path: Path, encode) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clients.csv"
    path.write_bytes(encode(CLIENTS))
    clients = sheetreading.read_clients(path)
    assert clients[0]["name"].replace(" \u2019", "") == "Café Zoë Ltd"
    assert clients[0]["code"] == "C1"
    assert clients[1]["name"] == "Smith & Sons"


def test_a_named_encoding_is_used_and_a_misfit_byte_is_located(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(CLIENTS.encode("cp1252"))
    with sheetio.encoding("cp1252"):
        assert sheetreading.read_clients(path)[0]["name"] == "Café Zoë Ltd"
    with sheetio.encoding("utf-8"), pytest.raises(sheetreading.FileBridgeError) as refused:
        sheetreading.read_clients(path)
    problem = refused.value.problems[0]
    assert (problem.code, problem.line, problem.column) == ("file.encoding", 2, 7)


def _refused(path: Path) -> tuple[str, int, int, str]:
    with pytest.raises(sheetreading.FileBridgeError) as refused:
        sheetreading.read_clients(path)
    problem = refused.value.problems[0]
    assert refused.value.message.startswith(problem.file) and "nothing was imported" in (
        refused.value.message
    )
    return problem.code, problem.line, problem.column, problem.message


def test_an_empty_sheet_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_bytes(b"")
    assert _refused(tmp_path / "clients.csv")[:3] == ("file.empty", 1, 1)


def test_a_corrupt_xlsx_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "clients.xlsx").write_bytes(b"PK\x03\x04 this is not really a workbook" * 50)
    assert _refused(tmp_path / "clients.xlsx")[0] == "file.unreadable"
    (tmp_path / "other.xlsx").write_text(CLIENTS)
    assert _refused(tmp_path / "other.xlsx")[0] == "file.unreadable"


@pytest.mark.parametrize("size", [sheetio.MAX_CELL + 1, 200_000])
def test_a_cell_over_the_limit_is_located(tmp_path: Path, size: int) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS + f"C3,{'x' * size},\n")
    code, line, column, _ = _refused(path)
    assert (code, line) == ("file.cell-too-large", 4) and column in (1, 2)


def test_a_nul_byte_is_located(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(CLIENTS.encode() + b"C3,Bad\x00Name,\n")
    assert _refused(path)[:2] == ("file.unreadable", 4)


def test_a_100_mb_sheet_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    with path.open("wb") as handle:  # sparse: made in no time, never committed
        handle.write(CLIENTS.encode())
        handle.truncate(100 * 1024 * 1024)
    code, _, _, message = _refused(path)
    assert code == "file.too-large" and "104,857,600 bytes" in message


def test_a_bad_sheet_stops_the_read_whole_with_exit_1(tmp_path: Path) -> None:
    from tpsqbo_engine.connectors.tps.filesource import FileTps

    (tmp_path / "clients.csv").write_text(CLIENTS)
    (tmp_path / "payments.csv").write_bytes(b"")
    source = FileTps(tmp_path, "Test")
    with pytest.raises(sheetreading.FileBridgeError) as refused:
        list(source.records("clients"))
    assert refused.value.exit_code == 1 and "payments.csv" in refused.value.message
    with pytest.raises(sheetreading.FileBridgeError):  # nothing half-loaded was kept
        list(source.records("clients"))


def test_the_command_line_encoding_wins_and_an_unknown_one_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tpsqbo_engine import cli

    assert cli.main(["--encoding", "no-such-codec", "validate"]) == 2
    assert "no-such-codec" in capsys.readouterr().err
    path = tmp_path / "clients.csv"
    path.write_bytes(CLIENTS.encode("utf-8"))
    sheetio.from_command_line("latin-1")
    try:
        with sheetio.encoding("utf-8"):
            assert sheetreading.read_clients(path)[0]["name"] == "CafÃ© ZoÃ« Ltd"
    finally:
        sheetio.from_command_line("")


def test_the_firm_config_names_the_encoding(tmp_path: Path) -> None:
    from tpsqbo_engine.errors import UsageError
    from tpsqbo_engine.sync.config import load_config

    config = tmp_path / "tpsqbo.yaml"
    text = "kind: firm\nfirm: T\ntps: {connection: files, folder: s, encoding: %s}\n"
    config.write_text(text % "cp1252" + "qbo: {environment: sandbox}\n")
    assert load_config(config).tps.encoding == "cp1252"
    config.write_text(text % "klingon" + "qbo: {environment: sandbox}\n")
    with pytest.raises(UsageError, match=r"tps\.encoding"):
        load_config(config)
