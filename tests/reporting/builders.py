"""A small matched store for report tests: ingested identities, one full match run, one decision."""

from __future__ import annotations

from pathlib import Path

from domain.settings import Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from store import Store, match_runs, utcnow
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city"]
FIRSTS = ["alice", "brian", "chloe", "derek", "emma", "frank", "grace", "henry"]
LASTS = ["moss", "novak", "ortiz", "patel", "quinn", "reyes"]
CITIES = ["leeds", "york", "bath", "hull", "derby"]


def _rows() -> list[list[str]]:
    rows = []
    for i, (first, last) in enumerate((f, ln) for f in FIRSTS for ln in LASTS):
        email = f"{first}.{last}{i}@mail{i % 5}.com"
        rows.append(["email", email, first.title(), last.title(), email, f"+4477009{i:05d}", CITIES[i % 5]])
        if i % 4 == 0:  # the same person again on chat: a likely match
            rows.append(
                ["chat", f"c-{i}", first.title(), last.title(), email, f"+4477009{i:05d}", CITIES[i % 5]]
            )
    return rows


def matched_store(tmp_path: Path, settings: Settings, store: Store) -> dict[str, int]:
    """Ingest, run one full match and reject the first suggestion; returns the match run summary."""
    report = ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, _rows()), settings.ingest)
    assert report.ok, report.error
    identities, _changed, excluded = match_runs.load_match_input(store)
    started = utcnow()
    result = run_match(identities, MatchConfig.from_settings(settings.match), excluded_customer_ids=excluded)
    summary = match_runs.save_match_result(
        store,
        result,
        "full",
        started,
        utcnow(),
        scored_ids=identities.get_column("identity_id"),
        identities_total=identities.height,
    )
    first = store.scalar("SELECT min(suggestion_id) FROM suggestions")
    assert first is not None, "the sample should give at least one suggestion"
    with store.transaction():
        store.execute(
            "UPDATE suggestions SET status = 'rejected', decided_by = 'ann', decided_at = ? WHERE suggestion_id = ?",
            [utcnow(), first],
        )
    return summary
