"""Nested JSON records (webhook payloads) flattened to dotted column names that mappings can name.

`{"contact": {"wa_id": "4479"}}` becomes `{"contact.wa_id": "4479"}`; a list of objects is indexed
(`entry.0.changes.0.value.contacts.0.wa_id`); a list of plain values and an empty object or list stay
one value (JSON text). Iterative, so a deeply nested record cannot exhaust the Python stack.
"""

from __future__ import annotations

from typing import Any


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record with nested objects (and lists of objects) spread into dotted keys."""
    flat: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(str(key), value) for key, value in reversed(list(record.items()))]
    while stack:
        name, value = stack.pop()
        if isinstance(value, dict) and value:
            stack.extend((f"{name}.{key}", item) for key, item in reversed(list(value.items())))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            stack.extend((f"{name}.{index}", item) for index, item in reversed(list(enumerate(value))))
        else:
            flat.setdefault(name, value)  # a literal dotted key and a flattened one: the first wins
    return flat


def is_nested(record: dict[str, Any]) -> bool:
    """True when flattening changes the record."""
    return any(
        (isinstance(value, dict) and value)
        or (isinstance(value, list) and value and all(isinstance(item, dict) for item in value))
        for value in record.values()
    )
