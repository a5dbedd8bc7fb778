"""The independent generator: deterministic, truth for every row, and in idres's input contract."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import polars as pl
import pytest

from data.independent import generate_independent, write_independent
from data.independent.channels import CHANNELS
from domain.settings import IngestSettings
from ingest.read import read_file


@pytest.fixture(scope="module")
def sample():  # type: ignore[no-untyped-def]
    """3,000 identities: a few seconds, enough for households and people on several channels."""
    return generate_independent(3000, seed=5)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = generate_independent(400, seed=5)  # determinism does not depend on the size
    again = generate_independent(400, seed=5)
    assert again.truth.equals(first.truth)
    assert all(again.exports[label].equals(frame) for label, frame in first.exports.items())
    other = generate_independent(400, seed=6)
    assert not other.truth.equals(first.truth)


def test_truth_has_one_row_per_identity_and_people_hold_several(sample) -> None:  # type: ignore[no-untyped-def]
    truth = sample.truth
    assert 3000 <= truth.height < 3010
    assert truth.select("channel", "external_id").is_unique().all()
    assert sum(frame.height for frame in sample.exports.values()) == truth.height
    per_person = truth.group_by("entity_id").agg(pl.len(), pl.col("channel").n_unique().alias("channels"))
    assert per_person.filter(pl.col("len") == 1).height > 0  # single-identity people
    assert per_person.filter(pl.col("channels") >= 3).height > 50  # people on several channels
    assert set(truth.get_column("channel").unique()) == set(CHANNELS.values())


def test_whatsapp_ids_are_valid_numbers_of_several_countries(sample) -> None:  # type: ignore[no-untyped-def]
    numbers = [phonenumbers.parse("+" + wa, None) for wa in sample.exports["whatsapp"].get_column("wa_id")]
    assert all(phonenumbers.is_valid_number(n) for n in numbers)
    assert len({n.country_code for n in numbers}) >= 5


def test_households_share_a_landline_or_an_address(sample) -> None:  # type: ignore[no-untyped-def]
    chat = sample.exports["webchat"].join(sample.truth.filter(pl.col("channel") == "chat"), on="external_id")
    shared = chat.drop_nulls("postcode").group_by("postcode").agg(pl.col("entity_id").n_unique())
    assert shared.filter(pl.col("entity_id") > 1).height > 0


def test_files_read_as_idres_input_and_match_the_truth(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = write_independent(sample, tmp_path)
    settings = IngestSettings()
    keys = pl.concat([read_file(p, settings).frame.select("channel", "external_id") for p in paths])
    truth = pl.read_csv(tmp_path / "truth" / "truth.csv", infer_schema=False)
    assert keys.sort(["channel", "external_id"]).equals(
        truth.select("channel", "external_id").sort(["channel", "external_id"])
    )
