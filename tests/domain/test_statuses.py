"""Statuses: enums equal their stored values; the move tables cover every status."""

from __future__ import annotations

from domain.statuses import (
    OPEN_REQUESTS,
    OPEN_SUGGESTIONS,
    REQUEST_MOVES,
    SUGGESTION_MOVES,
    RequestStatus,
    SuggestionStatus,
    may_move,
)


def test_an_enum_member_is_its_stored_value() -> None:
    assert SuggestionStatus.PENDING == "pending" and f"{SuggestionStatus.HELD}" == "held"
    assert {"pending": 1}[SuggestionStatus.PENDING] == 1


def test_every_status_has_a_row_in_its_move_table_and_moves_stay_in_the_family() -> None:
    assert set(SUGGESTION_MOVES) == set(SuggestionStatus)
    assert set(REQUEST_MOVES) == set(RequestStatus)
    assert all(targets <= set(SuggestionStatus) for targets in SUGGESTION_MOVES.values())
    assert all(targets <= set(RequestStatus) for targets in REQUEST_MOVES.values())


def test_final_statuses_do_not_move_and_open_ones_do() -> None:
    assert not may_move(SUGGESTION_MOVES, "applied", "pending")
    assert may_move(SUGGESTION_MOVES, "rejected", "pending")  # reopened by new evidence
    assert may_move(SUGGESTION_MOVES, "superseded", "superseded")  # staying put is a refresh
    assert all(SUGGESTION_MOVES[status] for status in OPEN_SUGGESTIONS)
    assert all(REQUEST_MOVES[status] for status in OPEN_REQUESTS)
    assert not may_move(REQUEST_MOVES, "done", "pending")
