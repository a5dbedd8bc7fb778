"""`idres evaluate` against a ground truth on a matched store (`idres match` runs the flow: tests/flows)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from store import open_store
from tests.idres.cli.invoke import invoke


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
        invoke(["evaluate", "--truth", str(truth), "--store", str(matched), "--format", "json"])
    )
    assert report["identities_matched_to_store"] == 102
    assert report["pairwise_best"]["recall"] == 1.0
    assert 0.0 <= report["clusters_at_review"]["bcubed_f1"] <= 1.0
    # the reliability table scores the suggestions' pairs only, every one in exactly one band
    reliability = report["calibration"]
    assert reliability["pairs"] == sum(band["pairs"] for band in reliability["bands"]) > 0
    assert 0.0 <= reliability["expected_calibration_error"] <= 1.0


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
        invoke(["evaluate", "--truth", str(truth), "--store", str(matched), "--format", "json"])
    )
    assert report["truth_records_missing_from_store"] == 2
    # Zoe's 4 records make 6 true pairs; the store can hold at most the one between its 2
    assert report["pairwise_best"]["recall"] <= 1 / 6 + 1e-9
    assert report["clusters_current_customers"]["pair_recall"] <= 1 / 6 + 1e-9
