"""What a user types wrong ends in a clear, located error (exit 2, or 1 for rules with
problems), never "a bug in tpsqbo-engine" (exit 3) nor a traceback. These firms need no
servers: every mistake here is found before TPS or QBO would be called."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tpsqbo_engine import cli, private
from tpsqbo_engine.errors import ConfigError
from tpsqbo_engine.sync.config import load_config

STANDARD = Path(__file__).resolve().parents[1] / "rules"


def _firm(tmp_path: Path, *, qbo: str = "{environment: sandbox}", extra: str = "") -> Path:
    """A firm config with its own copy of the standard pack (`mypack`); nothing listens at
    its TPS address, so a test that reached a connection would fail, not pass."""
    shutil.copytree(STANDARD, tmp_path / "mypack", ignore=shutil.ignore_patterns("tests"))
    config = tmp_path / "tpsqbo.yaml"
    config.write_text(
        "kind: firm\nfirm: Test Firm\nrules: [mypack]\n"
        "tps: {connection: http, base_url: 'http://127.0.0.1:9'}\n"
        f"qbo: {qbo}\n{extra}",
        encoding="utf-8",
    )
    return config


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert "bug" not in err and "Traceback" not in err
    return err


def _misspell_email(clients: Path) -> int:
    """Misspells the first `{{ email }}` of the pack's clients.yaml; answers its line."""
    lines = clients.read_text().splitlines(keepends=True)
    at = next(n for n, text in enumerate(lines) if "{{ email }}" in text)
    lines[at] = lines[at].replace("{{ email }}", "{{ emial }}", 1)
    clients.write_text("".join(lines))
    return at + 1


# 6. Rules with problems: the problems themselves, and a hint naming the pack used --------
def test_rule_problems_are_printed_located_and_the_hint_names_the_firms_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path)
    line = _misspell_email(tmp_path / "mypack" / "clients.yaml")
    err = _fails_cleanly(["plan", "-c", str(config)], capsys, code=1)
    assert f"mypack/clients.yaml:{line}:" in err and "emial" in err
    assert "the rules have 1 error(s)" in err
    assert f"tpsqbo-engine validate {tmp_path / 'mypack'}" in err


def test_a_missing_rules_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path)
    config.write_text(config.read_text().replace("rules: [mypack]", "rules: [nope]"))
    err = _fails_cleanly(["plan", "-c", str(config)], capsys, code=1)
    assert "nope" in err and f"validate {tmp_path / 'nope'}" in err


def test_validate_with_no_path_checks_the_firms_own_rules_and_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _firm(tmp_path)
    clients = tmp_path / "mypack" / "clients.yaml"
    line = _misspell_email(clients)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate"]) == 1
    captured = capsys.readouterr()
    assert f"mypack/clients.yaml:{line}:" in captured.out and "emial" in captured.out
    assert f"pack tps-qbo-standard ({tmp_path / 'mypack'}): 21 documents, problems found" in (
        captured.err
    )
    clients.write_text(clients.read_text().replace("{{ emial }}", "{{ email }}"))
    (tmp_path / "pins.yaml").write_text("pins:\n  - {mapping: clientz, source: c-1, target: 9}\n")
    assert cli.main(["validate", "-c", str(config)]) == 1
    assert "pins.yaml:2:" in capsys.readouterr().out


# 8. The pins file: a schema, located errors, and mappings the rules have -----------------
@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("pins:\n  - {mapping: clients, source: c-1001}\n", "pins.yaml:2:"),
        ("- foo\n", "pins.yaml:1:"),
        ("pins:\n  - {mapping: clients, source: c-1001, target: '9', extra: 1}\n", "pins.yaml:2:"),
        ("pins:\n  - {mapping: clients, source: c-1001\n", "pins.yaml:"),  # YAML cut short
        ("pins:\n  - {mapping: clientz, source: c-1001, target: '9'}\n", "pins.yaml:2:"),
        (
            "pins:\n  - {mapping: clients, source: c-1, target: '9'}\n"
            "  - {mapping: clients, source: c-1, target: new}\n",
            "pins.yaml:3:5: pins.1: c-1 is pinned twice",
        ),
    ],
)
def test_a_bad_pins_file_is_a_located_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    config = _firm(tmp_path)
    (tmp_path / "pins.yaml").write_text(text)
    err = _fails_cleanly(["plan", "-c", str(config)], capsys)
    assert where in err and "the pins file" in err and "pins.schema.json" in err


