"""Splink side of bench/match_bench.py; runs in its own venv (bench/.venv-splink), never imported by idres.

    bench/.venv-splink/bin/python bench/splink_runner.py IN.parquet OUT_DIR

IN.parquet: the normalized identities (unique_id = identity_id). Writes OUT_DIR/predictions.parquet
(unique_id_l, unique_id_r, match_probability, pairs at >= 0.8), OUT_DIR/clusters.parquet
(unique_id, cluster_id at 0.8) and prints one JSON line of timings, peak RSS and the model summary.
A standard Splink 4/5 DuckDB setup: u by random sampling, the prior by deterministic rules,
m by EM per blocking rule, predict at 0.8, connected components at 0.8.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from peak_rss import PeakRss  # a sibling module: this script runs from bench/ in the Splink venv

THRESHOLD = 0.8


def settings():  # type: ignore[no-untyped-def]
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name_norm").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name_norm").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email_norm"),
            cl.ExactMatch("phone_e164").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("screen_name_norm", [1, 2]),
            cl.DateOfBirthComparison("birth_date_norm", input_is_string=False),
            cl.PostcodeComparison("postcode_norm"),
            cl.ExactMatch("city_norm").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("company_norm", [0.9]),
            cl.ExactMatch("country_norm"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email_key"),
            block_on("phone_e164"),
            block_on("screen_name_norm"),
            block_on("first_name_key", "last_name_key"),
            block_on("last_name_key", "substr(first_name_key, 1, 1)"),
            block_on("first_name_key", "birth_date_norm"),
            block_on("last_name_key", "postcode_norm"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run(src: Path, out: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    from splink import DuckDBAPI, Linker, block_on

    imported = time.perf_counter()
    with PeakRss() as rss:
        began = time.perf_counter()
        db_api = DuckDBAPI()
        table = pq.read_table(src)
        df = db_api.register(table)
        linker = Linker(df, settings(), log_level=logging.WARNING)
        t = {}
        mark = time.perf_counter()
        linker.training.estimate_probability_two_random_records_match(
            [
                block_on("email_key"),
                block_on("phone_e164"),
                block_on("first_name_key", "last_name_key", "birth_date_norm"),
            ],
            recall=0.7,
        )
        t["prior_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=42)
        t["u_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for rule in (
            block_on("email_key"),
            block_on("first_name_key", "last_name_key"),
            block_on("phone_e164"),
        ):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        t["em_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        pred = linker.inference.predict(threshold_match_probability=THRESHOLD)
        t["predict_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, THRESHOLD)
        t["cluster_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        pred.as_duckdbpyrelation().select("unique_id_l, unique_id_r, match_probability").write_parquet(
            str(out / "predictions.parquet")
        )
        clusters.as_duckdbpyrelation().select("unique_id, cluster_id").write_parquet(
            str(out / "clusters.parquet")
        )
        t["fetch_s"] = time.perf_counter() - mark
        total = time.perf_counter() - began
    import splink

    return {
        "splink_version": splink.__version__,
        "import_s": round(imported - t0, 2),
        "total_s": round(total, 2),
        **{k: round(v, 2) for k, v in t.items()},
        "predicted_pairs": pq.read_metadata(out / "predictions.parquet").num_rows,
        "peak_rss_mb": round(rss.peak / 2**20),
        "rss_before_mb": round(rss.start / 2**20),
        "lambda": linker._settings_obj._probability_two_random_records_match,
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]))))
