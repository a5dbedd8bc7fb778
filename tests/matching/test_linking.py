"""Link types: link_only never produces a within-source pair; dedupe and link_and_dedupe do."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from matching import ConfigError, MatchConfig, run_match
from matching.linking import comparable_pairs
from tests.matching.idframes import filler, make_identities


def _two_sources() -> pl.DataFrame:
    """Two CRMs: Ann twice in crm_a (a within-source duplicate) and once in crm_b; Bob in both."""
    rows = [
        {"identity_id": 1, "channel": "crm_a", "first_name_norm": "ann", "last_name_norm": "lee",
         "email_norm": "ann.lee@example.com", "city_norm": "leeds"},
        {"identity_id": 2, "channel": "crm_a", "first_name_norm": "ann", "last_name_norm": "lee",
         "email_norm": "ann.lee@example.com", "city_norm": "leeds"},
        {"identity_id": 3, "channel": "crm_b", "first_name_norm": "ann", "last_name_norm": "lee",
         "email_norm": "ann.lee@example.com", "city_norm": "leeds"},
        {"identity_id": 4, "channel": "crm_a", "first_name_norm": "bob", "last_name_norm": "stone",
         "phone_e164": "+447700900001", "city_norm": "york"},
        {"identity_id": 5, "channel": "crm_b", "first_name_norm": "bob", "last_name_norm": "stone",
         "phone_e164": "+447700900001", "city_norm": "york"},
    ]  # fmt: skip
    rows += [{**row, "channel": ("crm_a", "crm_b")[i % 2]} for i, row in enumerate(filler(120))]
    return make_identities(rows)


def _source_of(df: pl.DataFrame, column: str = "channel") -> dict[int, str]:
    return dict(zip(df.get_column("identity_id").to_list(), df.get_column(column).to_list(), strict=True))


def test_link_only_on_two_sources_never_pairs_within_a_source() -> None:
    df = _two_sources()
    source = _source_of(df)
    result = run_match(df, MatchConfig.from_settings({"link_type": "link_only"}))
    pairs = set(
        zip(result.pairs.get_column("identity_id_l"), result.pairs.get_column("identity_id_r"), strict=True)
    )
    assert pairs, "link_only found no pairs at all"
    assert all(source[a] != source[b] for a, b in pairs)
    assert (1, 3) in pairs and (2, 3) in pairs and (4, 5) in pairs and (1, 2) not in pairs
    sugg = result.suggestions
    assert sugg.height
    for a, b in zip(sugg.get_column("identity_id_l"), sugg.get_column("identity_id_r"), strict=True):
        assert source[a] != source[b]


def test_dedupe_and_link_and_dedupe_also_pair_within_a_source() -> None:
    df = _two_sources()
    for link_type in ("dedupe", "link_and_dedupe"):
        result = run_match(df, MatchConfig.from_settings({"link_type": link_type}))
        pairs = set(
            zip(
                result.pairs.get_column("identity_id_l"),
                result.pairs.get_column("identity_id_r"),
                strict=True,
            )
        )
        assert (1, 2) in pairs and (1, 3) in pairs


def test_link_only_on_an_extra_source_column() -> None:
    df = _two_sources().with_columns(
        pl.when(pl.col("channel") == "crm_a")
        .then(pl.lit("CRM A "))
        .otherwise(pl.lit("crm a"))
        .alias("origin")
    )
    # folded like built-in text, "CRM A " and "crm a" are one source: nothing crosses
    result = run_match(df, MatchConfig.from_settings({"link_type": "link_only", "source_column": "origin"}))
    assert result.pairs.height == 0


def test_a_blocking_rule_can_require_different_sources() -> None:
    df = _two_sources()
    source = _source_of(df)
    cfg = MatchConfig.from_settings(
        {"blocking_rules": [{"name": "email_key", "on": ["email_key"], "different_source": True}]}
    )
    result = run_match(df, cfg)
    by_email = result.pairs.filter(pl.col("rule") == "email_key")
    pairs = list(zip(by_email.get_column("identity_id_l"), by_email.get_column("identity_id_r"), strict=True))
    assert pairs and all(source[a] != source[b] for a, b in pairs)


def test_link_type_needs_its_source_column() -> None:
    df = _two_sources().drop("channel")
    with pytest.raises(ConfigError, match="source_column 'channel'"):
        run_match(df, MatchConfig.from_settings({"link_type": "link_only"}))


def test_bad_link_type_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="link_only"):
        MatchConfig.from_settings({"link_type": "link-only"})


def test_comparable_pairs_counts_only_cross_source_pairs_of_different_customers() -> None:
    customer = np.array([1, 2, 3, 3])
    source = np.array([0, 0, 1, 0])
    # pairs across sources: (0,2), (1,2), (2,3); (2,3) is within customer 3
    assert comparable_pairs(customer, source, True) == 2
    assert comparable_pairs(customer, None, False) == 5
