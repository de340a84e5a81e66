"""Firm configs as people write them, and a failed sheet row that then vanished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine import cli
from tpsqbo_engine.connectors.tps.client import TpsRejected
from tpsqbo_engine.errors import ConfigError
from tpsqbo_engine.sync.config import load_config
from tpsqbo_engine.sync.snapshot import Snapshot, add_partners

GOOD = "kind: firm\nfirm: Test\ntps: {connection: http, base_url: 'https://tps.example.com'}\n"
GOOD += "qbo: {environment: sandbox}\n"
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['x'] * 9)}]\n"
    for prev, name in zip(
        ["", "a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"], strict=True
    )
)
BAD: dict[str, tuple[bytes, str]] = {
    "wrong-type": (
        GOOD.replace("firm: Test", "firm: 123").encode(),
        "2:7: 'firm' must be a string",
    ),
    "nested-type": (
        GOOD.replace("environment: sandbox", "environment: [sandbox]").encode(),
        "qbo.environment:",
    ),
    "unsafe-tag": (
        GOOD.replace("firm: Test", "firm: !!python/object/apply:os.system [id]").encode(),
        "firm: the tag",
    ),
    "alias-bomb": (BOMB.encode(), "aliases expand"),
    "not-utf8": (GOOD.replace("Test", "Caf\xe9").encode("latin-1"), "not UTF-8"),
    "base-url-file": (
        GOOD.replace("https://tps.example.com", "file:///etc/passwd").encode(),
        "tps.base_url:",
    ),
    "base-url-no-host": (GOOD.replace("https://tps.example.com", "http://").encode(), "base_url"),
}


@pytest.mark.parametrize(("text", "says"), BAD.values(), ids=BAD.keys())
def test_a_bad_firm_config_is_a_located_usage_error(
    tmp_path: Path, text: bytes, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tpsqbo.yaml").write_bytes(text)
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path / "tpsqbo.yaml")
    assert says in refused.value.message and "tpsqbo.yaml:" in refused.value.message
    assert cli.main(["history", "--config", str(tmp_path / "tpsqbo.yaml")]) == 2
    err = capsys.readouterr().err
    assert says in err and "validate" not in err


def test_a_good_config_loads(tmp_path: Path) -> None:
    (tmp_path / "tpsqbo.yaml").write_text(GOOD)
    assert load_config(tmp_path / "tpsqbo.yaml").tps.base_url == "https://tps.example.com"


class _Sheets:
    """TPS whose sheet no longer holds one row that failed in an earlier run."""

    def get(self, resource: str, ident: str) -> dict[str, Any]:
        if ident == "inv-gone":
            raise TpsRejected(f"TPS sheets hold no {resource} record {ident}", status=404)
        return {"id": ident}


def test_a_failed_row_that_vanished_does_not_stop_the_rest(tmp_path: Path) -> None:
    snapshot = Snapshot()
    wanted = {"tps.Invoice": {"inv-gone", "inv-2"}}
    add_partners(snapshot, wanted, _Sheets(), None)  # type: ignore[arg-type]
    assert snapshot.records("tps.Invoice") == {"inv-2": {"id": "inv-2"}}
