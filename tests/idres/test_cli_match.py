"""`idres suggestions list/show/export`, `idres customers export` and `idres evaluate` on a small store."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import idres.cli_match  # noqa: F401  (registers the commands on `app`)
from idres.cli import app
from idres.settings import Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from store import open_store, utcnow
from store import suggestions as sg
from tests.helpers import write_csv

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
        identities, _, excluded = sg.load_match_input(store)
        result = run_match(identities, MatchConfig.from_settings(None), excluded_customer_ids=excluded)
        sg.save_match_result(store, result, "full", started, utcnow(), identities.get_column("identity_id"))
    return settings.store


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_show_and_export(tmp_path: Path, matched: Path) -> None:
    listed = json.loads(_invoke(["suggestions", "list", "--store", str(matched), "--format", "json"]))
    assert listed and all(row["status"] == "pending" for row in listed)
    top = listed[0]
    assert top["probability"] >= listed[-1]["probability"]
    shown = json.loads(
        _invoke(
            ["suggestions", "show", str(top["suggestion_id"]), "--store", str(matched), "--format", "json"]
        )
    )
    assert shown["suggestion_id"] == top["suggestion_id"]
    assert {"field", "value_l", "value_r", "level", "weight"} <= set(shown["evidence"][0])
    assert shown["identities_l"] and shown["identities_r"]
    text = _invoke(["suggestions", "show", str(top["suggestion_id"]), "--store", str(matched)])
    assert "Evidence" in text
    for suffix in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"suggestions.{suffix}"
        _invoke(["suggestions", "export", "--out", str(out), "--store", str(matched)])
        assert out.exists()
    jsonl = pl.read_ndjson(tmp_path / "suggestions.jsonl")
    assert jsonl.height >= len(listed) and jsonl.schema["identities_l"] == pl.List(pl.String)
    csv = pl.read_csv(tmp_path / "suggestions.csv")
    assert ":" in csv["identities_l"][0]
    _invoke(["customers", "export", "--out", str(tmp_path / "customers.csv"), "--store", str(matched)])
    assert pl.read_csv(tmp_path / "customers.csv").height == 102


def test_show_unknown_suggestion_fails(matched: Path) -> None:
    result = CliRunner().invoke(app, ["suggestions", "show", "999999", "--store", str(matched)])
    assert result.exit_code == 1


def test_evaluate_against_truth(tmp_path: Path, matched: Path) -> None:
    truth = tmp_path / "truth.csv"
    with open_store(matched) as store:
        keys = store.frame("SELECT channel, external_id FROM identities")
    keys.with_columns(
        pl.when(pl.col("external_id").str.contains("zoe|c-1"))
        .then(pl.lit("zoe"))
        .otherwise(pl.col("external_id"))
        .alias("entity_id")
    ).write_csv(truth)
    report = json.loads(
        _invoke(["evaluate", "--truth", str(truth), "--store", str(matched), "--format", "json"])
    )
    assert report["identities_matched_to_store"] == 102
    assert report["pairwise_best"]["recall"] == 1.0
    assert 0.0 <= report["clusters_at_review"]["bcubed_f1"] <= 1.0


def test_evaluate_counts_truth_records_missing_from_the_store_as_misses(
    tmp_path: Path, matched: Path
) -> None:
    truth = tmp_path / "truth.csv"
    with open_store(matched) as store:
        keys = store.frame("SELECT channel, external_id FROM identities")
    entity = pl.when(pl.col("external_id").str.contains("zoe|c-1")).then(pl.lit("zoe"))
    labelled = keys.with_columns(entity.otherwise(pl.col("external_id")).alias("entity_id"))
    # two more records of Zoe that never reached the store (quarantined, or never ingested)
    lost = pl.DataFrame(
        {
            "channel": ["sms", "whatsapp"],
            "external_id": ["+447700111222", "447700111222"],
            "entity_id": ["zoe", "zoe"],
        }
    )
    pl.concat([labelled, lost]).write_csv(truth)
    report = json.loads(
        _invoke(["evaluate", "--truth", str(truth), "--store", str(matched), "--format", "json"])
    )
    assert report["truth_records_missing_from_store"] == 2
    # Zoe's 4 records make 6 true pairs; the store can hold at most the one between its 2
    assert report["pairwise_best"]["recall"] <= 1 / 6 + 1e-9
    assert report["clusters_current_customers"]["pair_recall"] <= 1 / 6 + 1e-9
