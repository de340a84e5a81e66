"""A create left open (its answer lost: it may have been written) stays open when the run
that carries it on hears nothing from the service about it (the run stops on a fatal error,
or the write cannot be sent as a record it names was not written): the next run looks it
up or sends it again under the first attempt's key, so it is written once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from tests.sync.test_write_identity import paid_in_qbo
from tpsqbo_engine import resources
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.connectors.retry import RetryPolicy
from tpsqbo_engine.connectors.tps.client import TpsClient, TpsSource
from tpsqbo_engine.errors import FatalConnectorError, RetriableConnectorError
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.state import StateStore
from tpsqbo_engine.sync.batch_writes import BatchWrites
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.links import PENDING
from tpsqbo_engine.sync.plan import Operation, Plan
from tpsqbo_engine.sync.session import Session


def _intent_of(key: str) -> tuple[str, int]:
    """An attempt's key is `intent@journal`: the intent and the journal row it names."""
    intent, _, journal = key.rpartition("@")
    return intent, int(journal)


def _new_tps_invoice(tps: Any, number: int) -> dict[str, Any]:
    """An invoice made in TPS after the first sync: the next sync creates it in QBO."""
    base = tps.firm.table("invoices")["inv-1002"]
    return cast(
        dict[str, Any],
        tps.firm.create(
            "invoices",
            {
                "client_id": base["client_id"],
                "date": "2026-10-01",
                "due_date": "2026-10-31",
                "invoice_code": "HP",
                "number": number,
                "doc_number": f"HP-{number}",
                "lines": [
                    {
                        "work_code": base["lines"][0]["work_code"],
                        "description": "Advice",
                        "amount": "55.00",
                        "hours": "1",
                    }
                ],
                "taxes": [],
            },
        ),
    )


class _Qbo:
    """QBO's invoice writes as each run meets them: `gives-up` (QBO kept answering 503,
    nothing written), `lost` (the connection is lost, after QBO wrote them when `sent`),
    else answered; the keys each run sent, by run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, sent: bool) -> None:
        self.mode, self.sent, self.keys = "", sent, [[]]
        real_create, real_batch = QboClient.create, QboClient.batch

        def create(client: QboClient, entity: str, body: Any, *, key: str, guard: Any) -> Any:
            if entity != "Invoice":
                return real_create(client, entity, body, key=key, guard=guard)
            return self.meet([key], lambda: real_create(client, entity, body, key=key, guard=guard))

        def batch(client: QboClient, ops: list[Any]) -> Any:
            if ops[0].entity != "Invoice":
                return real_batch(client, ops)
            return self.meet([op.key for op in ops], lambda: real_batch(client, ops))

        monkeypatch.setattr(QboClient, "create", create)
        monkeypatch.setattr(QboClient, "batch", batch)

    def meet(self, keys: list[str], send: Any) -> Any:
        self.keys[-1].extend(keys)
        if self.mode == "gives-up":
            raise RetriableConnectorError("QBO kept answering 503")
        if self.mode == "lost":
            if self.sent:
                send()  # QBO wrote them; the answer never came
            raise FatalConnectorError("the connection to QBO was lost")
        return send()

    def run(self, mode: str) -> None:
        self.mode = mode
        self.keys.append([])


def _stopped_on_a_create_left_open(
    session: Session, tps: Any, writes: _Qbo, invoices: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run 1 gives up on the invoice writes (QBO kept answering 503): left open. Run 2 looks
    them up, finds nothing, sends them and loses the connection: each attempt is still open
    under its first journal row. The invoices made, and run 1's keys."""
    made = [_new_tps_invoice(tps, 9001 + n) for n in range(invoices)]
    writes.run("gives-up")
    lost = session.sync()
    failed = session.state.items(lost.run_id, "Failed")
    assert {i["record"] for i in failed} == {f"tps.Invoice:{i['id']}" for i in made}
    assert all("may have been written" in i["message"] for i in failed)
    first_keys = writes.keys[1]
    first = dict(_intent_of(key) for key in first_keys)
    assert len(first) == invoices

    writes.run("lost")
    with pytest.raises(FatalConnectorError):
        Session(session.config).sync()
    assert sorted(writes.keys[2]) == sorted(first_keys)  # run 2 carried them on
    opened = session.state.unfinished_intents()
    assert {intent: o.journals[0] for intent, o in opened.items()} == first
    return made, first_keys


# One invoice is written alone (single_writes), two in one batch call (batch_writes).
@pytest.mark.parametrize("invoices", [1, 2])
@pytest.mark.parametrize("sent", [False, True])
def test_a_qbo_create_left_open_stays_open_when_the_next_run_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: bool, invoices: int
) -> None:
    """Run 2 loses the connection before or after QBO wrote the invoices (`sent`). Run 3
    sends the first attempts' requestids (nothing was written), or links the invoices run 2
    wrote; each invoice is in QBO once either way."""
    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        writes = _Qbo(monkeypatch, sent)
        made, first_keys = _stopped_on_a_create_left_open(session, tps, writes, invoices)

        writes.run("")
        again = Session(session.config)
        third = again.sync()
        assert sorted(writes.keys[3]) == ([] if sent else sorted(first_keys))
        assert again.state.items(third.run_id, "Failed") == []
        numbers = Counter(str(i.get("DocNumber")) for i in qbo.company.table("Invoice").values())
        links = {lk["tps_id"]: lk["qbo_id"] for lk in again.state.links("Invoice|Invoice")}
        for invoice in made:
            assert numbers[invoice["doc_number"]] == 1
            linked = qbo.company.table("Invoice")[links[invoice["id"]]]
            assert linked["DocNumber"] == invoice["doc_number"]
        if not sent:
            assert not again.state.unfinished_intents()


