"""Stores the CLI tests of several command groups share: a matched store and a review queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.settings import Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from store import match_runs, open_store, utcnow
from tests.helpers import write_csv
from tests.review.builders import add_suggestion, people_store

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city"]
FIRSTS = ["alice", "brian", "chloe", "derek", "emma", "frank", "grace", "henry", "irene", "jack"]
LASTS = ["moss", "novak", "ortiz", "patel", "quinn", "reyes", "stone", "turner", "upton", "vance"]
CITIES = ["leeds", "york", "bath", "hull", "derby"]
ZOE = [
    ["email", "zoe.quartz@example.com", "Zoe", "Quartz", "zoe.quartz@example.com", "+447700111222", "leeds"],
    ["chat", "c-1", "Zoe", "Quartz", "zoe.quartz@example.com", "+447700111222", "leeds"],
]


@pytest.fixture
def matched(tmp_path: Path, settings: Settings) -> Path:
    """A store with ingested identities and one full match run saved; returns its path."""
    rows = [
        ["email", f"{f}.{ln}{i}@mail{i % 5}.com", f.title(), ln.title(), f"{f}.{ln}{i}@mail{i % 5}.com",
         f"+4477009{i:05d}", CITIES[i % 5]]
        for i, (f, ln) in enumerate((f, ln) for f in FIRSTS for ln in LASTS)
    ]  # fmt: skip
    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, [*rows, *ZOE]), settings.ingest).ok
        started = utcnow()
        identities, _, excluded = match_runs.load_match_input(store)
        result = run_match(identities, MatchConfig.from_settings(None), excluded_customer_ids=excluded)
        match_runs.save_match_result(
            store, result, "full", started, utcnow(), identities.get_column("identity_id")
        )
    return settings.store


@pytest.fixture
def review_queue(settings: Settings) -> Path:
    """A store of six one-identity customers and three pending suggestions; returns its path."""
    with open_store(people_store(settings)) as store:
        add_suggestion(store, 1, 2, probability=0.99, band="auto_approve")
        add_suggestion(store, 3, 4, probability=0.93)
        add_suggestion(store, 5, 6, probability=0.60)
    return settings.store
