"""store/suggestions.py: every status move is checked against domain.statuses.SUGGESTION_MOVES."""

from __future__ import annotations

import polars as pl
import pytest

from domain.statuses import SUGGESTION_MOVES, SuggestionStatus, may_move
from store import Store, StoreError, suggestions, utcnow
from tests.review.builders import add_suggestion

S = SuggestionStatus


def _status(store: Store, suggestion_id: int) -> str:
    return str(store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [suggestion_id]))


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_move_follows_the_allowed_moves_table(store: Store, old: S, new: S) -> None:
    sid = add_suggestion(store, 1, 2, status=old)
    with store.transaction():
        if may_move(SUGGESTION_MOVES, old, new):
            suggestions.move(store, sid, new, "test", utcnow())
        else:
            with pytest.raises(suggestions.StatusMoveError, match=f"from {old} to {new}"):
                suggestions.move(store, sid, new, "test", utcnow())
    assert _status(store, sid) == (new if may_move(SUGGESTION_MOVES, old, new) else old)


def test_a_decision_on_a_final_suggestion_is_refused_and_nothing_is_written(store: Store) -> None:
    sid = add_suggestion(store, 1, 2, status=S.APPLIED)
    with (
        pytest.raises(suggestions.StatusMoveError, match="may not move from applied to approved"),
        store.transaction(),
    ):
        suggestions.decide(store, sid, S.APPROVED, "ann", "ok", utcnow())
    row = suggestions.get(store, sid) or {}
    assert (row["status"], row["decided_by"]) == ("applied", None)
    merged = add_suggestion(store, 3, 4, status=S.APPLIED)
    with pytest.raises(suggestions.StatusMoveError, match="from applied to superseded"):
        suggestions.supersede(store, merged, "again", "ann", utcnow())


def test_unknown_suggestion_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no suggestion 99"):
        suggestions.move(store, 99, S.HELD, None, utcnow())


def test_many_moves_at_once_are_checked_before_any_is_written(store: Store) -> None:
    approved = add_suggestion(store, 1, 2, status=S.APPROVED)
    rejected = add_suggestion(store, 3, 4, status=S.REJECTED)
    outcomes = pl.DataFrame({"suggestion_id": [approved, rejected], "status": ["applied", "applied"],
                             "status_reason": ["merged", "merged"]})  # fmt: skip
    with pytest.raises(
        suggestions.StatusMoveError, match=f"suggestion {rejected} may not move from rejected"
    ):
        suggestions.move_many(store, outcomes, utcnow())
    assert (_status(store, approved), _status(store, rejected)) == ("approved", "rejected")
    suggestions.move_many(store, outcomes.head(1), utcnow())
    assert _status(store, approved) == "applied"
    pending = add_suggestion(store, 5, 6)
    with pytest.raises(suggestions.StatusMoveError, match=f"suggestion {approved} may not move from applied"):
        suggestions.approve_many(store, [{"suggestion_id": pending}, {"suggestion_id": approved}], "ann", None,
                                 utcnow())  # fmt: skip


def test_the_pair_lookup_is_one_function_in_either_order_and_by_status(store: Store) -> None:
    old = add_suggestion(store, 1, 2, status=S.REJECTED)
    new = add_suggestion(store, 2, 1)
    assert (suggestions.for_pair(store, 2, 1) or {})["suggestion_id"] == old
    open_one = suggestions.for_pair(store, 1, 2, {S.PENDING, S.APPROVED, S.HELD})
    assert open_one is not None and open_one["suggestion_id"] == new
    assert suggestions.for_pair(store, 1, 3) is None
