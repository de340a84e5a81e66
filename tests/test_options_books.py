"""Rule options that decide what is written to the books: `on_unmatched`, `conflict: newest`,
the checklist's `only_if: payment-links-used` and `backup-recent`'s `max_age_hours`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import RuleSet, load_ruleset
from tpsqbo_engine.ruleset.validate import validate_pack
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.checks import CheckResult, run_checklist
from tpsqbo_engine.sync.plan import Plan

UNMATCHED = """phase: initial
tps:
  Client:
    - {id: c-1, code: A1, name: Acme Ltd, email: ap@acme.example, active: true}
qbo:
  Customer:
    - {Id: "40", DisplayName: Zenith Partners, PrimaryEmailAddr: {Address: z@zenith.example}}
expect: {}
"""

# Both sides changed since the last sync (versions 3/6 linked, 4/7 now); the stamps say which
# change came last.
BOTH_CHANGED = """phase: ongoing
today: 2026-12-05
tps:
  Client:
    - {{id: c-1, code: A1, name: Acme Ltd, email: new@acme.example, phone: "416 555 0100",
       active: true, version: 4, updated_at: "{tps_time}"}}
qbo:
  Customer:
    - {{Id: "31", SyncToken: "7", DisplayName: Acme Ltd, CompanyName: Acme Ltd,
       PrimaryEmailAddr: {{Address: old@acme.example}},
       PrimaryPhone: {{FreeFormNumber: "416 555 0199"}}, Notes: TPS client A1,
       MetaData: {{LastUpdatedTime: "{qbo_time}"}}}}
links:
  - {{mapping: clients, tps: c-1, qbo: "31", tps_version: "3", qbo_version: "6"}}
expect: {{}}
"""


def _plan(root: Path, patch: str, case: str) -> dict[str, list[dict[str, Any]]]:
    (root / "tests").mkdir()
    (root / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n"
        f"patches:\n  - document: clients\n    set: {patch}\n"
    )
    (root / "tests" / "case.yaml").write_text(case)
    assert validate_pack(root).problems == []
    (result,) = run_pack_tests(root, load_ruleset(root), update=True)
    return result.actual  # type: ignore[no-any-return]


def test_on_unmatched_create_creates_the_customer(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "{on_unmatched: create}", UNMATCHED)
    (write,) = plan["writes"]
    assert write["action"] == "create" and write["record"] == "tps.Client:c-1"
    assert write["target"] == "qbo.Customer"
    assert plan["other"] == []


@pytest.mark.parametrize(("policy", "level"), [("review", "Warning"), ("skip", "Excluded")])
def test_on_unmatched_review_or_skip_writes_nothing(
    tmp_path: Path, policy: str, level: str
) -> None:
    plan = _plan(tmp_path, f"{{on_unmatched: {policy}}}", UNMATCHED)
    assert plan["writes"] == []
    (decision,) = plan["other"]
    assert decision["action"] == "review" and decision["record"] == "tps.Client:c-1"
    assert decision["level"] == level
    assert decision["message"] == "no matching record; the mapping does not create one"


def test_conflict_newest_lets_a_later_tps_edit_win(tmp_path: Path) -> None:
    case = BOTH_CHANGED.format(
        tps_time="2026-12-04T15:00:00Z", qbo_time="2026-12-04T09:00:00-05:00"
    )  # TPS 15:00 UTC, QBO 14:00 UTC
    plan = _plan(tmp_path, "{conflict: newest}", case)
    assert plan["other"] == []
    (write,) = plan["writes"]
    assert write["action"] == "update" and write["target"] == "qbo.Customer:31"
    assert write["record"] == "tps.Client:c-1"
    assert write["fields"]["PrimaryEmailAddr"] == {"Address": "new@acme.example"}
    assert write["fields"]["PrimaryPhone"] == {"FreeFormNumber": "416 555 0100"}


def test_conflict_newest_lets_a_later_qbo_edit_flow_back(tmp_path: Path) -> None:
    case = BOTH_CHANGED.format(
        tps_time="2026-12-04T13:00:00Z", qbo_time="2026-12-04T09:00:00-05:00"
    )  # TPS 13:00 UTC, QBO 14:00 UTC
    plan = _plan(tmp_path, "{conflict: newest}", case)
    assert plan["other"] == []
    (write,) = plan["writes"]
    assert write["record"] == "tps.Client:c-1" and write["target"] == "qbo.Customer:31"
    assert write["fields"] == {"email": "old@acme.example", "phone": "416 555 0199"}


class _Company:
    """The one QBO call these checks make: the company's preferences."""

    def __init__(self, payments_on: bool) -> None:
        self.payments_on = payments_on

    def preferences(self) -> dict[str, Any]:
        return {"SalesFormsPrefs": {"ETransactionPaymentEnabled": self.payments_on}}


def _checks(rules: RuleSet, state: StateStore, payments_on: bool = False) -> dict[str, CheckResult]:
    results = run_checklist(rules, Plan("initial"), state, _Company(payments_on))  # type: ignore[arg-type]
    return {r.id: r for r in results}


