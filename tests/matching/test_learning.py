"""Learning from agents' decisions: label shifts, their robustness, the informative-first order."""

from __future__ import annotations

import itertools
import json

import numpy as np
import polars as pl
import pytest

from matching import MatchConfig, ModelParameters, run_match
from matching.comparisons import Levels
from matching.config import default_comparisons
from matching.evaluate import cluster_scores, clusters_from_pairs
from matching.learning import (
    LEVEL_CAP_BITS,
    informative_first,
    latest_labels,
    learn_from_labels,
    stored_levels,
)
from matching.model import ComparisonParams


def _params() -> list[ComparisonParams]:
    # one comparison: missing (neutral), exact, close, different; exact +3 bits, close +1, different -3
    return [
        ComparisonParams(
            "email",
            ["missing", "exact", "close", "different"],
            [0.0, 0.8, 0.1, 0.1],
            [0.0, 0.1, 0.05, 0.8],
            [True, False, False, False],
        )
    ]


def _confident_params() -> list[ComparisonParams]:
    # exact +8.2 bits, close +3.2, different -6.6: a model sure of both ends
    return [
        ComparisonParams(
            "email",
            ["missing", "exact", "close", "different"],
            [0.0, 0.9, 0.09, 0.01],
            [0.0, 0.003, 0.01, 0.987],
            [True, False, False, False],
        )
    ]


def _levels(codes: list[int]) -> list[Levels]:
    return [
        Levels(
            "email",
            ["missing", "exact", "close", "different"],
            [True, False, False, False],
            np.asarray(codes, dtype=np.int8),
        )
    ]


def _weights(fit_comparisons: list[ComparisonParams]) -> np.ndarray:
    return fit_comparisons[0].log2_bf()


def test_no_labels_leave_the_model_unchanged() -> None:
    fit = learn_from_labels(_levels([]), np.zeros(0, bool), np.zeros(0), _params(), prior_bits=-10.0)
    assert fit.labels_used == 0 and fit.prior_shift == 0.0
    assert np.allclose(_weights(fit.comparisons), _weights(_params()))


def test_labels_raise_an_underweighted_level_and_keep_the_levels_in_order() -> None:
    # pairs at "close" (model: -9 bits total) are matches in 60 of 60 decisions
    codes = [2] * 60 + [3] * 60
    y = np.array([True] * 60 + [False] * 60)
    fit = learn_from_labels(_levels(codes), y, np.ones(120), _params(), prior_bits=-10.0)
    before, after = _weights(_params()), _weights(fit.comparisons)
    assert after[2] > before[2] + 0.5  # "close" learnt to weigh more
    assert fit.prior_shift > 0  # the prior was too low for these pairs
    active = after[1:]
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(active))  # monotone
    assert after[3] <= 0.0  # disagreement never adds weight
    assert np.all(np.abs(np.asarray(fit.comparisons[0].shifts())) <= LEVEL_CAP_BITS + 1e-9)
    assert fit.agreement_after is not None and fit.agreement_before is not None
    assert fit.agreement_after > fit.agreement_before


def _totals(fit) -> np.ndarray:  # type: ignore[no-untyped-def]
    """log2 odds of an exact, close and different pair under the fit."""
    return _weights(fit.comparisons)[1:] + fit.prior_shift


def test_a_few_wrong_decisions_do_not_swing_a_weight() -> None:
    # 200 decisions the model agrees with (exact: match, different: non-match) ...
    codes = [1] * 100 + [3] * 100
    y = np.array([True] * 100 + [False] * 100)
    right = learn_from_labels(_levels(codes), y, np.ones(200), _confident_params(), prior_bits=0.0)
    # ... and the same with 5% of them wrong: 5 exact pairs rejected, 5 different pairs approved
    wrong = y.copy()
    wrong[:5] = False
    wrong[100:105] = True
    noisy = learn_from_labels(_levels(codes), wrong, np.ones(200), _confident_params(), prior_bits=0.0)
    moved = np.abs(_totals(noisy) - _totals(right)).max()
    assert moved < 1.0, moved
    assert noisy.contradicted >= 8  # the wrong ones are reported as contradicted
    # every pattern stays on its side of the review threshold (0.8: +2 bits)
    assert np.array_equal(_totals(noisy) >= 2.0, _totals(right) >= 2.0)
    # 10 wrong decisions alone against a confident model
    alone = learn_from_labels(_levels([1] * 10), np.zeros(10, bool), np.ones(10), _confident_params(), 0.0)
    assert np.abs(_totals(alone) - _weights(_confident_params())[1:]).max() < 1.0


