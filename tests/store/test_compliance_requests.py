"""store/compliance_requests.py: request status moves are checked against domain.statuses.REQUEST_MOVES."""

from __future__ import annotations

import pytest

from domain.statuses import REQUEST_MOVES, RequestStatus, may_move
from store import Store, compliance_requests, utcnow
from store.suggestions import StatusMoveError

R = RequestStatus


def _request(store: Store, status: str) -> int:
    with store.transaction():
        return compliance_requests.insert(store, {"kind": "export", "customer_id": 1, "lookup_kind": "customer",
                                                  "lookup_value": "1", "requested_by": "dpo", "status": status,
                                                  "requested_at": utcnow()})  # fmt: skip


@pytest.mark.parametrize("old", list(R))
@pytest.mark.parametrize("new", [R.PENDING, R.ERASING, R.DONE, R.FAILED, R.DELETED])
def test_a_status_update_follows_the_allowed_moves(store: Store, old: R, new: R) -> None:
    request_id = _request(store, old)
    if may_move(REQUEST_MOVES, old, new):
        compliance_requests.update(store, request_id, status=new, status_reason="why")
        assert (compliance_requests.get(store, request_id) or {})["status_reason"] == "why"
    else:
        with pytest.raises(StatusMoveError, match=f"request {request_id} may not move from {old} to {new}"):
            compliance_requests.update(store, request_id, status=new, status_reason="why")
        assert (compliance_requests.get(store, request_id) or {})["status_reason"] is None
    expected = new if may_move(REQUEST_MOVES, old, new) else old
    assert (compliance_requests.get(store, request_id) or {})["status"] == expected


def test_other_columns_change_without_a_status_check(store: Store) -> None:
    request_id = _request(store, R.DONE)
    compliance_requests.update(store, request_id, counts={"customers": 1}, lookup_value=None)
    row = compliance_requests.get(store, request_id) or {}
    assert (row["status"], row["counts"], row["lookup_value"]) == ("done", {"customers": 1}, None)
    assert [r["request_id"] for r in compliance_requests.listing(store, kind="export")] == [request_id]
    assert compliance_requests.runnable(store, "export") == []


def test_an_erasure_overwrite_checks_a_changed_status_against_the_moves(store: Store) -> None:
    import polars as pl

    done, pending = _request(store, R.DONE), _request(store, R.PENDING)
    deleted = pl.DataFrame({"request_id": [done], "status": [R.DELETED.value], "bundle_path": [None]})
    with store.transaction():
        assert compliance_requests.overwrite(store, deleted, ["status", "bundle_path"]) == 1
    assert (compliance_requests.get(store, done) or {})["status"] == R.DELETED
    wrong = pl.DataFrame({"request_id": [pending], "status": [R.DELETED.value], "reason": ["x"]})
    with pytest.raises(StatusMoveError, match=f"request {pending} may not move from pending to deleted"):
        compliance_requests.overwrite(store, wrong, ["status", "reason"])
    row = compliance_requests.get(store, pending) or {}
    assert (row["status"], row["reason"]) == (R.PENDING, None)
