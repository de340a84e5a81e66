"""Raw rows of a sheet as people save them, or one clear problem naming file, row and column.

CSV comes in whatever encoding the spreadsheet used: a BOM says UTF-8 or UTF-16; without one,
UTF-8 is tried, then Windows-1252 (what Excel writes on Windows), then Latin-1, which reads
anything. A firm whose sheets are in another encoding names it (`tps.encoding` in the firm
config, or `--encoding`), and then a byte that does not fit is an error, not a guess. XLSX is
read with openpyxl; a file that is not a workbook is an error. A file over `MAX_BYTES`, an
XLSX that would unpack to more than its limits allow (`_unpacked_within_limits`), an empty
file, a cell over `MAX_CELL` characters or a NUL byte stop the read before anything is
imported.

An XLSX number is an IEEE double, and Excel shows it to at most 15 significant digits: a
formula's 0.1+0.2 is stored as 0.30000000000000004 and shown, and meant, as 0.3. Each number
cell is read as that text (`as_shown`), so the readers take it as they take a typed amount:
0.1+0.2 is 0.30 where a cell holding 0.123 is still more than cents.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from tpsqbo_engine.problems import Problem
from tpsqbo_engine.ruleset.source import display_path

MAX_BYTES = 64 * 1024 * 1024
MAX_CELL = 32_767  # Excel's own limit for one cell
# An XLSX is a zip of XML parts. openpyxl streams a worksheet's part but reads the others
# (shared strings, styles) whole, so what a workbook unpacks to is bounded before it is
# opened: every part together, each part read whole, and how tightly a part is packed
# (spreadsheets pack 5 to 20 times; a part packed 250 times is a bomb, not a sheet).
# zipfile stops reading a part at its declared size, so the declared sizes hold.
MAX_UNPACKED = 4 * MAX_BYTES  # the XML of a sheet at sheetreading.MAX_ROWS rows fits
MAX_PARTS = 10_000  # a workbook has tens; each costs memory as the zip is opened
MAX_RATIO = 100
_RATIO_FROM = 1024 * 1024  # smaller parts cannot hurt, however packed
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_GUESSES = ("utf-8", "cp1252", "latin-1")

_encoding: ContextVar[str] = ContextVar("tpsqbo_sheet_encoding", default="")
_command_line: ContextVar[str] = ContextVar("tpsqbo_sheet_encoding_cli", default="")


class SheetUnreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def known(name: str) -> str:
    """`name` when Python knows the encoding (else ValueError); "" stays "" (detect)."""
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            raise ValueError(f"unknown encoding {name!r}") from None
    return name


def from_command_line(name: str) -> None:
    """`--encoding`: wins over the firm config's `tps.encoding` for this command."""
    _command_line.set(known(name))


@contextmanager
def encoding(name: str) -> Iterator[None]:
    """Sheets read inside are decoded with `name` ("" detects)."""
    token = _encoding.set(known(name))
    try:
        yield
    finally:
        _encoding.reset(token)


@contextmanager
def detected() -> Iterator[None]:
    """Sheets read inside are decoded by their BOM or by guessing, whatever the firm's
    exports are in: the outbox the engine writes (UTF-8, or what a spreadsheet saved it as)."""
    named, command_line = _encoding.set(""), _command_line.set("")
    try:
        yield
    finally:
        _command_line.reset(command_line)
        _encoding.reset(named)


def _refuse(path: Path, row: int, column: int, code: str, message: str, hint: str = "") -> None:
    raise SheetUnreadable(Problem(display_path(path), row, column, code, message, hint=hint))


def rows(path: Path) -> Iterator[list[Any]]:
    size = path.stat().st_size
    if size > MAX_BYTES:
        _refuse(
            path,
            1,
            1,
            "file.too-large",
            f"the file is {size:,} bytes; sheets may be at most {MAX_BYTES:,}",
            "export a shorter period, or split the sheet",
        )
    if size == 0:
        _refuse(path, 1, 1, "file.empty", "the file is empty", "export the sheet again from TPS")
    reader = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)
    for number, row in enumerate(reader, start=1):
        for index, cell in enumerate(row):
            if isinstance(cell, str) and "\x00" in cell:
                hint = "is this really a sheet? save it again from the spreadsheet"
                _refuse(path, number, index + 1, "file.unreadable", "a cell holds a NUL byte", hint)
            if isinstance(cell, str) and len(cell) > MAX_CELL:
                _refuse(
                    path,
                    number,
                    index + 1,
                    "file.cell-too-large",
                    f"the cell holds {len(cell):,} characters; at most {MAX_CELL:,} are read",
                )
        yield row