def test_labels_cannot_move_a_weight_beyond_the_cap() -> None:
    codes = [3] * 5000  # "different" decided a match 5,000 times
    fit = learn_from_labels(_levels(codes), np.ones(5000, bool), np.ones(5000), _params(), prior_bits=0.0)
    shifts = np.asarray(fit.comparisons[0].shifts())
    assert np.all(np.abs(shifts) <= LEVEL_CAP_BITS + 1e-9)
    assert _weights(fit.comparisons)[3] <= 0.0


def test_latest_decision_on_a_pair_wins() -> None:
    labels = pl.DataFrame(
        {"identity_id_l": [1, 2, 5], "identity_id_r": [2, 1, 6], "is_match": [True, False, True]}
    )
    out = latest_labels(labels)  # approve 1-2, then undo (2-1, the same pair): a non-match
    assert out.sort("identity_id_l").to_dicts() == [
        {"identity_id_l": 1, "identity_id_r": 2, "is_match": False, "weight": 1.0},
        {"identity_id_l": 5, "identity_id_r": 6, "is_match": True, "weight": 1.0},
    ]


def test_informative_first_takes_uncertain_pairs_of_every_rule_in_turn() -> None:
    s = pl.DataFrame(
        {
            "suggestion_id": [1, 2, 3, 4, 5],
            "rule": ["email", "email", "email", "phone", "phone"],
            "match_weight": [12.0, 0.5, -1.0, 9.0, 3.0],
        }
    )
    order = informative_first(s).get_column("suggestion_id").to_list()
    assert order == [2, 5, 3, 4, 1]


def test_stored_levels_are_used_only_when_they_fit_the_model() -> None:
    labels = pl.DataFrame(
        {
            "identity_id_l": [1, 3, 5],
            "identity_id_r": [2, 4, 6],
            "is_match": [True, False, True],
            "weight": [1.0, 1.0, 1.0],
            "levels": [json.dumps({"email": "exact"}), json.dumps({"email": "fuzzy_92"}), None],
        }
    )
    kept, levels, dropped = stored_levels(labels, _params())
    assert kept.get_column("identity_id_l").to_list() == [1]
    assert levels[0].levels.tolist() == [1]
    assert dropped == 2


# ------------------------------------------------------------------ engine, on generated data
@pytest.fixture(scope="module")
def channel_sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    from data.generator import generate
    from domain.settings import IngestSettings
    from ingest.normalize import normalize_identities
    from ingest.read import attributes_from_external_id

    sample = generate(3000, seed=11)
    raw = sample.identities.with_columns(attributes_from_external_id(IngestSettings()))
    frame = normalize_identities(raw).with_row_index("identity_id", offset=1)
    frame = frame.with_columns(
        pl.col("identity_id").cast(pl.Int64), pl.col("identity_id").cast(pl.Int64).alias("customer_id")
    )
    truth = frame.select("identity_id", "channel", "external_id").join(
        sample.truth, on=["channel", "external_id"], how="left"
    )
    return frame, truth.select("identity_id", pl.col("entity_id").fill_null("none").alias("entity"))


def _truth_labels(pairs: pl.DataFrame, truth: pl.DataFrame, k: int) -> pl.DataFrame:
    entity = dict(truth.iter_rows())
    picked = pairs.head(k)
    left = picked.get_column("identity_id_l").to_list()
    right = picked.get_column("identity_id_r").to_list()
    return pl.DataFrame(
        {
            "identity_id_l": left,
            "identity_id_r": right,
            "is_match": [entity[a] == entity[b] for a, b in zip(left, right, strict=True)],
        }
    )


def _cluster_f1(result, truth: pl.DataFrame, frame: pl.DataFrame) -> float:  # type: ignore[no-untyped-def]
    clusters = clusters_from_pairs(frame.get_column("identity_id"), result.pairs, 0.8)
    return cluster_scores(clusters, truth)["pair_f1"]


