"""Small review stores for tests: ingested customers, hand-made suggestions, simulated merges."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from domain.settings import IngestSettings, Settings
from ingest.pipeline import ingest_file
from store import Store, open_store, utcnow
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city", "screen_name"]
PEOPLE = [
    ["email", "alice@example.com", "Alice", "Moss", "alice@example.com", "+447911123401", "Leeds", ""],
    ["chat", "c-alice", "Alice", "Moss", "", "07911 123401", "Leeds", ""],
    ["email", "brian.novak@example.org", "Brian", "Novak", "brian.novak@example.org", "", "York", ""],
    ["twitter", "tw-99", "Bryan", "Novak", "", "", "", "bnovak"],
    ["email", "chloe@ortiz.net", "Chloe", "Ortiz", "chloe@ortiz.net", "+447911123403", "Bath", ""],
    ["chat", "c-derek", "Derek", "Patel", "", "+447911123404", "Hull", ""],
]


def ingest_people(
    tmp_path: Path, settings: Settings, store: Store, rows: list[list[str]] | None = None
) -> None:
    """Ingest one CSV: every row becomes an identity with a customer of its own (ids 1..n)."""
    report = ingest_file(store, write_csv(tmp_path / "people.csv", HEADER, rows or PEOPLE), settings.ingest)
    assert report.status == "loaded", report.error


_TEMPLATES: dict[str, Path] = {}


def people_store(settings: Settings) -> Path:
    """Put a store holding PEOPLE at `settings.store` (copied from one ingested per test process: ingest is slow)."""
    if "people" not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="idres-review-people-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Settings(
            store=folder / "people.duckdb",
            ingest=IngestSettings(data_docs_dir=folder / "docs", landing_dir=folder / "landing"),
        )
        with open_store(template.store) as store:
            ingest_people(folder, template, store)
        _TEMPLATES["people"] = template.store
    settings.store.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATES["people"], settings.store)
    return settings.store


def add_suggestion(
    store: Store,
    left: int,
    right: int,
    probability: float = 0.9,
    band: str = "review",
    status: str = "pending",
) -> int:
    """Insert one suggestion for a customer pair, as a match run would; returns its id."""
    with store.transaction():
        suggestion_id = store.next_id("suggestions", "suggestion_id")
        now = utcnow()
        store.execute(
            """INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, probability, match_weight,
                band, status, evidence, evidence_hash, created_at, updated_at)
            VALUES (?, ?, ?, ?, 5.0, ?, ?, ?, 'h', ?, ?)""",
            [suggestion_id, min(left, right), max(left, right), probability, band, status,
             json.dumps([]), now, now],
        )  # fmt: skip
    return suggestion_id


def simulate_merge(store: Store, absorbed: int, survivor: int) -> None:
    """What an applied merge leaves behind: the absorbed customer redirects, its identities moved."""
    with store.transaction():
        store.execute(
            "UPDATE customers SET status = 'merged', merged_into = ? WHERE customer_id = ?",
            [survivor, absorbed],
        )
        store.execute("UPDATE identities SET customer_id = ? WHERE customer_id = ?", [survivor, absorbed])


def suggestion(store: Store, suggestion_id: int) -> dict[str, Any]:
    """The suggestion row as stored."""
    return store.rows("SELECT * FROM suggestions WHERE suggestion_id = ?", [suggestion_id])[0]
