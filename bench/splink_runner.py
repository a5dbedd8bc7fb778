"""Splink side of bench/match_bench.py and bench/quality_bench.py; runs in its own venv (bench/.venv-splink).

    bench/.venv-splink/bin/python bench/splink_runner.py IN.parquet OUT_DIR [--floor 0.8]

IN.parquet: unique_id plus the columns to compare (a `phone_tail` column, the last 9 digits of
the number as written, replaces phone_e164 in comparisons and blocking when present). Two schemas are recognised by their columns:
the contact-centre one (idres's normalized columns: first_name_norm, email_norm, phone_e164, ...)
and a CRM one (first_name, last_name, birth_date, address_1, suburb/city, postcode, state,
soc_sec_id, ...); the comparisons and blocking rules are built from the columns present, so one
generic configuration serves every data set. A `source_dataset` column makes it a link_only job
between its two values. Writes OUT_DIR/predictions.parquet (unique_id_l, unique_id_r,
match_probability, every pair at >= --floor), OUT_DIR/clusters.parquet (unique_id, cluster_id,
connected components at 0.8) and prints one JSON line of timings, peak RSS and the model summary.
A standard Splink 4/5 DuckDB setup: u by random sampling, the prior by deterministic rules, m by
EM per blocking rule, predict, connected components at 0.8.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from peak_rss import PeakRss  # a sibling module: this script runs from bench/ in the Splink venv

THRESHOLD = 0.8


def _contact(have: set[str]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    import splink.comparison_library as cl
    from splink import block_on

    # the last 9 digits of the number as written where given: the same number in national and
    # international spelling agrees even when the default region cannot place it
    phone = "phone_tail" if "phone_tail" in have else "phone_e164"
    candidates = [
        ("first_name_norm", lambda: cl.NameComparison("first_name_norm").configure(term_frequency_adjustments=True)),
        ("last_name_norm", lambda: cl.NameComparison("last_name_norm").configure(term_frequency_adjustments=True)),
        ("email_norm", lambda: cl.EmailComparison("email_norm")),
        (phone, lambda: cl.ExactMatch(phone).configure(term_frequency_adjustments=True)),
        ("screen_name_norm", lambda: cl.LevenshteinAtThresholds("screen_name_norm", [1, 2])),
        ("birth_date_norm", lambda: cl.DateOfBirthComparison("birth_date_norm", input_is_string=False)),
        ("postcode_norm", lambda: cl.PostcodeComparison("postcode_norm")),
        ("city_norm", lambda: cl.ExactMatch("city_norm").configure(term_frequency_adjustments=True)),
        ("company_norm", lambda: cl.JaroWinklerAtThresholds("company_norm", [0.9])),
        ("country_norm", lambda: cl.ExactMatch("country_norm")),
    ]  # fmt: skip
    comparisons = [make() for column, make in candidates if column in have]
    blocking = [
        block_on("email_key"),
        block_on(phone),
        block_on("screen_name_norm"),
        block_on("first_name_key", "last_name_key"),
        block_on("last_name_key", "substr(first_name_key, 1, 1)"),
        block_on("first_name_key", "birth_date_norm"),
        block_on("last_name_key", "postcode_norm"),
    ]
    prior = [
        block_on("email_key"),
        block_on(phone),
        block_on("first_name_key", "last_name_key", "birth_date_norm"),
    ]
    em = [block_on("email_key"), block_on("first_name_key", "last_name_key"), block_on(phone)]
    return comparisons, blocking, prior, em


def _crm(have: set[str]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """A careful generic person-record configuration (names, date of birth, address, identifiers)."""
    import splink.comparison_library as cl
    from splink import block_on

    candidates = [
        ("first_name", lambda: cl.NameComparison("first_name").configure(term_frequency_adjustments=True)),
        ("last_name", lambda: cl.NameComparison("last_name").configure(term_frequency_adjustments=True)),
        ("birth_date", lambda: cl.DateOfBirthComparison("birth_date", input_is_string=False)),
        ("soc_sec_id", lambda: cl.LevenshteinAtThresholds("soc_sec_id", [1, 2])),
        ("street_number", lambda: cl.ExactMatch("street_number").configure(term_frequency_adjustments=True)),
        ("address_1", lambda: cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8])),
        ("address_2", lambda: cl.JaroWinklerAtThresholds("address_2", [0.9, 0.8])),
        ("city", lambda: cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True)),
        ("postcode", lambda: cl.LevenshteinAtThresholds("postcode", [1]).configure(term_frequency_adjustments=True)),
        ("state", lambda: cl.ExactMatch("state").configure(term_frequency_adjustments=True)),
    ]  # fmt: skip
    comparisons = [make() for column, make in candidates if column in have]
    rules = [
        ("first_name", "last_name"),
        ("last_name", "birth_date"),
        ("first_name", "birth_date"),
        ("soc_sec_id",),
        ("postcode", "street_number"),
        ("birth_date", "postcode"),
        ("last_name", "postcode"),
    ]
    blocking = [block_on(*cols) for cols in rules if set(cols) <= have]
    # duplicates in CRM data carry a typo in one field or another, so the prior comes from rules
    # that tolerate any one of name, surname and birth date being wrong
    prior_rules = (
        ("first_name", "birth_date"),
        ("last_name", "birth_date"),
        ("first_name", "last_name", "postcode"),
    )
    prior = [block_on(*cols) for cols in prior_rules if set(cols) <= have]
    em_rules = (("first_name", "last_name"), ("birth_date",), ("postcode",), ("soc_sec_id",))
    em = [block_on(*cols) for cols in em_rules if set(cols) <= have]
    return comparisons, blocking, prior, em


def build(columns: list[str], link: bool) -> tuple[Any, list[Any], list[Any], float]:
    """SettingsCreator, prior rules, EM rules and the prior rules' assumed recall for the columns present."""
    from splink import SettingsCreator

    have = set(columns)
    comparisons, blocking, prior, em = (_contact if "email_norm" in have or "phone_e164" in have else _crm)(
        have
    )
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings, prior, em, 0.7 if "email_norm" in have or "phone_e164" in have else 0.8


