"""The address comparison: canonical tokens, token-set similarity, house numbers that must agree."""

from __future__ import annotations

import polars as pl

from matching import MatchConfig, run_match
from matching.address import canonical_address, house_numbers
from tests.matching.idframes import filler, make_identities


def test_canonical_address_spells_out_street_types_and_drops_punctuation() -> None:
    assert canonical_address("12 stanley st.") == "12 stanley street"
    assert canonical_address("unit 3/12 stanley rd") == "unit 3 12 stanley road"
    assert canonical_address("flat 3, 12 stanley road") == "unit 3 12 stanley road"
    assert house_numbers("unit 3 12 stanley road") == "12 3"


def _run(addresses: list[str | None]) -> dict[tuple[int, int], str]:
    rows = [
        {"identity_id": i, "first_name_norm": "ann", "last_name_norm": "lee"}
        for i in range(1, len(addresses) + 1)
    ]
    rows += filler(80)
    everyone = addresses + [f"{i} filler lane {i % 9}" for i in range(80)]
    df = make_identities(rows).with_columns(pl.Series("home", everyone, dtype=pl.String))
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "home", "kind": "address", "column": "home"}]})
    result = run_match(df, cfg)
    pairs = result.pairs
    return {
        (a, b): level
        for a, b, level in zip(
            pairs.get_column("identity_id_l"),
            pairs.get_column("identity_id_r"),
            pairs.get_column("home_level"),
            strict=True,
        )
    }


def test_address_levels_with_house_number_agreement() -> None:
    levels = _run(
        [
            "12 Stanley St.",  # 1
            "Stanley Street 12",  # 2: same tokens in another order and spelling
            "14 Stanley Street",  # 3: same street, another house number
            "12 Stanley Street, Kingston",  # 4: an extra token
            "98 Wattle Grove",  # 5: different
            None,  # 6
        ]
    )
    assert levels[(1, 2)] == "close"
    assert levels[(1, 3)] == "other_number"
    assert levels[(1, 4)] == "close"
    assert levels[(1, 5)] == "different"
    assert levels[(1, 6)] == "missing"
    assert levels[(3, 4)] == "other_number"


def test_address_identical_after_canonicalising_is_exact() -> None:
    levels = _run(["12 Stanley St", "12 STANLEY STREET", "12 stanley street."])
    assert levels[(1, 2)] == "exact" and levels[(2, 3)] == "exact"


def test_address_kind_is_accepted_and_has_default_thresholds() -> None:
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "home", "kind": "address", "column": "home"}]})
    spec = next(c for c in cfg.comparisons if c.name == "home")
    assert spec.thresholds == [0.9, 0.7]
