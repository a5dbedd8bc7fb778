import json

import numpy as np
import polars as pl
import pytest

from matching import MatchConfig, ModelParameters, run_match
from matching.evaluate import cluster_scores, clusters_from_pairs, label_pairs, threshold_sweep
from tests.matching.idframes import filler, labelled, make_identities


def test_model_separates_true_matches_on_labelled_set():
    rows, truth = labelled()
    res = run_match(make_identities(rows), MatchConfig())
    lab = label_pairs(res.pairs, pl.DataFrame({"identity_id": list(truth), "entity": list(truth.values())}))
    matches = lab.filter(pl.col("is_match")).get_column("match_probability")
    others = lab.filter(~pl.col("is_match")).get_column("match_probability")
    assert matches.median() > 0.9
    assert others.median() < 0.1
    assert res.model.lambda_ > 0
    params = res.model.by_name()
    first = params["first_name"]
    # m/u sensible: exact agreement far likelier among matches, disagreement likelier among non-matches
    assert first.m[first.levels.index("exact")] > 10 * first.u[first.levels.index("exact")]
    assert first.m[first.levels.index("different")] < first.u[first.levels.index("different")]
    # JSON round trip
    again = ModelParameters.from_dict(json.loads(json.dumps(res.model.to_dict())))
    assert again == res.model


def test_rule_counts_report_pairs_and_new_pairs():
    rows, _ = labelled(60)
    res = run_match(make_identities(rows), MatchConfig())
    counts = res.rule_counts
    assert set(counts.columns) == {"rule", "pairs", "new_pairs", "oversize_blocks_skipped", "largest_block"}
    assert counts.get_column("new_pairs").sum() == res.pairs.height
    assert (counts.get_column("new_pairs") <= counts.get_column("pairs")).all()


def test_oversize_blocks_are_skipped_and_reported():
    rows = [{"phone_e164": "+442079460000", "first_name_norm": f"p{i}"} for i in range(12)]
    res = run_match(make_identities(rows + filler(30)), MatchConfig(max_block_size=5))
    phone = res.rule_counts.filter(pl.col("rule") == "phone")
    assert phone.get_column("oversize_blocks_skipped").item() == 1
    assert phone.get_column("pairs").item() == 0


def test_common_name_weighs_less_than_rare_name():
    common = [{"first_name_norm": "john", "last_name_norm": "smith", "city_norm": f"c{i}"} for i in range(12)]
    rare = [
        {"first_name_norm": "zebulon", "last_name_norm": "quarrington"},
        {"first_name_norm": "zebulon", "last_name_norm": "quarrington"},
    ]
    df = make_identities(common + rare + filler(40))
    res = run_match(df, MatchConfig())
    rare_pair = res.pairs.filter(
        pl.col("identity_id_l").is_in([13, 14]) & pl.col("identity_id_r").is_in([13, 14])
    )
    smith = res.pairs.filter(pl.col("identity_id_l") <= 12).filter(pl.col("identity_id_r") <= 12)
    assert rare_pair.get_column("last_name_level").cast(pl.String).item() == "exact"
    assert smith.get_column("last_name_weight").max() < rare_pair.get_column("last_name_weight").item() - 2


def test_shared_value_is_demoted_and_flagged_related():
    family = [
        {"first_name_norm": n, "last_name_norm": "okafor", "phone_e164": "+447700900555", "external_id": n}
        for n in ("amara", "chidi", "ngozi")
    ]
    res = run_match(make_identities(family + filler(40)), MatchConfig())
    fam = res.pairs.filter((pl.col("identity_id_l") <= 3) & (pl.col("identity_id_r") <= 3))
    assert fam.height == 3
    assert (fam.get_column("phone_level").cast(pl.String) == "shared").all()
    assert (fam.get_column("phone_weight") == 0).all()
    assert fam.get_column("related_only").all()
    assert fam.get_column("related_reason").str.contains("phone").all()
    sugg = res.suggestions.filter(pl.col("related_only"))
    assert sugg.height == 3 and (sugg.get_column("band") == "below").all()


def test_excluded_customers_take_no_part():
    rows, _ = labelled(40)
    df = make_identities(rows)
    res = run_match(df, MatchConfig(), excluded_customer_ids=[1, 2, 3])
    used = set(res.pairs.get_column("customer_id_l")) | set(res.pairs.get_column("customer_id_r"))
    assert not used & {1, 2, 3}


def test_incremental_scores_only_changed_pairs_like_a_full_run():
    rows, _ = labelled(120)
    df = make_identities(rows)
    full = run_match(df, MatchConfig())
    changed = [5, 6, 77]
    inc = run_match(df, MatchConfig(), changed_ids=pl.Series(changed), model=full.model.to_dict())
    assert inc.pairs.height > 0
    touches = pl.col("identity_id_l").is_in(changed) | pl.col("identity_id_r").is_in(changed)
    assert inc.pairs.filter(~touches).height == 0
    key = ["identity_id_l", "identity_id_r"]
    expect = full.pairs.filter(touches).sort(key)
    got = inc.pairs.sort(key)
    assert got.select(key).equals(expect.select(key))
    assert np.allclose(got.get_column("match_probability"), expect.get_column("match_probability"))


