"""How a person's values are searched for in stored text: their lower-cased and JSON-escaped forms."""

from __future__ import annotations

import json
from collections.abc import Sequence


def search_forms(values: Sequence[str]) -> list[str]:
    """Lower-cased forms to search for: the value and its JSON-escaped spelling (`\\u00eb` for `ë`)."""
    forms: set[str] = set()
    for value in values:
        forms.add(value.lower())
        forms.add(json.dumps(value.lower())[1:-1])
    return sorted(forms)


def like_any(column: str, count: int) -> str:
    """SQL: the column (as lower-case text) contains any of `count` parameters."""
    return " OR ".join(f"contains(lower(CAST({column} AS VARCHAR)), ?)" for _ in range(count)) or "FALSE"
