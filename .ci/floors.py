"""The lower bounds of pyproject.toml's runtime dependencies as exact pins, one a line, for
`pip install -c`; with --check, whether what is installed is exactly those versions."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*", requirement)
        if match is None:
            sys.exit(f"no lower bound to pin in {requirement!r}: every dependency needs one")
        found[match.group(1)] = match.group(2)
    return found


def _same(installed: str, floor: str) -> bool:
    pad = lambda v: v.split(".") + ["0"] * (3 - len(v.split(".")))  # noqa: E731
    return pad(installed) == pad(floor)


def main() -> None:
    pins = floors()
    if "--check" not in sys.argv:
        print("\n".join(f"{name}=={floor}" for name, floor in pins.items()))
        return
    wrong = []
    for name, floor in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "missing"
        if not _same(installed, floor):
            wrong.append(f"{name}: {installed}, floor {floor}")
    if wrong:
        sys.exit("not the floors: " + "; ".join(wrong))
    print(f"installed at their floors: {', '.join(f'{n} {v}' for n, v in pins.items())}")


if __name__ == "__main__":
    main()
