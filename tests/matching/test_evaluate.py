"""Reliability of probabilities (matching.evaluate.calibration)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from matching.evaluate import calibration


def _pairs_and_truth(prob: np.ndarray, true: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pair k joins identities 2k and 2k+1, one entity when true[k], two otherwise."""
    n = len(prob)
    left, right = np.arange(n) * 2, np.arange(n) * 2 + 1
    pairs = pl.DataFrame({"identity_id_l": left, "identity_id_r": right, "match_probability": prob})
    entity_r = np.where(true, left, right)
    truth = pl.DataFrame(
        {"identity_id": np.concatenate([left, right]), "entity": np.concatenate([left, entity_r])}
    )
    return pairs, truth


def test_hand_counted_bands() -> None:
    prob = np.array([0.1, 0.1, 0.85, 0.85, 1.0])
    true = np.array([False, False, True, False, True])
    result = calibration(*_pairs_and_truth(prob, true), edges=(0.0, 0.5, 0.9, 1.0))
    bands = {(b["from"], b["to"]): b for b in result["bands"]}
    assert bands[(0.0, 0.5)]["pairs"] == 2 and bands[(0.0, 0.5)]["true_share"] == 0.0
    assert bands[(0.5, 0.9)]["pairs"] == 2 and bands[(0.5, 0.9)]["true_share"] == 0.5
    # p == 1 belongs to the last band, not past it
    assert bands[(0.9, 1.0)]["pairs"] == 1 and bands[(0.9, 1.0)]["true_share"] == 1.0
    expected_gap = (2 * 0.1 + 2 * abs(0.85 - 0.5) + 0.0) / 5
    assert result["expected_calibration_error"] == pytest.approx(expected_gap)
    assert result["brier"] == pytest.approx(float(((prob - true) ** 2).mean()))


def test_calibrated_scores_have_a_small_error_and_overconfident_ones_a_large_one() -> None:
    rng = np.random.default_rng(11)
    prob = rng.uniform(0, 1, 20_000)
    calibrated = rng.uniform(0, 1, prob.size) < prob
    overconfident = rng.uniform(0, 1, prob.size) < prob / 2
    good = calibration(*_pairs_and_truth(prob, calibrated))
    bad = calibration(*_pairs_and_truth(prob, overconfident))
    assert good["expected_calibration_error"] < 0.03
    assert bad["expected_calibration_error"] > 0.2
    top = [b for b in bad["bands"] if b["from"] >= 0.9]
    assert all(b["true_share"] < b["mean_probability"] - 0.3 for b in top)
    assert sum(b["pairs"] for b in good["bands"]) == good["pairs"] == prob.size
