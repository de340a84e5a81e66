"""The one place that knows where the shipped rules, schemas and templates are.

In an installed wheel they sit inside the package as `_data/`; in a checkout (or an
editable install) they are the top-level folders beside `engine/`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    installed = _PACKAGE_DIR / "_data"
    if (installed / "schemas").is_dir():
        return installed
    return _PACKAGE_DIR.parent


def rules_dir() -> Path:
    """The standard rule pack `tps-qbo-standard`."""
    return data_root() / "rules"


def schemas_dir() -> Path:
    return data_root() / "schemas"


def templates_dir() -> Path:
    return data_root() / "templates"
