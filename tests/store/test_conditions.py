"""store/conditions.py: optional filters become one WHERE clause (or an OR of them) with their parameters."""

from __future__ import annotations

from store.conditions import Conditions


def test_only_given_values_become_conditions_in_order() -> None:
    where = Conditions()
    where.when(None, "kind = ?")
    where.when("", "status = ?")
    assert not where and where.where() == "" and where.any_of() == "FALSE"
    where.when("export", "kind = ?")
    where.add("due_at < ? AND status IN (?, ?)", 5, "pending", "waiting")
    assert where.where() == "WHERE kind = ? AND due_at < ? AND status IN (?, ?)"
    assert where.any_of() == "(kind = ?) OR (due_at < ? AND status IN (?, ?))"
    assert where.params == ["export", 5, "pending", "waiting"]