def run(src: Path, out: Path, floor: float) -> dict[str, object]:
    """Train, predict and cluster; write predictions and clusters to `out`."""
    t0 = time.perf_counter()
    from splink import DuckDBAPI, Linker

    imported = time.perf_counter()
    with PeakRss() as rss:
        began = time.perf_counter()
        db_api = DuckDBAPI()
        table = pq.read_table(src)
        link = "source_dataset" in table.column_names
        settings, prior, em, recall = build(table.column_names, link)
        if link:
            import pyarrow.compute as pc

            names = sorted(set(table.column("source_dataset").to_pylist()))
            parts = [
                db_api.register(
                    table.filter(pc.equal(table.column("source_dataset"), name)).drop(["source_dataset"])
                )
                for name in names
            ]
            linker = Linker(parts, settings, log_level=logging.WARNING)
        else:
            linker = Linker(db_api.register(table), settings, log_level=logging.WARNING)
        t = {}
        mark = time.perf_counter()
        linker.training.estimate_probability_two_random_records_match(prior, recall=recall)
        t["prior_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=42)
        t["u_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        em_skipped = []
        for rule in em:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
            except ValueError as error:
                # Splink 5 refuses an m that underflows (a level this session's pairs never show,
                # seen on gen1-10k): that session is skipped, the others' estimates stand, as a data
                # engineer would do after reading the error
                em_skipped.append(f"{rule}: {str(error).splitlines()[0][:200]}")
        t["em_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        pred = linker.inference.predict(threshold_match_probability=min(floor, THRESHOLD))
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
        "link_type": "link_only" if link else "dedupe_only",
        "import_s": round(imported - t0, 2),
        "total_s": round(total, 2),
        **{k: round(v, 2) for k, v in t.items()},
        "predicted_pairs": pq.read_metadata(out / "predictions.parquet").num_rows,
        "peak_rss_mb": round(rss.peak / 2**20),
        "rss_before_mb": round(rss.start / 2**20),
        "lambda": linker._settings_obj._probability_two_random_records_match,
        "em_sessions_skipped": em_skipped,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--floor", type=float, default=THRESHOLD, help="lowest match probability written")
    args = parser.parse_args()
    print(json.dumps(run(args.src, args.out, args.floor)))
