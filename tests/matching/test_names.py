"""Name comparisons: a full name weighs by its own frequency."""

import numpy as np
import polars as pl
import pytest

from matching import MatchConfig, run_match
from matching.comparisons import compare
from matching.frequency import build_frame
from matching.names import full_name_u
from tests.matching.idframes import make_identities


def _strangers(n: int) -> list[dict[str, str]]:
    """n people with distinct first and last names (letters only: keys keep them distinct)."""

    def word(i: int) -> str:
        return "".join("bcdfghjklmnpqrstvwz"[int(d)] for d in f"{i:03d}")

    return [{"first_name_norm": "a" + word(i), "last_name_norm": "o" + word(i) + "x"} for i in range(n)]


def _name_weight(res, ids: tuple[int, int]) -> float:  # type: ignore[no-untyped-def]
    pair = res.pairs.filter((pl.col("identity_id_l") == ids[0]) & (pl.col("identity_id_r") == ids[1]))
    assert pair.height == 1
    assert pair.get_column("first_name_level").cast(pl.String).item() == "exact"
    assert pair.get_column("last_name_level").cast(pl.String).item() == "exact"
    return float(pair.get_column("first_name_weight").item() + pair.get_column("last_name_weight").item())


def test_a_rare_full_name_outweighs_a_common_one_of_equally_common_parts() -> None:
    # john, mary, smith and jones are each held by 10 customers; "john smith" by 8, "john jones" by 2
    names = (
        [("john", "smith")] * 8 + [("mary", "jones")] * 8 + [("john", "jones")] * 2 + [("mary", "smith")] * 2
    )
    rows = [
        {"first_name_norm": f, "last_name_norm": last, "city_norm": f"c{i}"}
        for i, (f, last) in enumerate(names)
    ]
    res = run_match(make_identities(rows + _strangers(60)), MatchConfig())
    common = _name_weight(res, (1, 2))  # two of the eight john smiths
    rare = _name_weight(res, (17, 18))  # the two john joneses
    # the whole name's frequency, not its parts': 2 of 10 johns are john jones, 8 are john smith
    # (a quarter of the holders: 2 bits of ratio, shrunk by names.RATIO_SHRINK; ~0.9 bit here)
    assert rare > common + 0.5


def test_a_full_name_of_common_parts_weighs_less_than_one_of_rare_parts_at_equal_holders() -> None:
    # john smith and zeb quill are each held by 2 customers; john and smith by 14 each, zeb and
    # quill by 3: both names are rarer than the typical shared name (five rare ones held by 2), so
    # the capped ratio alone gave both the same u (2 holders / typical); the chance holders of
    # john smith are far likelier, and the shrunk ratio keeps that
    names = [("john", "smith")] * 2 + [("zeb", "quill")] * 2 + [("zeb", "doe"), ("amy", "quill")]
    names += [("john", "doe")] * 12 + [("amy", "smith")] * 12
    names += [(f"ra{c}", f"ro{c}x") for c in "bcdfg" for _ in range(2)]
    rows = [
        {"first_name_norm": f, "last_name_norm": last, "city_norm": f"c{i}"}
        for i, (f, last) in enumerate(names)
    ]
    res = run_match(make_identities(rows + _strangers(60)), MatchConfig())
    assert _name_weight(res, (3, 4)) > _name_weight(res, (1, 2)) + 0.8


def _handle_u(rows: list[dict[str, str]], pairs: list[tuple[int, int]]) -> np.ndarray:
    cfg = MatchConfig()
    frame = build_frame(make_identities(rows), cfg.shared_min_holders, cfg.shared_min_customers)
    spec = next(c for c in cfg.comparisons if c.name == "name_handle")
    li = np.array([a for a, _ in pairs], dtype=np.int32)
    r = np.array([b for _, b in pairs], dtype=np.int32)
    lv = compare(spec, frame, li, r)
    assert [lv.level_names[int(x)] for x in lv.levels] == ["full"] * len(pairs)
    assert lv.tf is not None
    return lv.tf


def test_a_name_in_a_handle_weighs_as_the_full_name_held_by_one_more() -> None:
    # jordan berry is held by the named side alone, sam smith by it and four more customers
    rows = [
        {"first_name_norm": "jordan", "last_name_norm": "berry"},
        {"screen_name_norm": "jordanberry99"},
        {"first_name_norm": "sam", "last_name_norm": "smith"},
        {"screen_name_norm": "samsmith"},
        *[{"first_name_norm": "sam", "last_name_norm": "smith"}] * 4,
        # half of those holding a name and a handle write the name into it
        {"first_name_norm": "ann", "last_name_norm": "lee", "screen_name_norm": "annlee"},
        {"first_name_norm": "bo", "last_name_norm": "kim", "screen_name_norm": "zztop"},
        *_strangers(30),
    ]
    u = _handle_u(rows, [(0, 1), (2, 3)])
    assert u[0] < u[1] / 5  # one holder (counted as two) against five (six)
    cfg = MatchConfig()
    frame = build_frame(make_identities(rows), cfg.shared_min_holders, cfg.shared_min_customers)
    name_u, holders = full_name_u(frame, "first_name_key", "last_name_key")
    assert holders[0] == 1 and holders[2] == 5
    # the name-to-name u of the name, the handle's holder counted as a holder, times the share 1/2
    assert u[0] == pytest.approx(name_u[0] * 2 * 0.5)
    assert u[1] == pytest.approx(name_u[2] * 6 / 5 * 0.5)
    # far rarer than the raw frequency of the concatenated name among named customers (1 of 40)
    assert u[0] < (1 / 40) / 10


def test_namesake_holders_floors_the_u_of_a_common_full_name_only() -> None:
    rows = [{"first_name_norm": "maria", "last_name_norm": "kowalczyk"} for _ in range(6)]
    rows += [{"first_name_norm": "jordan", "last_name_norm": "zetvornel"} for _ in range(2)]
    df = make_identities([*rows, *_strangers(40)])
    off = full_name_u(build_frame(df, 3, 8), "first_name_key", "last_name_key")[0]
    on = full_name_u(build_frame(df, 3, 8, namesake_holders=3), "first_name_key", "last_name_key")[0]
    # six holders: at least the three beyond the first three may be other people
    assert on[0] > off[0]
    assert on[0] >= 3 / 48 * 0.999
    # two holders: untouched
    assert on[6] == off[6]


def test_namesake_holders_is_a_match_setting() -> None:
    assert MatchConfig.from_settings({"namesake_holders": 3}).namesake_holders == 3
    assert MatchConfig().namesake_holders is None
