"""Optional SQL filters: the conditions a query gets for the values it was given, with their parameters."""

from __future__ import annotations

from typing import Any


class Conditions:
    """SQL conditions and their parameters, in order; `where()` ANDs them, `any_of()` ORs them.

    Only the conditions are SQL text (written by the caller); every value is a parameter.
    """

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.params: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self.sql)

    def add(self, condition: str, *params: Any) -> None:
        """Add a condition with its parameters (one for each `?` in it)."""
        self.sql.append(condition)
        self.params.extend(params)

    def when(self, value: Any, condition: str) -> None:
        """Add a one-parameter condition when `value` is given (not None, not empty)."""
        if value:
            self.add(condition, value)

    def where(self) -> str:
        """`WHERE a AND b ...`, or nothing without conditions."""
        return f"WHERE {' AND '.join(self.sql)}" if self.sql else ""

    def any_of(self) -> str:
        """`(a) OR (b) ...` (FALSE without conditions)."""
        return " OR ".join(f"({condition})" for condition in self.sql) or "FALSE"