def test_customer_level_takes_best_pair_and_skips_same_customer():
    # three channels: two clusters sharing one would lower the suggestion (matching/conflicts.py)
    rows = [
        {
            "customer_id": 10,
            "channel": "email",
            "first_name_norm": "jordan",
            "last_name_norm": "berrington",
            "email_norm": "jb@x.com",
        },
        {
            "customer_id": 10,
            "channel": "sms",
            "first_name_norm": "jordan",
            "last_name_norm": "berrington",
            "phone_e164": "+447700900001",
        },
        {
            "customer_id": 20,
            "channel": "whatsapp",
            "first_name_norm": "jordan",
            "last_name_norm": "berrington",
            "email_norm": "jb@x.com",
            "phone_e164": "+447700900001",
        },
    ]
    res = run_match(make_identities(rows + filler(40)), MatchConfig())
    assert res.pairs.filter(pl.col("customer_id_l") == pl.col("customer_id_r")).height == 0
    s = res.suggestions.filter((pl.col("customer_id_l") == 10) & (pl.col("customer_id_r") == 20))
    assert s.height == 1
    best = res.pairs.filter(pl.col("customer_id_l").is_in([10, 20]) & pl.col("customer_id_r").is_in([10, 20]))
    assert s.get_column("probability").item() == best.get_column("match_probability").max()
    evidence = json.loads(s.get_column("evidence").item())
    assert {e["field"] for e in evidence} >= {"first_name", "last_name"}
    assert len(s.get_column("evidence_hash").item()) == 24
    assert s.get_column("band").item() == "review"


def test_evaluate_scores():
    rows, truth = labelled(80)
    df = make_identities(rows)
    res = run_match(df, MatchConfig())
    t = pl.DataFrame({"identity_id": list(truth), "entity": list(truth.values())})
    sweep = threshold_sweep(res.pairs, t)
    assert sweep.get_column("f1").max() > 0.8
    clusters = clusters_from_pairs(df.get_column("identity_id"), res.pairs, 0.8)
    scores = cluster_scores(clusters, t)
    assert scores["bcubed_f1"] > 0.8 and scores["pair_precision"] > 0.9
    perfect = cluster_scores(t.rename({"entity": "cluster"}), t)
    assert perfect["bcubed_f1"] == 1.0 and perfect["pair_f1"] == 1.0


def test_cluster_scores_stay_within_bounds_on_unordered_ids() -> None:
    """Regression: B-cubed once paired counts from differently ordered joins and exceeded 1."""
    rng = np.random.default_rng(3)
    ids = rng.permutation(np.arange(1, 2001))
    truth = pl.DataFrame({"identity_id": ids, "entity": rng.integers(0, 300, 2000)})
    clusters = pl.DataFrame({"identity_id": ids[::-1].copy(), "cluster": rng.integers(0, 400, 2000)})
    scores = cluster_scores(clusters, truth)
    for name in ("bcubed_precision", "bcubed_recall", "bcubed_f1"):
        assert 0.0 <= scores[name] <= 1.0, (name, scores[name])
    # hand check on a tiny case: clusters {1,2},{3} against entities {1},{2,3}
    tiny = cluster_scores(
        pl.DataFrame({"identity_id": [3, 1, 2], "cluster": [9, 5, 5]}),
        pl.DataFrame({"identity_id": [2, 3, 1], "entity": [7, 7, 6]}),
    )
    assert tiny["bcubed_precision"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert tiny["bcubed_recall"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_a_foreign_national_phone_matches_its_international_form() -> None:
    # the normalized frame as ingest leaves it for an identity with no country: no E.164 for
    # 06 12 34 56 78 (never a fabricated +44612345678), the raw number kept
    rows = [
        {"phone": "06 12 34 56 78", "phone_e164": None, "first_name_norm": "marie", "channel": "sms"},
        {"phone": "+33 6 12 34 56 78", "phone_e164": "+33612345678", "first_name_norm": "marie"},
    ]
    frame = make_identities(rows + filler(60)).with_columns(
        pl.Series("phone", [r.get("phone") for r in rows] + [None] * 60, dtype=pl.String)
    )
    res = run_match(frame, MatchConfig())
    pair = res.pairs.filter((pl.col("identity_id_l") == 1) & (pl.col("identity_id_r") == 2))
    assert pair.height == 1
    assert pair.get_column("phone_level").cast(pl.String).item() == "national"
    assert pair.get_column("phone_weight").item() > 0


def test_a_value_held_by_many_customers_is_one_finding_not_a_suggestion_per_pair() -> None:
    # 40 customers write from one shop inbox and switchboard; pairs of them share a full name too
    surnames = ["quill", "marsh", "brook", "flint", "stone", "moss", "hale", "fenn", "reed", "ash"]
    rows = [
        {
            "first_name_norm": ["ada", "bea", "cal", "dov"][i % 4],
            "last_name_norm": surnames[(i // 4) % 10],
            "email_norm": "info@shop.example",
            "phone_e164": "+442079460000",
        }
        for i in range(40)
    ]
    res = run_match(make_identities(rows + filler(40)), MatchConfig())
    shop = res.pairs.filter((pl.col("identity_id_l") <= 40) & (pl.col("identity_id_r") <= 40))
    assert shop.height > 0
    assert (shop.get_column("email_level").cast(pl.String) == "shared").all()
    assert not res.suggestions.get_column("related_only").any()
    found = {(r["field"], r["customers"]) for r in res.shared_values.iter_rows(named=True)}
    assert found == {("email", 40), ("phone", 40)}
    assert any("held by 40 customers" in note for note in res.notes)


def test_cluster_scores_count_identities_in_no_cluster_as_singletons() -> None:
    truth = pl.DataFrame({"identity_id": [1, 2, 3, -1], "entity": ["a", "a", "b", "a"]})
    for clusters in (
        pl.DataFrame({"identity_id": [1, 2, 3], "cluster": [1, 1, 2]}),
        pl.DataFrame({"identity_id": [1, 2, 3], "cluster": ["x", "x", "y"]}),
    ):
        scores = cluster_scores(clusters, truth)
        # entity a has 3 records (one never ingested: id -1): 1 of its 3 pairs is found
        assert abs(scores["pair_recall"] - 1 / 3) < 1e-9
        assert scores["pair_precision"] == 1.0