def test_a_misspelt_pin_mapping_says_which_it_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path)
    (tmp_path / "pins.yaml").write_text("pins:\n  - {mapping: clientz, source: c-1, target: 9}\n")
    err = _fails_cleanly(["plan", "-c", str(config)], capsys)
    assert "no mapping 'clientz'" in err and "did you mean 'clients'?" in err


def test_good_pins_are_read(tmp_path: Path) -> None:
    from tpsqbo_engine.sync.firmfiles import read_pins

    pins = tmp_path / "pins.yaml"
    pins.write_text("pins:\n  - {mapping: clients, source: c-1, target: 9}\n")
    assert read_pins(pins, {"clients"}) == {("clients", "c-1"): "9"}
    pins.write_text("")
    assert read_pins(pins, {"clients"}) == {}


# 7. Plan files, output paths, the state folder, limits -----------------------------------
@pytest.mark.parametrize(
    ("text", "said"),
    [
        (None, "cannot read the plan"),
        ('{"x":', "g.json:1:6: not a plan file"),
        ('{"x":1}', "'phase' must be one of initial, ongoing, undo"),
        ('{"phase": "undo", "operations": []}', "the plan of an undo"),
        ('{"phase": "initial", "operations": [1]}', "operations[0] must be an object"),
        ('{"phase": "initial", "operations": [{"mapping": "m"}]}', "needs 'action'"),
        (
            '{"phase": "initial", "operations": [{"mapping": "m", "record": "r", '
            '"action": "create", "target": 5}]}',
            "operations[0].target must be str",
        ),
    ],
)
def test_a_bad_plan_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, said: str
) -> None:
    config = _firm(tmp_path)
    plan = tmp_path / "g.json"
    if text is not None:
        plan.write_text(text)
    err = _fails_cleanly(["sync", "-c", str(config), "--plan", str(plan)], capsys)
    assert said in err and str(plan) in err
    assert "`tpsqbo-engine plan --out`" in err or "`tpsqbo-engine undo --run N`" in err


@pytest.mark.parametrize("command", [["plan"], ["report"], ["render", "invoice", "inv-1"]])
def test_an_out_that_is_a_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    config = _firm(tmp_path)
    err = _fails_cleanly([*command, "-c", str(config), "--out", str(tmp_path)], capsys)
    assert f"--out {tmp_path} is a folder" in err


def test_an_out_that_cannot_be_written_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path)
    (tmp_path / "afile").write_text("")
    err = _fails_cleanly(["plan", "-c", str(config), "--out", "/proc/x.html"], capsys)
    assert "cannot write --out /proc/x.html" in err
    under_a_file = tmp_path / "afile" / "plan.json"
    err = _fails_cleanly(["plan", "-c", str(config), "--out", str(under_a_file)], capsys)
    assert "is not a folder" in err


def test_a_render_folder_that_is_a_file_is_refused_before_the_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path)
    (tmp_path / "afile").write_text("")
    err = _fails_cleanly(["sync", "-c", str(config), "--render", str(tmp_path / "afile")], capsys)
    assert "--render" in err and "is a file, not a folder" in err
    err = _fails_cleanly(["sync", "-c", str(config), "--render", "/proc/docs"], capsys)
    assert "cannot write --render /proc/docs" in err


def test_a_workdir_that_cannot_hold_backups_is_refused_before_qbo_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path, extra="workdir: /proc/nope\n")
    err = _fails_cleanly(["backup", "-c", str(config)], capsys)
    assert "cannot write the firm config's workdir: /proc/nope/backups" in err


@pytest.mark.parametrize("state", ["/proc/nope/state.db", "."])
def test_a_state_that_cannot_be_used_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    config = _firm(tmp_path, extra=f"state: {state}\n")
    err = _fails_cleanly(["history", "-c", str(config)], capsys)
    assert "state" in err and "set `state:` in the firm config" in err


def test_a_crash_log_falls_back_to_the_users_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "own"))
    private.set_crash_folder(Path("/proc/nope"))  # cannot be made, not even by root
    try:
        log = private.crash_log(ValueError("secret value"))
        assert log is not None and log.parent == tmp_path / "own" / "tpsqbo-engine" / "crash"
        assert "secret value" not in log.read_text()
        monkeypatch.setenv("XDG_STATE_HOME", "/proc/nope-either")
        assert private.crash_log(ValueError("x")) is None  # neither: said, never raised
    finally:
        private.set_crash_folder(None)


