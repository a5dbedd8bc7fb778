import json
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from matching import MatchConfig, ModelParameters, run_match
from matching.model import probability
from matching.name_cells import CELL_PSEUDO, LABELS, fit_cell_odds
from tests.matching.idframes import filler, labelled, make_identities


def test_cell_odds_follow_the_other_fields_not_the_name_weight():
    # 400 pairs agree on the name and carry other evidence (+12 bits one person, -12 bits two),
    # 30% one person; 400 carry the name only. The name weighs +3 bits over the prior: p ~0.9
    rng = np.random.default_rng(0)
    one = rng.random(400) < 0.3
    other = np.concatenate([np.where(one, 12.0, -12.0), np.zeros(400)])
    name_bits = np.full(800, 3.0)
    cells = np.zeros(800, dtype=np.int64)
    odds = fit_cell_odds(name_bits + other, name_bits, cells)
    share = probability(np.array([odds[LABELS[0]]]))[0]
    # the pseudo-pairs at the model's own mean pull a little towards it
    expected = (one.sum() + CELL_PSEUDO * probability(name_bits + other).mean()) / (400 + CELL_PSEUDO)
    assert abs(share - expected) < 0.01
    assert abs(share - 0.3) < 0.06


def test_a_cell_without_other_evidence_keeps_its_own_mean():
    name_bits = np.array([2.0, 4.0, 6.0])
    odds = fit_cell_odds(name_bits, name_bits, np.zeros(3, dtype=np.int64))
    assert abs(probability(np.array([odds[LABELS[0]]]))[0] - probability(name_bits).mean()) < 1e-6


