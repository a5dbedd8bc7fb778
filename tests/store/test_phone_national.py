"""Migration 10: the national digits of identities loaded before it, the same as ingest stores."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from domain.phones import national_digits
from store import Store
from store.migrations.v010_phone_national import STATEMENTS

PHONES = [
    ("+33612345678", "+33 6 12 34 56 78"),
    (None, "06 12 34 56 78"),
    (None, "0033 6 12 34 56 78"),
    (None, "+1 (209) 665-5317 ext. 12"),
    ("+447911123456", "07911 123456"),
    (None, "4.4770090013e11"),
    (None, "12345"),
    (None, None),
]


def test_the_backfill_gives_the_digits_ingest_stores(store: Store) -> None:
    now = datetime(2026, 1, 1)
    for i, (e164, raw) in enumerate(PHONES, start=1):
        store.execute(
            """INSERT INTO identities (identity_id, customer_id, channel, external_id, phone, phone_e164, record_hash,
               batch_id, first_seen_at, changed_at) VALUES (?, ?, 'chat', ?, ?, ?, 'h', 1, ?, ?)""",
            [i, i, f"c{i}", raw, e164, now, now],
        )
    store.execute(STATEMENTS[1])  # as when a store of version 9 is opened
    stored = store.frame("SELECT phone_national FROM identities ORDER BY identity_id").to_series()
    e164 = pl.Series([e for e, _ in PHONES], dtype=pl.String)
    raw = pl.Series([r for _, r in PHONES], dtype=pl.String)
    expected = national_digits(e164, raw).to_list()
    expected[5] = None  # ingest.guards: a float-written number has no digits of its own
    assert stored.to_list() == expected
    assert stored.to_list()[:3] == ["612345678"] * 3
