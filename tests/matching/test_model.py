"""m/u estimation: smoothing, floors and monotone level weights."""

import itertools

import numpy as np
import polars as pl

from matching import MatchConfig, ModelParameters, run_match
from matching.comparisons import Levels
from matching.model import ComparisonParams, estimate_u, fit, monotone
from tests.matching.idframes import filler, labelled, make_identities


def _disagreement_weights(model: ModelParameters) -> dict[str, float]:
    out = {}
    for c in model.comparisons:
        active = [i for i, z in enumerate(c.neutral) if not z]
        if active:
            out[c.name] = float(c.log2_bf()[active[-1]])
    return out


def _assert_monotone(model: ModelParameters) -> None:
    for c in model.comparisons:
        w = [float(x) for x, z in zip(c.log2_bf(), c.neutral, strict=True) if not z]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(w)), (c.name, w)


def _country_frame() -> pl.DataFrame:
    # everybody is in "gb" but the two identities of each matching person, who are filed in two
    # countries: "different" is rare among random pairs (u ~ 0) and common among matches
    rows = filler(200)
    for row in rows:
        row["country_norm"] = "gb"
    pairs = []
    for p in range(40):
        base = {"first_name_norm": f"zed{p}q", "last_name_norm": f"quill{p}x", "email_norm": f"z{p}@q.io"}
        pairs.append({**base, "identity_id": 5000 + 2 * p, "customer_id": 5000 + 2 * p, "country_norm": "fr"})
        pairs.append({**base, "identity_id": 5001 + 2 * p, "customer_id": 5001 + 2 * p, "country_norm": "gb"})
    return make_identities(rows + pairs)


def test_no_disagreement_level_carries_positive_weight_on_any_data() -> None:
    rows, _ = labelled(120)
    frames = [make_identities(rows), _country_frame(), make_identities(filler(150))]
    for frame in frames:
        model = run_match(frame, MatchConfig()).model
        for name, weight in _disagreement_weights(model).items():
            assert weight <= 0.0, (name, weight)
        _assert_monotone(model)
    country = run_match(_country_frame(), MatchConfig()).model.by_name()["country"]
    assert country.log2_bf()[country.levels.index("different")] <= 0.0


def test_monotone_caps_the_disagreement_level_and_pools_violations() -> None:
    # the country example: m 0.0059 / u 0.0 gave "different" +10.8
    country = ComparisonParams("country", ["missing", "exact", "different"], [0, 0.9941, 0.0059],
                               [0, 1.0, 0.0], [True, False, False])  # fmt: skip
    fixed = monotone(country)
    assert fixed.log2_bf()[2] <= 0.0
    assert abs(sum(fixed.m) - 1.0) < 1e-9
    # a weaker level weighing more than a stronger one is pooled with it
    name = ComparisonParams("n", ["missing", "exact", "close", "different"], [0, 0.2, 0.7, 0.1],
                            [0, 0.01, 0.005, 0.985], [True, False, False, False])  # fmt: skip
    w = monotone(name).log2_bf()
    assert w[1] >= w[2] >= w[3]
    assert abs(w[1] - w[2]) < 1e-9
    # a stored model is held to the rule when loaded
    stored = ModelParameters([country], 0.001, 100).to_dict()
    assert ModelParameters.from_dict(stored).comparisons[0].log2_bf()[2] <= 0.0


def test_a_level_never_seen_gets_a_smoothed_value() -> None:
    names = ["missing", "exact", "close", "different"]
    neutral = [True, False, False, False]
    rng = np.random.default_rng(0)
    # random pairs never reach "exact" or "close"; matches never reach "close"
    random_levels = np.where(rng.random(5000) < 0.3, 0, 3).astype(np.int8)
    u = estimate_u([Levels("f", names, neutral, random_levels)])[0]
    assert u.u[1] > 0 and u.u[2] > 0
    assert u.u[1] < 1 / 3000
    pairs = np.concatenate([np.full(300, 1), np.full(700, 3)]).astype(np.int8)
    params, *_ = fit([Levels("f", names, neutral, pairs)], np.zeros(1000, dtype=np.int64),
                     np.zeros((1, 1), dtype=bool), [u], 50, 1e-6)  # fmt: skip
    m = params[0].m
    assert m[2] > 0  # never seen among the pairs: smoothed, not 0 (-inf weight)
    weights = params[0].log2_bf()
    assert np.isfinite(weights).all()
    assert weights[1] >= weights[2] >= weights[3]


def test_a_comparison_no_stratum_counts_keeps_its_prior_shape() -> None:
    names = ["missing", "exact", "close", "different"]
    neutral = [True, False, False, False]
    u = estimate_u([Levels("f", names, neutral, np.full(2000, 3, dtype=np.int8))])[0]
    levels = Levels("f", names, neutral, np.full(100, 1, dtype=np.int8))
    params, *_ = fit([levels], np.zeros(100, dtype=np.int64), np.ones((1, 1), dtype=bool), [u], 20, 1e-6)
    m = params[0].m
    # excluded everywhere: m is the prior (strongest level likeliest), not uniform
    assert m[1] > m[2] > m[3] > 0


