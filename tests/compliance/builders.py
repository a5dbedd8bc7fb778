"""A small store with one person spread over every table compliance touches (tests only)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from domain.settings import ComplianceSettings, IngestSettings, Settings
from ingest.pipeline import ingest_file
from store import Store, open_store, utcnow
from tests.helpers import write_csv

ALICE_EMAIL = "alice.moss@example.com"
ALICE_PHONE = "+447700900001"
PEOPLE_HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city", "screen_name"]
PEOPLE = [
    ["email", ALICE_EMAIL, "Alice", "Moss", ALICE_EMAIL, ALICE_PHONE, "Leeds", ""],
    ["chat", "c-alice-77", "Alice", "Moss", "", "07700 900001", "Leeds", ""],
    ["email", "brian.novak@example.org", "Brian", "Novak", "brian.novak@example.org", "", "Leeds", ""],
    ["twitter", "tw-chloe", "Chloe", "Ortiz", "", "+447700900003", "Bath", "chloe_o"],
]
MESSAGE_HEADER = ["thread_id", "message_id", "channel", "external_id", "author_kind", "agent_name", "body",
                  "title", "created_at"]  # fmt: skip
MESSAGES = [
    ["th-alice-1", "m1", "email", ALICE_EMAIL, "customer", "",
     f"Hello, this is Alice Moss, call me on 07700 900001 or write to {ALICE_EMAIL}", "Refund for Alice Moss",
     "2024-03-01T10:00:00"],
    ["th-alice-1", "m2", "email", ALICE_EMAIL, "agent", "sam",
     "Thanks Alice Moss, we will call +44 7700 900001 tomorrow", "", "2024-03-01T11:00:00"],
    ["th-alice-2", "m3", "chat", "c-alice-77", "customer", "", "Where is my parcel?", "", "2024-03-05T09:00:00"],
    ["th-brian-1", "m4", "email", "brian.novak@example.org", "customer", "", "Hi from Brian", "",
     "2024-03-02T10:00:00"],
    ["th-brian-1", "m5", "email", "brian.novak@example.org", "agent", "sam", "Hello Brian", "",
     "2024-03-02T11:00:00"],
]  # fmt: skip


def compliance_settings(tmp_path: Path, **overrides: object) -> ComplianceSettings:
    """Compliance settings with the export folder and key file in tmp_path."""
    values: dict[str, object] = {
        "export_dir": tmp_path / "exports",
        "anonymization_key_file": tmp_path / "anonymization.key",
    }
    values.update(overrides)
    return ComplianceSettings(**values)  # type: ignore[arg-type]


def build_people(tmp_path: Path, settings: Settings, store: Store) -> None:
    """Customers 1..4 (2 merged into 1: the same Alice), messages, comments, a merge, quarantine, audit."""
    people = ingest_file(
        store, write_csv(tmp_path / "identities.csv", PEOPLE_HEADER, PEOPLE), settings.ingest
    )
    assert people.status == "loaded", people.error
    messages = ingest_file(
        store,
        write_csv(tmp_path / "messages.csv", MESSAGE_HEADER, MESSAGES),
        settings.ingest,
        kind="messages",
    )
    assert messages.status == "loaded", messages.error
    now = utcnow()
    with store.transaction():
        before = store.rows("SELECT * FROM customers WHERE customer_id IN (1, 2) ORDER BY customer_id")
        store.execute("UPDATE customers SET status = 'merged', merged_into = 1 WHERE customer_id = 2")
        store.execute("UPDATE identities SET customer_id = 1 WHERE customer_id = 2")
        store.execute(
            """INSERT INTO merges (merge_id, survivor_id, absorbed_id, kind, requested_by, applied_by, applied_at,
                before_image, comment) VALUES (1, 1, 2, 'manual', 'sam', 'sam', ?, ?, ?)""",
            [now, json.dumps({"customers": before}, default=str), "same Alice Moss, see c-alice-77"],
        )
        store.execute(
            "INSERT INTO comments VALUES (1, 1, NULL, 'sam', ?, ?)",
            [f"Alice asked us to use {ALICE_EMAIL} only", now],
        )
        store.execute("INSERT INTO comments VALUES (2, 3, NULL, 'sam', 'Brian is a regular', ?)", [now])
        store.execute(
            """INSERT INTO quarantine VALUES (1, 1, 'identities', 'x.csv', 7, 'email_valid', 'bad', ?, ?),
                                             (2, 1, 'identities', 'x.csv', 8, 'email_valid', 'bad', ?, ?)""",
            [json.dumps({"external_id": ALICE_EMAIL, "first_name": "Alice"}), now,
             json.dumps({"external_id": "someone@else.org"}), now],
        )  # fmt: skip
        store.execute(
            """INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, probability, match_weight, band,
                status, evidence, evidence_hash, created_at, updated_at, decided_by, decision_comment)
            VALUES (1, 1, 3, 0.9, 5.0, 'review', 'rejected', ?, 'h', ?, ?, 'sam', 'Alice Moss is not Brian')""",
            [json.dumps([{"field": "email", "l": ALICE_EMAIL, "r": "brian.novak@example.org"}]), now, now],
        )
        store.execute(
            "INSERT INTO cannot_links VALUES (1, 3, 1, 'sam', ?, 'Alice Moss and Brian are different people')",
            [now],
        )
        store.audit(
            "sam", "profile_edited", "customer", 1, {"changes": {"city": {"old": "York", "new": "Leeds"}}}
        )
        store.audit("sam", "searched", "search", None, {"query": ALICE_EMAIL})


_TEMPLATES: dict[str, Path] = {}


@contextmanager
def people_store(tmp_path: Path, settings: Settings, factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A copy of the `build_people` store at `settings.store` (built once per test process: ingest is slow)."""
    if "people" not in _TEMPLATES:
        base = factory.mktemp("people-template")
        template_settings = Settings(
            store=base / "template.duckdb",
            ingest=IngestSettings(data_docs_dir=base / "gx_docs", landing_dir=base / "landing"),
        )
        with open_store(template_settings.store) as template:
            build_people(base, template_settings, template)
        _TEMPLATES["people"] = template_settings.store
    shutil.copyfile(_TEMPLATES["people"], settings.store)
    with open_store(settings.store) as store:
        yield store