def test_a_create_left_open_that_a_later_run_links_is_concluded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_firm(tmp_path) as (session, _, tps):
        session.backup()
        session.sync()
        writes = _Qbo(monkeypatch, sent=True)
        [invoice], _ = _stopped_on_a_create_left_open(session, tps, writes, 1)
        writes.run("")
        again = Session(session.config)
        third = again.sync()
        [item] = [i for i in again.state.items(third.run_id) if invoice["id"] in i["record"]]
        assert item["action"] == "link"
        assert not again.state.unfinished_intents()


def test_a_tps_create_left_open_stays_open_when_the_next_run_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 writes a QBO payment to TPS and loses the answer: left open. Run 2 sends it
    again and TPS refuses the token (401, fatal): the attempt stays open under its first
    journal row. Run 3 sends the first attempt's Idempotency-Key: TPS answers it from the
    first write, and the payment is in TPS once."""
    keys: list[str] = []
    real = TpsClient.create

    def create(self: TpsClient, resource: str, record: Any, *, key: str) -> Any:
        keys.append(key)
        return real(self, resource, record, key=key)

    with demo_firm(tmp_path) as (session, qbo, tps):
        session.backup()
        session.sync()
        payment = paid_in_qbo(qbo, session)
        monkeypatch.setattr(TpsClient, "create", create)

        client = cast(TpsClient, session.tps)
        retry = client.retry
        client.retry = RetryPolicy(1, 0.01, 0.05, retry.timeout)  # the call gives up at once
        tps.app.plan.add("commit-timeout#1")
        lost = session.sync()
        client.retry = retry
        [failed] = session.state.items(lost.run_id, "Failed")
        assert "may have been written" in failed["message"]
        [first_key] = keys
        intent, first_journal = _intent_of(first_key)
        payments = len(tps.firm.table("payments"))

        def revoked(self: TpsClient, resource: str, record: Any, *, key: str) -> Any:
            token, tps.app.token = tps.app.token, "revoked"  # access withdrawn mid-run
            try:
                return create(self, resource, record, key=key)
            finally:
                tps.app.token = token

        monkeypatch.setattr(TpsClient, "create", revoked)
        with pytest.raises(FatalConnectorError):
            Session(session.config).sync()
        assert keys[1:] == [first_key]
        opened = session.state.unfinished_intents()
        assert list(opened) == [intent]
        assert opened[intent].journals[0] == first_journal

        monkeypatch.setattr(TpsClient, "create", create)
        again = Session(session.config)
        third = again.sync()
        assert keys[2:] == [first_key]
        assert again.state.items(third.run_id, "Failed") == []
        assert not again.state.unfinished_intents()
        assert len(tps.firm.table("payments")) == payments  # answered from the first write
        copies = [
            lk["tps_id"]
            for lk in again.state.links("Payment|Payment")
            if lk["qbo_id"] == payment["Id"]
        ]
        assert len(copies) == 1
        assert tps.firm.table("payments")[copies[0]]["status"] == "active"


def _left_open(state: StateStore, records: list[str]) -> dict[str, int]:
    """A run that started each invoice's create and never heard back: intent -> journal."""
    run = state.start_run("incremental")
    opened = {}
    for record in records:
        intent = f"invoices:{record}:create"
        opened[intent] = state.intend(run, intent, "create", "qbo.Invoice")
    state.finish_run(run, "stopped")
    return opened


@pytest.mark.parametrize("batch", [False, True])
def test_a_create_left_open_stays_open_when_its_customer_is_not_written(
    tmp_path: Path, batch: bool
) -> None:
    """The next run cannot send the create (the customer it names was not written in this
    run): QBO heard nothing of this attempt, so the first one stays open, and a later run
    still looks for the invoice and sends the first attempt's requestid."""
    state = StateStore(tmp_path / "state.db")
    records = ["tps.Invoice:inv-1", "tps.Invoice:inv-2"] if batch else ["tps.Invoice:inv-1"]
    first = _left_open(state, records)
    run = state.start_run("incremental")
    books = BatchWrites(
        Plan("incremental", []),
        load_ruleset(resources.rules_dir()),
        state,
        cast(QboClient, object()),  # never called: nothing can be sent
        cast(TpsSource, object()),
        run,
    )
    books.earlier = state.unfinished_intents()
    ops = [
        Operation(
            "invoices",
            record,
            "create",
            "qbo.Invoice",
            body={"DocNumber": record[-5:], "CustomerRef": {"value": f"{PENDING}tps.Client:c-9"}},
        )
        for record in records
    ]
    if batch:
        books._write_batch(ops)
    else:
        books._write(ops[0])
    books._flush()
    items = state.items(run, "Failed")
    assert [i["record"] for i in items] == records
    assert all("depends on tps.Client:c-9, which was not written" in i["message"] for i in items)
    opened = state.unfinished_intents()
    assert {intent: o.journals[0] for intent, o in opened.items()} == first
    assert [books.attempt(op, 0) for op in ops] == [f"{i}@{j}" for i, j in first.items()]