def _phone_people() -> pl.DataFrame:
    """A population where nearly every phone shared by two customers is one person's two identities."""
    rows, _ = labelled(200)
    letters, vowels = "bcdfgklmnprstv", "aeiou"
    for p in range(30):  # an sms and a whatsapp identity each: the same phone, the same name
        last = "".join(letters[(p * 7 + k) % 14] + vowels[(p + k) % 5] for k in range(4))
        base = {"first_name_norm": "ruth", "last_name_norm": last, "phone_e164": f"+44780{p:07d}"}
        rows.append({**base, "identity_id": 5000 + 2 * p, "customer_id": 5000 + 2 * p, "channel": "sms"})
        rows.append({**base, "identity_id": 5001 + 2 * p, "customer_id": 5001 + 2 * p, "channel": "whatsapp"})
    # two identities with nothing but one phone, and a household: one phone, two different people
    rows.append({"identity_id": 9000, "customer_id": 9000, "phone_e164": "+44799000001", "channel": "sms"})
    rows.append({"identity_id": 9001, "customer_id": 9001, "phone_e164": "+44799000001", "channel": "phone"})
    for i, (first, last) in enumerate((("agnes", "thorpe"), ("bruno", "walsh"))):
        rows.append({"identity_id": 9100 + i, "customer_id": 9100 + i, "first_name_norm": first,
                     "last_name_norm": last, "phone_e164": "+44799000002"})  # fmt: skip
    return make_identities(rows)


def _pair(result_pairs: pl.DataFrame, a: int, b: int) -> dict[str, object]:
    return result_pairs.filter((pl.col("identity_id_l") == a) & (pl.col("identity_id_r") == b)).row(
        0, named=True
    )


def test_a_single_exact_phone_overcomes_the_prior_where_shared_phones_are_one_person() -> None:
    # the phone's term frequency counts both identities of the person as chance agreement
    # (a value held by 2 customers); its blocking rule's EM stratum says most such pairs match
    result = run_match(_phone_people(), MatchConfig())
    only_phone = _pair(result.pairs, 9000, 9001)
    assert only_phone["phone_level"] == "exact"
    assert only_phone["match_probability"] >= 0.8
    household = _pair(result.pairs, 9100, 9101)
    assert household["phone_level"] == "exact"
    assert household["match_probability"] < 0.3
    phone = result.model.by_name()["phone"]
    assert 0.0 < phone.tf_scale < 1.0  # smoothed: never an infinite weight


def test_the_identifier_scale_survives_storing_the_model() -> None:
    model = run_match(_phone_people(), MatchConfig()).model
    again = ModelParameters.from_dict(model.to_dict())
    assert again.by_name()["phone"].tf_scale == model.by_name()["phone"].tf_scale < 1.0


def test_the_identifier_scale_does_not_lower_the_u_of_another_address_sharing_its_local_part() -> None:
    import pytest

    from matching.model import log_bayes_factors

    names = ["missing", "exact", "same_local", "close", "different"]
    lv = Levels("email", names, [True, False, False, False, False], np.array([1, 2, 3], dtype=np.int8))
    lv.tf, lv.tf_level = np.array([1e-4, 1e-4, 1e-4]), 1
    params = ComparisonParams("email", names, [0.0, 0.9, 0.04, 0.04, 0.02], [0.0, 1e-6, 1e-5, 1e-5, 1.0],
                              [True, False, False, False, False], tf_level=1, tf_scale=0.01)  # fmt: skip
    bits = log_bayes_factors([lv], [params])[0] / np.log(2)
    assert bits[0] == pytest.approx(np.log2(0.9 / (1e-4 * 0.01)), rel=1e-5)  # exact: scaled
    assert bits[2] == pytest.approx(np.log2(0.04 / (1e-4 * 0.01)), rel=1e-5)  # a typo of it: scaled
    assert bits[1] == pytest.approx(np.log2(0.04 / 1e-4), rel=1e-5)  # another address: its stem's u


def test_the_identifier_scale_does_not_lower_the_u_of_a_near_handle() -> None:
    import pytest

    from matching.comparisons import compare
    from matching.frequency import build_frame
    from matching.model import log_bayes_factors

    # a handle comparison marks its exact level as the only one the identifier scale applies to
    cfg = MatchConfig()
    spec = next(c for c in cfg.comparisons if c.name == "screen_name")
    rows = [{"screen_name_norm": "kzetvornel_x"}, {"screen_name_norm": "kzetvornel_x"},
            {"screen_name_norm": "kzetvornel_y"}]  # fmt: skip
    frame = build_frame(
        make_identities([*rows, *filler(20)]), cfg.shared_min_holders, cfg.shared_min_customers
    )
    lv = compare(spec, frame, np.array([0, 0], dtype=np.int32), np.array([1, 2], dtype=np.int32))
    assert [lv.level_names[int(x)] for x in lv.levels] == ["exact", "close"]
    assert lv.scaled_levels == [lv.level("exact")]
    k = len(lv.level_names)
    params = ComparisonParams("screen_name", lv.level_names, [0.5] * k, [1e-3] * k, lv.neutral,
                              tf_level=lv.tf_level, tf_scale=0.01)  # fmt: skip
    assert lv.tf is not None
    bits = log_bayes_factors([lv], [params])[0] / np.log(2)
    assert bits[0] == pytest.approx(np.log2(0.5 / (lv.tf[0] * 0.01)), rel=1e-5)  # exact: scaled
    assert bits[1] == pytest.approx(np.log2(0.5 / lv.tf[1]), rel=1e-5)  # near: its stem's u alone