def _world(one_person: bool) -> pl.DataFrame:
    """60 names, each held by three identities: two with a date of birth (one person's, or two people's
    decades apart), one with the name only."""
    rows: list[dict[str, Any]] = []
    for g in range(60):
        tens, ones = "abcdefghij"[g // 10], "klmnopqrst"[g % 10]
        first, last = f"zel{tens}{ones}ia", f"quor{ones}{tens}ton"
        for k in range(2):
            shift = 0 if one_person or k == 0 else 1
            born = date(1950 + 27 * shift + g % 10, 1 + (g + 5 * shift) % 12, 1 + (g + 9 * shift) % 28)
            rows.append(
                {"first_name_norm": first, "last_name_norm": last, "birth_date_norm": born, "channel": "sms"}
            )
        rows.append({"first_name_norm": first, "last_name_norm": last, "channel": "facebook"})
    return make_identities(rows + filler(60))


def _name_only_probability(res: Any, df: pl.DataFrame) -> float:
    facebook = set(df.filter(pl.col("channel") == "facebook").get_column("identity_id").to_list())
    sms = set(df.filter(pl.col("channel") == "sms").get_column("identity_id").to_list())
    pairs = res.pairs.filter(
        (pl.col("identity_id_l").is_in(facebook) & pl.col("identity_id_r").is_in(sms))
        | (pl.col("identity_id_r").is_in(facebook) & pl.col("identity_id_l").is_in(sms))
    ).filter(pl.col("last_name_level").cast(pl.String) == "exact")
    assert pairs.height >= 100
    return float(pairs.get_column("match_probability").mean())


def test_a_shared_name_weighs_as_often_as_its_holders_prove_one_person():
    one_person, strangers = _world(True), _world(False)
    a = run_match(one_person, MatchConfig())
    b = run_match(strangers, MatchConfig())
    # the same names, the same frequencies: only what the other holders' phones show differs
    assert a.model.name_cells and b.model.name_cells
    cell = next(iter(set(a.model.name_cells) & set(b.model.name_cells)))
    assert a.model.name_cells[cell] > b.model.name_cells[cell] + 3
    assert _name_only_probability(a, one_person) > _name_only_probability(b, strangers) + 0.3
    # the fields still add up to the match weight
    weights = [c for c in a.pairs.columns if c.endswith("_weight") and c != "match_weight"]
    added = a.pairs.select(pl.sum_horizontal(weights).alias("s")).get_column("s").to_numpy()
    prior = a.model.prior_bits(one_person.height)
    assert np.allclose(added + prior, a.pairs.get_column("match_weight").to_numpy(), atol=1e-3)


def test_the_cells_are_stored_with_the_model_and_reused_incrementally():
    rows, _ = labelled(120)
    df = make_identities(rows)
    full = run_match(df, MatchConfig())
    stored = ModelParameters.from_dict(json.loads(json.dumps(full.model.to_dict())))
    assert stored.name_cells == full.model.name_cells and full.model.name_cells
    changed = [5, 6, 77]
    inc = run_match(df, MatchConfig(), changed_ids=pl.Series(changed), model=full.model.to_dict())
    assert inc.model.name_cells == full.model.name_cells
    touches = pl.col("identity_id_l").is_in(changed) | pl.col("identity_id_r").is_in(changed)
    key = ["identity_id_l", "identity_id_r"]
    got, expect = inc.pairs.sort(key), full.pairs.filter(touches).sort(key)
    assert np.allclose(got.get_column("match_probability"), expect.get_column("match_probability"))


def test_a_name_found_in_a_handle_has_cells_of_its_own():
    df = _world(False)
    handles = [
        {"screen_name_norm": f"{first}{last}", "channel": "twitter"}
        for first, last in df.filter(pl.col("channel") == "facebook")
        .select("first_name_norm", "last_name_norm")
        .iter_rows()
    ]
    df = make_identities(df.drop("identity_id", "customer_id", "external_id").to_dicts() + handles)
    res = run_match(df, MatchConfig())
    found = res.pairs.filter(pl.col("name_handle_level").cast(pl.String) == "full")
    assert found.height >= 60
    assert any(label.startswith("handle ") for label in res.model.name_cells)
    weights = [c for c in res.pairs.columns if c.endswith("_weight") and c != "match_weight"]
    added = found.select(pl.sum_horizontal(weights)).to_series().to_numpy() + res.model.prior_bits(df.height)
    assert np.allclose(added, found.get_column("match_weight").to_numpy(), atol=1e-3)


def test_agents_decisions_still_move_the_pairs_the_cells_weigh():
    df = _world(True)
    plain = run_match(df, MatchConfig())
    facebook = set(df.filter(pl.col("channel") == "facebook").get_column("identity_id").to_list())
    name_only = plain.pairs.filter(
        (pl.col("identity_id_l").is_in(facebook) | pl.col("identity_id_r").is_in(facebook))
        & (pl.col("last_name_level").cast(pl.String) == "exact")
    )
    # agents rejected 40 of the name-only pairs: two people each time
    labels = name_only.head(40).select("identity_id_l", "identity_id_r").with_columns(is_match=pl.lit(False))
    learned = run_match(df, MatchConfig(), labels=labels)
    key = ["identity_id_l", "identity_id_r"]
    before = name_only.sort(key).get_column("match_probability").to_numpy()
    after = (
        learned.pairs.join(name_only.select(key), on=key).sort(key).get_column("match_probability").to_numpy()
    )
    assert len(after) == len(before) and after.mean() < before.mean() - 0.1
    # the labels' shifts of the name levels and the prior sit on top of the cell's odds
    model = learned.model
    first, last = model.by_name()["first_name"], model.by_name()["last_name"]
    shift = (
        model.prior_shift
        + first.shifts()[first.levels.index("exact")]
        + last.shifts()[last.levels.index("exact")]
    )
    assert abs(shift) > 0.1
    pairs = learned.pairs.join(name_only.select(key), on=key)
    others = [
        c
        for c in pairs.columns
        if c.endswith("_weight") and c not in ("match_weight", "first_name_weight", "last_name_weight")
    ]
    odds = pairs.select(pl.col("match_weight") - pl.sum_horizontal(others)).to_series().to_numpy() - shift
    cells = np.array(list(model.name_cells.values()))
    assert np.allclose([np.abs(cells - o).min() for o in odds], 0.0, atol=1e-3)
