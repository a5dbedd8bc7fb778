"""Suggestion bands: the stored `possible` band below review."""

import polars as pl

from data.generator import generate
from domain.settings import IngestSettings
from ingest.normalize import normalize_identities
from ingest.read import attributes_from_external_id
from matching import MatchConfig, run_match


def _sample(n: int) -> pl.DataFrame:
    raw = generate(n, 5).identities.with_columns(attributes_from_external_id(IngestSettings()))
    frame = normalize_identities(raw).with_row_index("identity_id", offset=1)
    return frame.with_columns(
        pl.col("identity_id").cast(pl.Int64), pl.col("identity_id").cast(pl.Int64).alias("customer_id")
    )


def test_pairs_between_the_floor_and_review_are_stored_as_possible() -> None:
    frame = _sample(2000)
    res = run_match(frame, MatchConfig(possible_floor=0.05))
    possible = res.suggestions.filter(pl.col("band") == "possible")
    assert possible.height > 0
    assert possible.get_column("probability").min() >= 0.05
    assert possible.get_column("probability").max() < 0.8
    assert not possible.get_column("related_only").any()
    # above review nothing changes; without a floor nothing below review but related pairs is kept
    off = run_match(frame, MatchConfig(possible_floor=None)).suggestions
    assert off.filter(pl.col("band") == "possible").height == 0
    assert (
        off.filter(pl.col("band") == "review").height
        == res.suggestions.filter(pl.col("band") == "review").height
    )
    assert off.filter(~pl.col("related_only")).get_column("probability").min() >= 0.8


def test_the_possible_floor_is_configurable_and_below_review() -> None:
    import pytest

    from domain.settings import MatchSettings
    from matching import ConfigError

    assert MatchConfig.from_settings(MatchSettings(possible_floor=0.5)).possible_floor == 0.5
    assert MatchConfig.from_settings(MatchSettings(possible_floor=None)).possible_floor is None
    with pytest.raises(ConfigError, match="possible_floor"):
        MatchConfig.from_settings(MatchSettings(possible_floor=0.9))