def test_a_shared_folder_never_holds_crash_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "own"))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    try:
        private.set_crash_folder(shared)
        assert private.crash_folder() == tmp_path / "own" / "tpsqbo-engine" / "crash"
        private.set_crash_folder(shared / "firm" / ".tpsqbo")  # made inside the shared one
        assert private.crash_folder() == tmp_path / "own" / "tpsqbo-engine" / "crash"
    finally:
        private.set_crash_folder(None)


@pytest.mark.parametrize(
    "limits",
    [
        "scale=0",
        "scale=1x",
        "scale=.",
        "scale=2,minute=0",
        "scale=1,batch=x",
        "scale=1,batch=-1",
        "scale=nan",
    ],
)
def test_limits_the_schema_accepts_but_the_client_cannot_keep_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limits: str
) -> None:
    config = _firm(tmp_path, qbo=f"{{environment: sandbox, limits: '{limits}'}}")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "tpsqbo.yaml:5:" in raised.value.message and "qbo.limits" in raised.value.message
    err = _fails_cleanly(["plan", "-c", str(config)], capsys)
    assert "qbo.limits" in err
    assert cli.main(["emulate", "qbo", "--limits", limits]) == 2


def test_a_misspelt_environment_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _firm(tmp_path, qbo="{environment: sandbx}")
    err = _fails_cleanly(["plan", "-c", str(config)], capsys)
    assert "tpsqbo.yaml:5:" in err and "did you mean 'sandbox'?" in err


def test_good_limits_and_environments_load(tmp_path: Path) -> None:
    for index, qbo in enumerate(
        (
            "{environment: production, limits: 'scale=0.5,batch=0'}",
            "{environment: 'http://127.0.0.1:1/.well-known/openid', limits: 'off'}",
        )
    ):
        config = _firm(tmp_path / str(index), qbo=qbo)
        assert load_config(config).qbo.limits in ("scale=0.5,batch=0", "off")


def test_an_out_in_folders_yet_to_be_made_is_accepted_and_nothing_is_left(tmp_path: Path) -> None:
    from tpsqbo_engine.cli_paths import folder_out, writable

    assert (
        writable(tmp_path / "a" / "b" / "plan.json", "--out") == tmp_path / "a" / "b" / "plan.json"
    )
    assert writable(tmp_path / "plan.json", "--out") == tmp_path / "plan.json"
    assert folder_out(tmp_path / "docs", "--render") == tmp_path / "docs"
    assert list(tmp_path.iterdir()) == []  # the trials made nothing that stays


def test_an_odd_tps_id_is_never_put_into_a_url() -> None:
    from types import SimpleNamespace

    from tpsqbo_engine.sync.records import in_systems

    asked: list[str] = []
    tps = SimpleNamespace(get=lambda resource, ident: asked.append(ident) or {"id": ident})
    session = SimpleNamespace(tps=tps)
    for odd in ("..", ".", "../clients", "c-1?x=1", "c 1", "c/1", "x" * 129):
        assert not in_systems(session, "tps.Client", odd)  # type: ignore[arg-type]
    assert asked == []
    assert in_systems(session, "tps.Client", "c-1001")  # type: ignore[arg-type]
    assert asked == ["c-1001"]


def test_an_environment_is_the_same_by_its_short_name_or_intuits_discovery_url(
    tmp_path: Path,
) -> None:
    from tpsqbo_engine.connectors.qbo.tokens import Tokens, TokenStore
    from tpsqbo_engine.errors import UsageError
    from tpsqbo_engine.sync.firmfiles import same_environment

    store = TokenStore(tmp_path / "tokens.json")
    same_environment(store, "production", tmp_path)  # not connected yet: the client says so
    sandbox = "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
    store.save(Tokens("1", "", sandbox, "id", "a", 0, "r", 0))
    same_environment(store, "sandbox", tmp_path)
    same_environment(store, "Sandbox ", tmp_path)
    with pytest.raises(UsageError, match=r"the firm config says qbo\.environment 'production'"):
        same_environment(store, "production", tmp_path)


def test_an_end_of_file_inside_a_command_is_an_unexpected_error_not_a_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """click turns any EOFError into its Abort, which reads as Ctrl-C (exit 130): a data
    file cut short is the engine's failure, said as one, with its crash log."""

    def cut_short(config: Path) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr("tpsqbo_engine.cli_history.open_session", cut_short)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert cli.main(["history", "-c", str(tmp_path / "tpsqbo.yaml")]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert "unexpected error: EOFError" in err and "interrupted" not in err