def decode(path: Path, data: bytes) -> str:
    named = _command_line.get() or _encoding.get()
    if named:
        return _strict(path, data, named)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _strict(path, data, codec)
    for codec in _GUESSES:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _strict(path: Path, data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        _refuse(
            path,
            row,
            column,
            "file.encoding",
            f"byte {exc.start:,} is not valid {codec}",
            "save the sheet as UTF-8, or name its encoding (tps.encoding, --encoding)",
        )
        raise  # pragma: no cover - _refuse raised


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    reader = csv.reader(io.StringIO(decode(path, path.read_bytes()), newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger" in str(exc):
                message = f"a cell holds over {csv.field_size_limit():,} characters"
                _refuse(path, reader.line_num, 1, "file.cell-too-large", message)
            reason = "a NUL byte" if "NUL" in str(exc) else "text CSV cannot read"
            hint = "is this really a CSV file? save it again from the spreadsheet"
            _refuse(path, reader.line_num, 1, "file.unreadable", f"the line holds {reason}", hint)
        yield row


def _too_large(path: Path, message: str) -> None:
    hint = "is this really the TPS export? export it again, or as CSV"
    _refuse(path, 1, 1, "file.too-large", message, hint)


def _zip_parts(path: Path) -> int | None:
    """The number of parts the zip's end record declares (zip64's too), read before
    zipfile reads its whole directory; None when there is no end record to read."""
    with path.open("rb") as handle:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(max(0, size - 22 - 65_535))  # the end record, then at most a comment
        tail = handle.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) - end < 22:
            return None
        parts = int.from_bytes(tail[end + 10 : end + 12], "little")
        locator = tail[end - 20 : end] if end >= 20 else b""
        if parts != 0xFFFF or not locator.startswith(b"PK\x06\x07"):
            return parts
        handle.seek(int.from_bytes(locator[8:16], "little"))
        record = handle.read(56)
    if not record.startswith(b"PK\x06\x06") or len(record) < 56:
        return None
    return int.from_bytes(record[32:40], "little")


def _unpacked_within_limits(path: Path) -> None:
    parts = _zip_parts(path)
    if parts is not None and parts > MAX_PARTS:
        _too_large(path, f"the workbook holds {parts:,} parts; at most {MAX_PARTS:,} are read")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    if len(infos) > MAX_PARTS:
        _too_large(path, f"the workbook holds {len(infos):,} parts; at most {MAX_PARTS:,} are read")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED:
        message = f"the workbook unpacks to {total:,} bytes; at most {MAX_UNPACKED:,} are read"
        _too_large(path, message)
    for info in infos:
        whole = not info.filename.startswith("xl/worksheets/")
        if whole and info.file_size > MAX_BYTES:
            _too_large(
                path,
                f"its part {info.filename} unpacks to {info.file_size:,} bytes;"
                f" at most {MAX_BYTES:,} are read",
            )
        if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * info.compress_size:
            _too_large(
                path,
                f"its part {info.filename} unpacks to {info.file_size:,} bytes from"
                f" {info.compress_size:,}, packed tighter than any spreadsheet packs",
            )


def as_shown(cell: Any) -> Any:
    """A float cell as Excel shows it: 15 significant digits, written out in full (no
    exponent: 1e-05 is 0.00001, refused as more than cents, not as an exponent nobody
    typed); every other cell as openpyxl read it (ints are exact already)."""
    if not isinstance(cell, float) or not math.isfinite(cell):
        return cell
    shown = format(Decimal(f"{cell:.15g}"), "f")
    return "0" if Decimal(shown) == 0 else shown  # Excel shows -0 as 0


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    try:
        _unpacked_within_limits(path)
        from openpyxl import load_workbook  # only for a workbook within the limits

        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        _refuse(
            path,
            1,
            1,
            "file.unreadable",
            f"this is not a readable XLSX workbook ({type(exc).__name__})",
            "open it in the spreadsheet and save it again as .xlsx, or export CSV",
        )
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            yield [as_shown(cell) for cell in row]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        _refuse(
            path,
            1,
            1,
            "file.unreadable",
            f"the workbook is damaged ({type(exc).__name__})",
            "open it in the spreadsheet and save it again as .xlsx, or export CSV",
        )
    finally:
        book.close()


__all__ = [
    "MAX_BYTES",
    "MAX_CELL",
    "MAX_PARTS",
    "MAX_RATIO",
    "MAX_UNPACKED",
    "SheetUnreadable",
    "as_shown",
    "decode",
    "detected",
    "encoding",
    "rows",
]
