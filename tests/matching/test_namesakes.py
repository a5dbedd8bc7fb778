import json

import numpy as np

from matching.config import MatchConfig
from matching.engine import compare_all
from matching.frequency import build_frame
from matching.namesakes import collision_items, collisions, fit_collision_bits
from tests.matching.idframes import filler, make_identities


def _flags(rows: list[dict], pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    cfg = MatchConfig()
    frame = build_frame(
        make_identities([*rows, *filler(20)]), cfg.shared_min_holders, cfg.shared_min_customers
    )
    li = np.array([a for a, _ in pairs], dtype=np.int32)
    r = np.array([b for _, b in pairs], dtype=np.int32)
    return collisions(frame, cfg, compare_all(frame, cfg, li, r), li, r)


def test_a_full_name_two_customers_hold_on_one_channel_flags_its_pairs() -> None:
    maria = {"first_name_norm": "maria", "last_name_norm": "garcia"}
    zoe = {"first_name_norm": "zoe", "last_name_norm": "quill"}
    rows = [
        {**maria, "channel": "facebook"},
        {**maria, "channel": "facebook"},
        {**maria, "channel": "email"},
        {**zoe, "channel": "facebook"},
        {**zoe, "channel": "email"},
    ]
    agree, flag = _flags(rows, [(0, 2), (1, 2), (3, 4), (0, 3)])
    assert agree.tolist() == [True, True, True, False]
    # two Maria Garcias on Facebook: at least two people; one Zoe Quill per channel: no collision
    assert flag.tolist() == [True, True, False, False]


def test_a_same_channel_pair_is_not_its_own_collision() -> None:
    maria = {"first_name_norm": "maria", "last_name_norm": "garcia", "channel": "facebook"}
    _, flag = _flags([maria, maria], [(0, 1)])
    assert not flag[0]  # the pair's own two identities; the source comparison weighs them
    _, flag = _flags([maria, maria, maria], [(0, 1)])
    assert flag[0]  # a third holder on the channel is another person


def test_the_collision_weight_is_what_the_data_says() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    match = rng.random(n) < 0.5
    total = np.where(match, 6.0, -6.0) + rng.normal(0, 1, n)
    agree = np.ones(n, dtype=bool)
    # collisions among 5% of matches and 40% of non-matches: log2(0.05 / 0.4) = -3 bits
    flag = np.where(match, rng.random(n) < 0.05, rng.random(n) < 0.4)
    assert -3.4 < fit_collision_bits(total, agree, flag) < -2.6
    # a flag as common among matches as among non-matches weighs nothing
    even = rng.random(n) < 0.3
    assert -0.3 < fit_collision_bits(total, agree, even) <= 0.0
    # no collision anywhere: nothing to fit
    assert fit_collision_bits(total, agree, np.zeros(n, dtype=bool)) == 0.0


def test_a_full_name_in_the_other_sides_handle_is_flagged_by_the_named_sides_collisions() -> None:
    maria = {"first_name_norm": "maria", "last_name_norm": "garcia"}
    rows = [
        {**maria, "channel": "facebook"},
        {**maria, "channel": "facebook"},
        {"screen_name_norm": "mariagarcia", "channel": "instagram"},
        {"first_name_norm": "zoe", "last_name_norm": "quill", "channel": "facebook"},
        {"screen_name_norm": "zoequill", "channel": "instagram"},
    ]
    agree, flag = _flags(rows, [(0, 2), (2, 0), (3, 4)])
    assert agree.tolist() == [True, True, True]
    assert flag.tolist() == [True, True, False]

    # the evidence names the named side's full name, whichever side of the pair it is
    cfg = MatchConfig()
    frame = build_frame(
        make_identities([*rows, *filler(20)]), cfg.shared_min_holders, cfg.shared_min_customers
    )
    li, r = np.array([0, 2, 3], dtype=np.int32), np.array([2, 0, 4], dtype=np.int32)
    items = collision_items(frame, cfg, li, r, flag, -2.0)
    assert [json.loads(i)["value_l"] if i else None for i in items] == ["maria garcia", "maria garcia", None]


def test_data_on_a_single_channel_flags_nothing() -> None:
    maria = {"first_name_norm": "maria", "last_name_norm": "garcia", "channel": "crm"}
    rows = [maria, maria, maria, *[{**r, "channel": "crm"} for r in filler(20)]]
    cfg = MatchConfig()
    frame = build_frame(make_identities(rows), cfg.shared_min_holders, cfg.shared_min_customers)
    li, r = np.array([0], dtype=np.int32), np.array([1], dtype=np.int32)
    _, flag = collisions(frame, cfg, compare_all(frame, cfg, li, r), li, r)
    assert not flag[0]  # three holders on one channel, but every identity is on it
