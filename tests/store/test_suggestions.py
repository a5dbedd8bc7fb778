"""store.suggestions against a store in tmp_path: save, reload, upsert rules, exclusions, incremental runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from domain.settings import Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from store import Store, match_runs, utcnow
from store.views import exports
from store.views import review as review_view
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city"]
FIRSTS = ["alice", "brian", "chloe", "derek", "emma", "frank", "grace", "henry", "irene", "jack"]
LASTS = ["moss", "novak", "ortiz", "patel", "quinn", "reyes", "stone", "turner", "upton", "vance", "wolfe"]
CITIES = ["leeds", "york", "bath", "hull", "derby"]


def _filler() -> list[list[str]]:
    rows = []
    for i, (first, last) in enumerate((f, ln) for f in FIRSTS for ln in LASTS):
        rows.append(
            ["email", f"{first}.{last}{i}@mail{i % 7}.com", first.title(), last.title(),
             f"{first}.{last}{i}@mail{i % 7}.com", f"+4477009{i:05d}", CITIES[i % 5]]
        )  # fmt: skip
    return rows


PAIR = [
    ["email", "zoe.quartz@example.com", "Zoe", "Quartz", "zoe.quartz@example.com", "+447700111222", "leeds"],
    ["chat", "c-1", "Zoe", "Quartz", "zoe.quartz@example.com", "", "leeds"],
]


def _ingest(tmp_path: Path, settings: Settings, store: Store, rows: list[list[str]], name: str) -> None:
    report = ingest_file(store, write_csv(tmp_path / name, HEADER, rows), settings.ingest)
    assert report.status == "loaded", report.error


def _run(store: Store, settings: Settings, full: bool) -> tuple[dict[str, Any], pl.DataFrame]:
    started = utcnow()
    identities, changed, excluded = match_runs.load_match_input(store)
    result = run_match(
        identities,
        MatchConfig.from_settings(settings.match),
        changed_ids=None if full else changed,
        model=None if full else match_runs.latest_model(store).model,
        excluded_customer_ids=excluded,
    )
    counts = match_runs.save_match_result(
        store,
        result,
        "full" if full else "incremental",
        started,
        utcnow(),
        scored_ids=identities.get_column("identity_id") if full else changed,
        identities_total=identities.height,
    )
    return counts, result.pairs


@pytest.fixture
def loaded(tmp_path: Path, settings: Settings, store: Store) -> Store:
    _ingest(tmp_path, settings, store, [*_filler(), *PAIR], "first.csv")
    return store


def _zoe(store: Store) -> dict[str, Any]:
    rows = store.rows(
        """SELECT s.* FROM suggestions s JOIN identities i ON i.customer_id = s.customer_id_l
        WHERE i.external_id = 'zoe.quartz@example.com'"""
    )
    assert len(rows) == 1
    return rows[0]


def test_save_and_reload(loaded: Store, settings: Settings) -> None:
    counts, _ = _run(loaded, settings, full=True)
    assert counts["suggestions_new"] >= 1
    zoe = _zoe(loaded)
    assert zoe["status"] == "pending" and zoe["band"] in ("review", "auto_approve")
    assert match_runs.latest_model(loaded).model is not None
    run = loaded.rows("SELECT * FROM match_runs")[0]
    assert run["mode"] == "full" and run["suggestions_new"] == counts["suggestions_new"]
    record = review_view.detail(loaded, int(zoe["suggestion_id"]))
    assert record is not None
    assert {e["field"] for e in record["evidence"]} >= {"first_name", "email"}
    assert record["identities_l"][0]["channel"] in ("email", "chat")
    assert review_view.list_suggestions(loaded, status="pending", limit=1)
    export = exports.suggestions_for_export(loaded)
    assert export.height == loaded.scalar("SELECT count(*) FROM suggestions")
    assert export.schema["identities_l"] == pl.List(pl.String)
    assert exports.customers_for_export(loaded).height == loaded.scalar("SELECT count(*) FROM customers")


def test_match_pending_cleared_and_no_duplicates(loaded: Store, settings: Settings) -> None:
    first, _ = _run(loaded, settings, full=True)
    assert loaded.scalar("SELECT count(*) FROM identities WHERE match_pending") == 0
    second, _ = _run(loaded, settings, full=True)
    assert second["suggestions_new"] == 0
    dupes = loaded.scalar(
        "SELECT count(*) FROM (SELECT customer_id_l, customer_id_r FROM suggestions GROUP BY ALL HAVING count(*) > 1)"
    )
    assert dupes == 0
    assert loaded.scalar("SELECT count(*) FROM suggestions") == first["suggestions_new"]


def test_rejected_pair_stays_rejected_unless_evidence_changes(
    tmp_path: Path, loaded: Store, settings: Settings
) -> None:
    _run(loaded, settings, full=True)
    sid = _zoe(loaded)["suggestion_id"]
    loaded.execute("UPDATE suggestions SET status = 'rejected' WHERE suggestion_id = ?", [sid])
    counts, _ = _run(loaded, settings, full=True)
    assert counts["suggestions_reopened"] == 0 and _zoe(loaded)["status"] == "rejected"
    # new evidence: the chat identity now has the same phone number
    changed = [[*PAIR[1][:5], "+447700111222", "leeds"]]
    _ingest(tmp_path, settings, loaded, changed, "second.csv")
    counts, _ = _run(loaded, settings, full=False)
    zoe = _zoe(loaded)
    assert counts["suggestions_reopened"] == 1
    assert zoe["status"] == "pending" and "phone" in zoe["status_reason"]


def test_locked_customer_is_excluded(loaded: Store, settings: Settings) -> None:
    loaded.execute(
        "UPDATE customers SET locked = TRUE WHERE customer_id = "
        "(SELECT customer_id FROM identities WHERE external_id = 'c-1')"
    )
    identities, _, excluded = match_runs.load_match_input(loaded)
    locked = loaded.scalar("SELECT customer_id FROM identities WHERE external_id = 'c-1'")
    assert locked in excluded.to_list() and locked not in identities.get_column("customer_id").to_list()
    _run(loaded, settings, full=True)
    assert (
        loaded.scalar(
            "SELECT count(*) FROM suggestions WHERE customer_id_l = ? OR customer_id_r = ?", [locked, locked]
        )
        == 0
    )


def test_incremental_run_scores_only_changed_identities(
    tmp_path: Path, loaded: Store, settings: Settings
) -> None:
    _run(loaded, settings, full=True)
    runs_model = match_runs.latest_model(loaded).model
    _ingest(
        tmp_path,
        settings,
        loaded,
        [["sms", "+447700111222", "Zoe", "Quartz", "zoe.quartz@example.com", "+447700111222", "leeds"]],
        "new.csv",
    )
    new_id = loaded.scalar("SELECT identity_id FROM identities WHERE match_pending")
    counts, pairs = _run(loaded, settings, full=False)
    assert pairs.height > 0
    assert ((pairs["identity_id_l"] == new_id) | (pairs["identity_id_r"] == new_id)).all()
    assert counts["suggestions_new"] >= 1 and counts["identities_scored"] == 1
    assert loaded.scalar("SELECT count(*) FROM identities WHERE match_pending") == 0
    assert json.dumps(runs_model)  # the stored model round-trips as JSON


def test_full_run_supersedes_a_pending_pair_it_no_longer_suggests(loaded: Store, settings: Settings) -> None:
    _run(loaded, settings, full=True)
    zoe = _zoe(loaded)
    loaded.execute("UPDATE customers SET locked = TRUE WHERE customer_id = ?", [zoe["customer_id_r"]])
    counts, _ = _run(loaded, settings, full=True)
    assert counts["suggestions_superseded"] >= 1
    row = loaded.rows(
        "SELECT status, status_reason FROM suggestions WHERE suggestion_id = ?", [zoe["suggestion_id"]]
    )[0]
    assert row["status"] == "superseded" and "no longer suggested" in row["status_reason"]


def test_possible_band_is_stored_off_the_default_queue(loaded: Store, settings: Settings) -> None:
    from store.views import web_page
    from store.views.review import bulk_candidates

    _run(loaded, settings, full=True)
    # one stored suggestion moved below review, as a match run with a possible_floor stores it
    zoe = _zoe(loaded)
    loaded.execute(
        "UPDATE suggestions SET band = 'possible', probability = 0.5 WHERE suggestion_id = ?",
        [zoe["suggestion_id"]],
    )
    listed = {r["suggestion_id"] for r in review_view.list_suggestions(loaded, status="pending")}
    assert zoe["suggestion_id"] not in listed
    asked = review_view.list_suggestions(loaded, status="pending", band="possible")
    assert [r["suggestion_id"] for r in asked] == [zoe["suggestion_id"]]
    queue, _ = web_page.queue_page(loaded)
    assert zoe["suggestion_id"] not in {r["suggestion_id"] for r in queue}
    queue, total = web_page.queue_page(loaded, band="possible")
    assert total == 1 and queue[0]["suggestion_id"] == zoe["suggestion_id"]
    # bulk approve without a band leaves the possible band alone
    assert zoe["suggestion_id"] not in {r["suggestion_id"] for r in bulk_candidates(loaded, 0.1)}
