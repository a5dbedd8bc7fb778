"""Verification leftovers in words: where erased values remain, whose rows they are, and what to do.

The verification lists places as `table.column (key=id)`; an officer needs to know whose data that
is (the erased person's own rows, or another customer's) and how to clear it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from store import compliance as sql
from store.db import Store

_PLACE = re.compile(r"^(?P<table>\w+)\.(?P<column>\w+) \((?P<key>\w+)=(?P<id>[^)]+)\)$")
_NOUN = {"messages": "message", "comments": "comment", "identities": "identity", "customers": "customer"}


def _owner_note(store: Store, table: str, row_id: str, erased: set[int]) -> str:
    owner = sql.owner_of(store, table, row_id)
    if owner is None:
        return ""
    if owner in erased:
        return " (the erased person's own row: erase the request again or report a bug)"
    return (
        f" (customer {owner}'s data: if customer {owner} is the same person, request its erasure too; "
        f"otherwise remove the value from that {_NOUN.get(table, 'row')} by hand)"
    )


def explain(store: Store, erased_ids: Sequence[int], places: Sequence[str], limit: int = 30) -> str:
    """One text for the request: what was erased, then each leftover place with its owner and remedy."""
    erased = {int(i) for i in erased_ids}
    lines = []
    for place in places[:limit]:
        found = _PLACE.match(place)
        if found and found["table"] in _NOUN:
            noun = _NOUN[found["table"]]
            note = _owner_note(store, found["table"], found["id"], erased)
            lines.append(f"{noun} {found['id']} ({found['column']}){note}")
        elif found:
            lines.append(
                f"{found['table']}.{found['column']} row {found['id']} (a record of the store itself)"
            )
        else:
            lines.append(place)
    more = f"; and {len(places) - limit} more places" if len(places) > limit else ""
    customers = ", ".join(map(str, sorted(erased)))
    return (
        f"customer(s) {customers} were anonymized, but the verification found the erased values in "
        f"{len(places)} other place(s): "
        + "; ".join(lines)
        + more
        + ". The request stays incomplete until these are cleared; no value is shown here."
    )