def test_run_without_labels_is_the_unsupervised_run(channel_sample) -> None:  # type: ignore[no-untyped-def]
    frame, _ = channel_sample
    plain = run_match(frame, MatchConfig())
    empty = run_match(frame, MatchConfig(), labels=pl.DataFrame(schema={"identity_id_l": pl.Int64,
                      "identity_id_r": pl.Int64, "is_match": pl.Boolean}))  # fmt: skip
    assert plain.model == empty.model
    assert plain.model.prior_shift == 0.0 and plain.model.labels == {}
    assert plain.pairs.equals(empty.pairs)
    assert not any("learned from" in note for note in plain.notes)


def test_decisions_on_uncertain_pairs_improve_the_clusters(channel_sample) -> None:  # type: ignore[no-untyped-def]
    frame, truth = channel_sample
    config = MatchConfig()
    plain = run_match(frame, config)
    pool = plain.suggestions.filter(pl.col("band").is_in(["review", "possible"]))
    labels = _truth_labels(informative_first(pool), truth, 150)
    learned = run_match(frame, config, labels=labels)
    assert learned.model.labels["labels"] == labels.height
    assert any("learned from 150 labelled pairs" in note for note in learned.notes)
    assert _cluster_f1(learned, truth, frame) > _cluster_f1(plain, truth, frame) + 0.02
    # the weights moved per level, the unsupervised ones are kept beside them for the report
    table = learned.model.weights_table()
    assert (table.get_column("weight") != table.get_column("weight_unsupervised")).any()
    again = ModelParameters.from_dict(json.loads(json.dumps(learned.model.to_dict())))
    assert again == learned.model
    # each pair's field weights are the learned level weights, and they add up to its match weight
    # (with the cluster evidence's part, matching/clusters.py)
    pairs = learned.pairs
    names = [c.name for c in learned.model.comparisons] + ["cluster"]
    added = pairs.select(pl.sum_horizontal([pl.col(f"{n}_weight") for n in names])).to_series().to_numpy()
    prior = learned.model.prior_bits(frame.height)
    assert np.allclose(added + prior, pairs.get_column("match_weight").to_numpy(), atol=1e-3)
    city = learned.model.by_name()["city"]
    for level in ("different",):
        got = pairs.filter(pl.col("city_level") == level).get_column("city_weight")
        assert got.len() and np.allclose(got.to_numpy(), city.log2_bf()[city.levels.index(level)], atol=1e-4)


def test_labels_are_rescored_under_a_changed_configuration(channel_sample) -> None:  # type: ignore[no-untyped-def]
    frame, truth = channel_sample
    plain = run_match(frame, MatchConfig())
    labels = _truth_labels(informative_first(plain.suggestions), truth, 80)
    # a changed configuration: no company comparison, a stricter city one
    comparisons = [c for c in default_comparisons() if c.name != "company"]
    for c in comparisons:
        if c.name == "city":
            c.thresholds = [0.97]
    changed = MatchConfig(comparisons=comparisons)
    learned = run_match(frame, changed, labels=labels, model=plain.model)
    assert any("does not fit" in note for note in learned.notes)  # the old model was refitted
    assert learned.model.labels["labels"] == 80  # every label re-compared, none thrown away
    assert "company" not in learned.model.by_name()
    assert any(c.shift for c in learned.model.comparisons)


def test_labels_of_identities_not_in_the_frame_fall_back_to_their_stored_levels(channel_sample) -> None:  # type: ignore[no-untyped-def]
    frame, _truth = channel_sample
    plain = run_match(frame, MatchConfig())
    good = json.dumps({"email": "exact", "first_name": "exact"})
    labels = pl.DataFrame(
        {
            "identity_id_l": [900_001, 900_003],
            "identity_id_r": [900_002, 900_004],
            "is_match": [True, True],
            "levels": [good, json.dumps({"email": "no_such_level"})],
        }
    )
    learned = run_match(frame, MatchConfig(), labels=labels, model=plain.model)
    assert learned.model.labels["labels"] == 1
    assert learned.model.labels["not_usable"] == 1
