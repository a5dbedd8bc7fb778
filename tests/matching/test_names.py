"""Name comparisons: a full name weighs by its own frequency."""

import polars as pl

from matching import MatchConfig, run_match
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
    assert rare > common + 1.0