def _pack(root: Path, body: str = "") -> RuleSet:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(
        "kind: pack\nid: f\nversion: 1.0.0\nextends: [tps-qbo-standard]\n" + body
    )
    assert validate_pack(root).problems == []
    return load_ruleset(root)


NO_LINKS = (
    "patches:\n"
    "  - document: invoice-html\n    set: {payment_link: false}\n"
    "  - document: invoice-email\n    set: {payment_link: false}\n"
)


def test_only_if_payment_links_reads_the_preference_when_a_template_shows_the_link(
    tmp_path: Path,
) -> None:
    rules = _pack(tmp_path / "pack")
    assert rules.uses_payment_links
    state = StateStore(tmp_path / "state.db")
    off = _checks(rules, state, payments_on=False)["online-payments-enabled"]
    assert not off.passed and off.level == "warning"
    assert off.details == ("SalesFormsPrefs.ETransactionPaymentEnabled is False",)
    on = _checks(rules, state, payments_on=True)["online-payments-enabled"]
    assert on.passed and on.details == ("SalesFormsPrefs.ETransactionPaymentEnabled is True",)


def test_only_if_payment_links_skips_the_check_when_no_template_shows_the_link(
    tmp_path: Path,
) -> None:
    rules = _pack(tmp_path / "pack", NO_LINKS)
    assert not rules.uses_payment_links
    state = StateStore(tmp_path / "state.db")
    result = _checks(rules, state, payments_on=False)["online-payments-enabled"]
    assert result.passed
    assert result.details == ("not needed: no template shows the payment link",)


def _backup_taken(state: StateStore, root: Path, hours_ago: float) -> None:
    state.add_backup(root / "backup.json.gz", {"Customer": 1})
    taken = datetime.now(UTC) - timedelta(hours=hours_ago)
    state.db.execute("update backups set taken_at = ?", [taken.isoformat()])
    state.db.conn.commit()


@pytest.mark.parametrize(
    ("limit", "passed", "said"),
    [(24, False, "the newest backup is 25 hours old"), (48, True, "backup.json.gz (")],
)
def test_a_backup_25_hours_old_meets_max_age_hours_only_when_the_limit_allows(
    tmp_path: Path, limit: int, passed: bool, said: str
) -> None:
    body = (
        "patches:\n  - document: initial-sync\n"
        f"    set: {{checks/recent-backup/max_age_hours: {limit}}}\n"
    )
    rules = _pack(tmp_path / "pack", body)
    state = StateStore(tmp_path / "state.db")
    _backup_taken(state, tmp_path, hours_ago=25)
    result = _checks(rules, state)["recent-backup"]
    assert result.passed is passed
    (detail,) = result.details
    assert said in detail


def test_a_fresh_backup_passes_the_shipped_24_hour_limit(tmp_path: Path) -> None:
    rules = _pack(tmp_path / "pack")
    state = StateStore(tmp_path / "state.db")
    _backup_taken(state, tmp_path, hours_ago=23)
    assert _checks(rules, state)["recent-backup"].passed
    _backup_taken(state, tmp_path, hours_ago=25)
    assert not _checks(rules, state)["recent-backup"].passed


def test_a_field_level_conflict_newest_decides_by_the_same_stamps(tmp_path: Path) -> None:
    patch = (
        "{fields/PrimaryEmailAddr.Address: {value: '{{ email }}', conflict: newest}, "
        "fields/PrimaryPhone.FreeFormNumber: {value: '{{ phone }}', conflict: newest}}"
    )
    case = BOTH_CHANGED.format(
        tps_time="2026-12-04T13:00:00Z", qbo_time="2026-12-04T09:00:00-05:00"
    )  # QBO's edit is the later one
    plan = _plan(tmp_path, patch, case)
    assert plan["other"] == []
    (write,) = plan["writes"]
    assert write["record"] == "tps.Client:c-1" and write["target"] == "qbo.Customer:31"
    assert write["fields"] == {"email": "old@acme.example", "phone": "416 555 0199"}


@pytest.mark.parametrize(
    ("tps_time", "qbo_time"),
    [
        ("2026-12-04T15:00:00", "2026-12-04T09:00:00-05:00"),  # TPS's without its zone
        ("2026-12-04T15:00:00Z", "2026-12-04T09:00:00"),  # QBO's without its zone
        ("", "2026-12-04T09:00:00-05:00"),  # no stamp at all
        ("yesterday", "2026-12-04T09:00:00-05:00"),
    ],
    ids=["tps-naive", "qbo-naive", "tps-missing", "tps-unreadable"],
)
def test_conflict_newest_without_two_comparable_stamps_goes_to_review(
    tmp_path: Path, tps_time: str, qbo_time: str
) -> None:
    # Which edit came last cannot be known: nothing is written, nothing is guessed.
    case = BOTH_CHANGED.format(tps_time=tps_time, qbo_time=qbo_time)
    plan = _plan(tmp_path, "{conflict: newest}", case)
    assert plan["writes"] == []
    (review,) = plan["other"]
    assert review["action"] == "review" and review["record"] == "tps.Client:c-1"
