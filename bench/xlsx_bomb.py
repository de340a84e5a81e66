"""An XLSX shared-strings bomb: what openpyxl costs to open it against what the sheet reader
costs to refuse it, measured in the same run, each in a fresh process.

The workbook holds one row and N shared strings of 200 characters (deflate packs them about
250 times). The baseline is what reading the sheet did before the guard: openpyxl's
`load_workbook(read_only=True)` and the first row. The checkout's `sheetreading.read_sheet`
should refuse it with one `file.too-large` problem before openpyxl opens it.

    python bench/xlsx_bomb.py [--strings N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org'
    '/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
    'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org'
    '/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>",
    "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets'
    '/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>",
    "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet xmlns="http://schemas.'
    'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0'
    "</v></c></row></sheetData></worksheet>",
}

BASELINE = """
import sys
from openpyxl import load_workbook
book = load_workbook(sys.argv[1], read_only=True, data_only=True)
print(next(book.worksheets[0].iter_rows(values_only=True))[0][:10])
"""
CHECKOUT = """
import sys
from pathlib import Path
from tpsqbo_engine.connectors.tps import sheetlayouts, sheetreading
records, problems = sheetreading.read_sheet(Path(sys.argv[1]), sheetlayouts.SHEETS["clients"])
print([p.code for p in problems])
"""


def _bomb(path: Path, strings: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as book:
        for name, part in _PARTS.items():
            book.writestr(name, part)
        with book.open("xl/sharedStrings.xml", "w") as shared:
            shared.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/')
            shared.write(b'spreadsheetml/2006/main">')
            chunk = (b"<si><t>" + b"x" * 200 + b"</t></si>") * 1_000
            for _ in range(strings // 1_000):
                shared.write(chunk)
            shared.write(b"</sst>")


def _measure(code: str, path: Path) -> tuple[float, int, str]:
    """Wall time and peak memory (kB) of `code` run on `path` in a fresh process. The peak
    of waited children is the largest of them all, so each measure has a parent of its own."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]],"
        " capture_output=True, text=True)\n"
        "wall = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(wall, peak, (done.stdout or done.stderr).strip().splitlines()[-1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, code, str(path)], capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=2)
    return float(out[0]), int(out[1]), out[2].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clients.xlsx"
        _bomb(path, args.strings)
        print(f"clients.xlsx: {path.stat().st_size:,} bytes, {args.strings:,} shared strings")
        base = _measure(BASELINE, path)
        mine = _measure(CHECKOUT, path)
    for name, (wall, peak, said) in (("openpyxl opens it", base), ("read_sheet", mine)):
        print(f"{name:>18}: {wall:6.2f} s wall, {peak / 1024:8.1f} MB peak  -> {said}")
    wall, memory = base[0] / mine[0], base[1] / mine[1]
    print(f"ratio (baseline / checkout): wall {wall:.1f}x, peak memory {memory:.1f}x")


if __name__ == "__main__":
    main()
