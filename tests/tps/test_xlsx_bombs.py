"""A workbook under the file size limit that would unpack to far more (a zip bomb, a runaway
shared-strings table) is refused before openpyxl opens it: one `file.too-large` problem
naming the file, at once, not minutes and gigabytes later."""

from __future__ import annotations

import resource
import time
import zipfile
from pathlib import Path

import pytest

from tpsqbo_engine.connectors.tps import sheetio, sheetlayouts, sheetreading, sheetwriting

_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_BOOK = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_SHEET = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
    "</worksheet>"
)


def _workbook(path: Path, strings: int, text: bytes = b"x" * 200, level: int = 9) -> Path:
    """A valid one-row workbook whose shared strings hold `strings` copies of `text`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as book:
        for name, part in (
            ("[Content_Types].xml", _TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _BOOK),
            ("xl/_rels/workbook.xml.rels", _BOOK_RELS),
            ("xl/worksheets/sheet1.xml", _SHEET),
        ):
            book.writestr(name, part)
        with book.open("xl/sharedStrings.xml", "w") as shared:
            shared.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/')
            shared.write(b'spreadsheetml/2006/main">')
            chunk = (b"<si><t>" + text + b"</t></si>") * 10_000
            for _ in range(strings // 10_000):
                shared.write(chunk)
            shared.write(b"</sst>")
    return path


def _refused(path: Path) -> str:
    records, problems = sheetreading.read_sheet(path, sheetlayouts.SHEETS["clients"])
    assert records == []
    (problem,) = problems
    assert (problem.code, problem.line, problem.column) == ("file.too-large", 1, 1)
    assert problem.file.endswith(path.name)
    return problem.message


def test_a_shared_strings_bomb_is_refused_at_once(tmp_path: Path) -> None:
    # As found: strings of 200 characters, 75 MB of them in 0.8 MB (packed fast for the
    # test; packed tighter, 1,000,000 of them fit in the same 0.8 MB).
    path = _workbook(tmp_path / "clients.xlsx", 350_000, level=1)
    assert path.stat().st_size < 1_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    message = _refused(path)
    assert time.perf_counter() - started < 2  # openpyxl opening it: see bench/xlsx_bomb.py
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB
    assert "xl/sharedStrings.xml unpacks to 75," in message


def test_a_part_packed_tighter_than_any_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "clients.xlsx", 20_000)  # 4 MB from some 20 kB
    assert "packed tighter than any spreadsheet" in _refused(path)


def test_parts_that_unpack_to_more_than_the_limit_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheetio, "MAX_UNPACKED", 1_000_000)
    text = bytes(range(48, 123)) * 2  # varied enough to pack like a real sheet
    path = _workbook(tmp_path / "clients.xlsx", 10_000, text)
    assert "the workbook unpacks to" in _refused(path)


def test_a_workbook_of_too_many_parts_is_refused_before_its_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheetio, "MAX_PARTS", 50)
    path = _workbook(tmp_path / "clients.xlsx", 0)
    with zipfile.ZipFile(path, "a") as book:
        for number in range(60):
            book.writestr(f"xl/media/{number}.bin", b"")

    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the zip's directory was read")

    monkeypatch.setattr(zipfile.ZipFile, "__init__", unread)
    assert "holds 66 parts; at most 50" in _refused(path)


def test_the_zip64_end_record_is_read_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zip64 writers put 0xFFFF in the end record's count and the count in a record of
    their own."""
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)  # zipfile writes zip64 records
    path = _workbook(tmp_path / "clients.xlsx", 0)
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert sheetio._zip_parts(path) == 6
    monkeypatch.setattr(sheetio, "MAX_PARTS", 5)
    assert "holds 6 parts" in _refused(path)


def test_a_workbook_within_the_limits_is_read(tmp_path: Path) -> None:
    path = tmp_path / "clients.xlsx"
    sheetwriting.write_sheet(
        path, sheetlayouts.SHEETS["clients"], [{"code": "A1", "name": "Alder"}] * 1
    )
    records, problems = sheetreading.read_sheet(path, sheetlayouts.SHEETS["clients"])
    assert problems == [] and [r["code"] for r in records] == ["A1"]
