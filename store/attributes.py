"""SQL for what identities hold: identities per store column and per extra-attribute key.

`idres config check` and a match run whose configuration reads a column no identity holds list
these, so a misspelt column is reported with the columns that do exist.
"""

from __future__ import annotations

from store.db import Store
from store.match_runs import ELIGIBLE, MATCH_COLUMNS


def available_columns(store: Store) -> dict[str, int]:
    """Column -> matchable identities holding a value: every store column, then every `extra` key."""
    counts = ", ".join(f'count(i."{c}") AS "{c}"' for c in MATCH_COLUMNS)
    row = store.frame(f"SELECT {counts} {ELIGIBLE}").row(0, named=True)
    out = {name: int(value or 0) for name, value in row.items()}
    extras = store.frame(
        f"""SELECT j.key AS key,
               count(*) FILTER (WHERE json_type(j.value) <> 'NULL' AND j.value::VARCHAR <> '""') AS n
        FROM (SELECT i.extra {ELIGIBLE} AND i.extra IS NOT NULL) e, json_each(e.extra) j
        GROUP BY j.key ORDER BY j.key"""
    )
    for key, n in extras.iter_rows():
        out.setdefault(str(key), int(n))
    return out


def identity_count(store: Store) -> int:
    """Matchable identities (active, unlocked, not anonymized customers)."""
    return int(store.scalar(f"SELECT count(*) {ELIGIBLE}") or 0)
