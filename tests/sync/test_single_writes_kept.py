"""Writes made one by one while the batch budget is spent: one of them failing must not
lose the others' results, and a write whose outcome is unknown is looked up, not repeated."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tpsqbo_engine.connectors.qbo.batch import BatchOp
from tpsqbo_engine.connectors.qbo.client import QboClient
from tpsqbo_engine.errors import FatalConnectorError, RetriableConnectorError
from tpsqbo_engine.sync.demo import demo_firm
from tpsqbo_engine.sync.markers import marker_of
from tpsqbo_engine.sync.session import Session


class _NoRoom:
    def batch_room(self) -> bool:
        return False


def _bare_client(fail: str, error: Exception) -> tuple[QboClient, list[str]]:
    client = QboClient.__new__(QboClient)
    client.limiter = _NoRoom()  # type: ignore[assignment]
    client._lock = threading.Lock()  # type: ignore[attr-defined]
    written: list[str] = []

    def single(op: BatchOp) -> dict[str, str]:
        if op.key == fail:
            time.sleep(0.05)  # the others finish first
            raise error
        written.append(op.key)
        return {"Id": op.key, "SyncToken": "0"}

    client._single = single  # type: ignore[method-assign]
    return client, written


def test_a_failing_single_write_returns_its_neighbours_results() -> None:
    client, written = _bare_client("k3", RetriableConnectorError("gave up after retries"))
    ops = [BatchOp("Invoice", {}, f"k{i}") for i in range(8)]
    results = client.batch(ops)
    assert [r.op.key for r in results] == [op.key for op in ops]
    assert sorted(r.record["Id"] for r in results if r.record) == sorted(written)
    assert len(written) == 7
    [failed] = [r for r in results if r.record is None]
    assert failed.op.key == "k3" and isinstance(failed.error, RetriableConnectorError)


def test_a_fatal_single_write_carries_the_results_made() -> None:
    client, written = _bare_client("k3", FatalConnectorError("access revoked"))
    ops = [BatchOp("Invoice", {}, f"k{i}") for i in range(8)]
    with pytest.raises(FatalConnectorError) as stopped:
        client.batch(ops)
    assert sorted(r.record["Id"] for r in stopped.value.partial if r.record) == sorted(written)
    assert written


def test_one_single_write_failing_leaves_no_duplicate_after_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = QboClient._single
    sent = {"n": 0, "done": 0}

    def single(self: QboClient, op: Any) -> Any:
        if op.entity == "Payment":
            sent["n"] += 1
            if sent["n"] == 8 and not sent["done"]:
                sent["done"] = 1
                real(self, op)  # it reached QBO; the answers to its retries were lost
                raise RetriableConnectorError("QBO kept answering 503")
        return real(self, op)

    # QBO ignoring the requestid: only the engine's own records can prevent a duplicate.
    with demo_firm(tmp_path, faults="ignore-requestid") as (session, _, _):
        session.backup()
        monkeypatch.setattr(QboClient, "_batch_room", lambda self: False)
        monkeypatch.setattr(QboClient, "_single", single)
        first = session.sync()
        monkeypatch.undo()
        assert sent["done"]
        failed = [i for i in session.state.items(first.run_id) if i["status"] == "Failed"]
        assert len(failed) == 1  # the one write that failed, not its whole group
        again = Session(session.config)
        again.sync()
        markers = Counter(marker_of(p.get("PrivateNote")) for p in again.qbo.query_all("Payment"))
        assert markers and all(markers)
        assert {m: n for m, n in markers.items() if n > 1} == {}


class _Flipping:
    """A budget whose room for a batch call changes every time it is looked at."""

    def __init__(self) -> None:
        self.looks = 0

    def batch_room(self) -> bool:
        self.looks += 1
        return self.looks % 2 == 0


def test_a_flipping_batch_room_is_a_bounded_loop_not_a_recursion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = QboClient.__new__(QboClient)
    client.limiter = _Flipping()  # type: ignore[assignment]
    client._lock = threading.Lock()  # type: ignore[attr-defined]
    client.realm_id = "1"
    sent: list[str] = []

    def single(op: BatchOp) -> dict[str, str]:
        sent.append(op.key)
        return {"Id": op.key, "SyncToken": "0"}

    def call(method: str, path: str, **kw: Any) -> dict[str, Any]:
        items = kw["body"]["BatchItemRequest"]
        sent.extend(item["Invoice"]["key"] for item in items)
        answer = [{"bId": i["bId"], "Invoice": {"Id": i["Invoice"]["key"]}} for i in items]
        return {"BatchItemResponse": answer}

    client._single = single  # type: ignore[method-assign]
    client.call = call  # type: ignore[method-assign]
    depth = {"now": 0, "most": 0}
    chunk = QboClient._batch_chunk

    def counted(self: QboClient, ops: list[BatchOp]) -> Any:
        depth["now"] += 1
        depth["most"] = max(depth["most"], depth["now"])
        try:
            return chunk(self, ops)
        finally:
            depth["now"] -= 1

    monkeypatch.setattr(QboClient, "_batch_chunk", counted)
    ops = [BatchOp("Invoice", {"key": f"k{i}"}, f"k{i}") for i in range(30)]
    results = client.batch(ops)
    assert [r.record["Id"] for r in results if r.record] == [op.key for op in ops]
    assert sorted(sent) == sorted(op.key for op in ops)  # each written once
    assert depth["most"] == 1  # _singly never calls back into _batch_chunk


class _RoomAfterFirst:
    def __init__(self) -> None:
        self.looks = 0

    def batch_room(self) -> bool:
        self.looks += 1
        return self.looks > 1


def test_a_batch_call_failing_after_single_writes_keeps_theirs() -> None:
    client = QboClient.__new__(QboClient)
    client.limiter = _RoomAfterFirst()  # type: ignore[assignment]
    client._lock = threading.Lock()  # type: ignore[attr-defined]
    client.realm_id = "1"

    def call(method: str, path: str, **kw: Any) -> dict[str, Any]:
        raise RetriableConnectorError("QBO kept answering 503")

    client._single = lambda op: {"Id": op.key, "SyncToken": "0"}  # type: ignore[method-assign]
    client.call = call  # type: ignore[method-assign]
    client.find = lambda *a, **k: None  # type: ignore[method-assign]
    ops = [BatchOp("Invoice", {}, f"k{i}") for i in range(30)]
    results = client.batch(ops)
    assert [r.op.key for r in results] == [op.key for op in ops]
    assert results[0].record == {"Id": "k0", "SyncToken": "0"}
    assert all(isinstance(r.error, RetriableConnectorError) for r in results[1:])
