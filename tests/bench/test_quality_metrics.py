"""The quality benchmark's metrics on handcrafted clusterings with known scores."""

from __future__ import annotations

import math

import polars as pl
import pytest

from bench.quality_metrics import best_threshold, exact_key_clusters, recall_by_shared_key, scorecard

# entities: A = {1, 2, 3}, B = {4, 5}, C = {6}
TRUTH = pl.DataFrame({"identity_id": [1, 2, 3, 4, 5, 6], "entity": ["A", "A", "A", "B", "B", "C"]})
# the tool's clusters: {1, 2}, {3, 4, 5}, {6}
CLUSTERS = pl.DataFrame({"identity_id": [1, 2, 3, 4, 5, 6], "cluster": [1, 1, 3, 3, 3, 6]})
PAIRS = pl.DataFrame(
    {
        "identity_id_l": [1, 3, 4, 1],
        "identity_id_r": [2, 4, 5, 3],
        "match_probability": [0.9, 0.85, 0.5, 0.3],
    }
)


def test_cluster_pair_and_bcubed_scores_of_a_handcrafted_clustering() -> None:
    card = scorecard(None, CLUSTERS, TRUTH, 1.0)
    # 4 true pairs (1-2, 1-3, 2-3, 4-5), 4 clustered pairs (1-2, 3-4, 3-5, 4-5), 2 of them right
    assert card["cluster_precision"] == card["cluster_recall"] == card["cluster_f1"] == 0.5
    # B-cubed precision and recall are both (1 + 1 + 1/3 + 2/3 + 2/3 + 1) / 6 = 7/9
    assert card["bcubed_f1"] == pytest.approx(7 / 9, abs=1e-4)
    assert card["best_threshold"] is None  # a clustering alone has no scores to sweep


def test_pairwise_at_the_default_and_at_the_best_threshold() -> None:
    card = scorecard(PAIRS, CLUSTERS, TRUTH, 0.8)
    # at 0.8: 1-2 (right) and 3-4 (wrong) of 4 true pairs
    assert (card["precision"], card["recall"]) == (0.5, 0.25)
    # at 0.3 and below: 1-2, 4-5, 1-3 right, 3-4 wrong -> P = R = 3/4; ties go to the highest threshold
    assert card["best_threshold"] == 0.3
    assert card["best_f1"] == 0.75
    # a calibrated tool's best threshold would be half its best F1
    assert card["calibrated_best_threshold"] == pytest.approx(0.375)
    # reliability: 0.9 and 0.85 (one right, one wrong) in the top bands, 0.5 (right), 0.3 (right)
    top = [b for b in card["calibration_bands"] if b["from"] >= 0.8]
    assert sum(b["pairs"] for b in top) == 2
    assert card["ece"] == pytest.approx((0.1 + 0.85 + 0.5 + 0.7) / 4, abs=1e-4)


def test_a_record_the_tool_never_saw_counts_as_a_miss() -> None:
    truth = pl.concat([TRUTH, pl.DataFrame({"identity_id": [7], "entity": ["B"]})])
    card = scorecard(PAIRS, CLUSTERS, truth, 0.3)
    # B = {4, 5, 7} now has 3 pairs: 6 true pairs, still 3 found
    assert card["recall"] == 0.5
    assert card["cluster_recall"] == pytest.approx(2 / 6, abs=1e-4)


def test_best_threshold_of_no_pairs() -> None:
    empty = PAIRS.head(0)
    best = best_threshold(empty, TRUTH)
    assert best["f1"] == 0.0 and math.isnan(best["threshold"])


def test_exact_keys_link_email_phone_tail_nickname_and_handle() -> None:
    records = pl.DataFrame(
        {
            "rid": [1, 2, 3, 4, 5, 6, 7],
            "email_key": ["a@x.com", "a@x.com", None, None, None, None, None],
            "phone": [None, "+44 7700 900123", "07700900123", None, None, None, "123"],
            "first_name_key": [None, None, None, "bob", "robert", None, None],
            "last_name_key": [None, None, None, "smith", "smith", None, None],
            "screen_name_norm": [None, None, None, None, None, "zed", "zed"],
        }
    )
    clusters = exact_key_clusters(records)
    groups = clusters.group_by("cluster").agg(pl.col("identity_id").sort()).get_column("identity_id")
    # short phone "123" is no key; the handle links 6 and 7
    assert sorted(g.to_list() for g in groups) == [[1, 2, 3], [4, 5], [6, 7]]


def test_recall_by_shared_key_groups_true_pairs_by_the_evidence_they_share() -> None:
    records = pl.DataFrame(
        {
            "rid": [1, 2, 3, 4, 5, 6],
            "email_key": ["a@x.com", "a@x.com", None, None, None, None],
            "phone": [None, None, None, None, "07700900123", "+447700900123"],
            "first_name_key": ["ann", "ann", None, None, None, None],
            "last_name_key": ["lee", "lee", None, None, None, None],
            "screen_name_norm": [None, None, None, None, None, None],
        }
    )
    truth = pl.DataFrame({"identity_id": [1, 2, 3, 4, 5, 6], "entity": ["A", "A", "B", "B", "C", "C"]})
    found = pl.DataFrame({"identity_id": [1, 2, 3, 4, 5, 6], "cluster": [1, 1, 3, 4, 5, 6]})
    groups = recall_by_shared_key(records, truth, {"tool": found})
    # 1-2 share email and name; 3-4 nothing; 5-6 only the phone's last 9 digits
    assert groups == {
        "several keys": {"pairs": 1, "tool": 1.0},
        "no shared key": {"pairs": 1, "tool": 0.0},
        "phone only": {"pairs": 1, "tool": 0.0},
    }
