"""The sample-data generator: deterministic, truth kept apart, hard in the ways real channel data is hard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from data.generator import (
    CHANNELS,
    IDENTITY_COLUMNS,
    MESSAGE_COLUMNS,
    difficulty,
    generate,
    main,
    write_sample,
)

KEY = ["channel", "external_id"]


@pytest.fixture(scope="module")
def sample() -> object:
    """20k identities: big enough for name and phone collisions between different people."""
    return generate(20_000, seed=11)


def _phone_key(frame: pl.DataFrame) -> pl.DataFrame:
    """entity_id and the last ten digits of every phone an identity shows (its id on phone channels)."""
    phone_channels = pl.col("channel").is_in(["sms", "whatsapp", "phone"])
    digits = pl.coalesce(pl.when(phone_channels).then("external_id"), "phone").str.replace_all(r"\D", "")
    return frame.select("entity_id", key=digits.str.slice(-10)).filter(pl.col("key").str.len_chars() == 10)


def test_same_seed_same_data_other_seed_other_data() -> None:
    # determinism does not depend on the size: a few hundred identities show it
    first, again, other = generate(500, seed=5), generate(500, seed=5), generate(500, seed=6)
    assert first.identities.equals(again.identities)
    assert first.messages.equals(again.messages)
    assert first.truth.equals(again.truth)
    assert first.dirty.equals(again.dirty)
    assert not first.identities.equals(other.identities)


def test_columns_are_canonical_text(sample) -> None:
    assert sample.identities.columns == list(IDENTITY_COLUMNS)
    assert sample.messages.columns == list(MESSAGE_COLUMNS)
    assert sample.truth.columns == ["channel", "external_id", "entity_id"]
    assert set(sample.identities.schema.values()) == {pl.Utf8}
    assert set(sample.identities["channel"].unique()) == set(CHANNELS)
    assert sample.identities["external_id"].null_count() == 0


def test_truth_covers_every_identity_exactly_once(sample) -> None:
    truth = sample.truth
    assert truth.height == 20_000
    assert not truth.select(pl.struct(KEY).is_duplicated().any()).item()
    distinct = sample.identities.select(KEY).unique()
    assert distinct.height == truth.height
    assert distinct.join(truth, on=KEY, how="anti").is_empty()
    assert truth["entity_id"].null_count() == 0


def test_ids_unique_apart_from_the_deliberate_duplicates(sample) -> None:
    ids = sample.identities
    repeated = ids.filter(pl.struct(KEY).is_duplicated())
    planted = sample.dirty.filter(pl.col("kind") == "duplicate")
    assert planted.height >= 2
    assert repeated.height == 2 * planted.height  # each planted duplicate repeats one identity once
    assert set(repeated.select(KEY).rows()) == set(planted.select(KEY).rows())
    assert ids.height == sample.truth.height + planted.height


def test_people_have_several_identities_on_several_channels(sample) -> None:
    per_entity = sample.truth.group_by("entity_id").agg(
        pl.len(), pl.col("channel").n_unique().alias("channels")
    )
    assert per_entity.filter(pl.col("len") == 1).height > per_entity.height * 0.4  # many people: one identity
    assert per_entity.filter(pl.col("len").is_between(2, 4)).height > per_entity.height * 0.25
    assert per_entity.filter(pl.col("len") >= 6).height > 0
    assert per_entity.filter(pl.col("channels") >= 3).height > 0


def test_different_people_share_full_names_and_phones(sample) -> None:
    ids = sample.identities.unique(KEY).join(sample.truth, on=KEY)
    names = ids.drop_nulls(["first_name", "last_name"]).select(
        "entity_id",
        name=pl.concat_str(pl.col("first_name").str.to_lowercase(), pl.col("last_name").str.to_lowercase()),
    )
    shared_names = names.group_by("name").agg(pl.col("entity_id").n_unique()).filter(pl.col("entity_id") > 1)
    assert shared_names.height >= 5
    shared_phones = (
        _phone_key(ids).group_by("key").agg(pl.col("entity_id").n_unique()).filter(pl.col("entity_id") > 1)
    )
    assert shared_phones.height >= 5  # households' home phones, company switchboards


def test_difficulty_grows_with_size() -> None:
    small, large = difficulty(generate(2_000, seed=3)), difficulty(generate(20_000, seed=3))
    assert large["people_sharing_a_full_name"] > 5 * max(small["people_sharing_a_full_name"], 1)
    assert 0.2 < large["share_single_evidence"] < 0.6  # thin identities: a phone or a handle and nothing else


def test_thin_single_evidence_identities(sample) -> None:
    sms = sample.identities.filter(pl.col("channel") == "sms")
    other = [c for c in IDENTITY_COLUMNS if c not in ("channel", "external_id", "created_at", "updated_at")]
    bare = sms.filter(pl.all_horizontal(pl.col(c).is_null() for c in other))
    assert bare.height > sms.height * 0.4  # an sms identity is often just a number
    chat = sample.identities.filter(pl.col("channel") == "chat")
    assert chat["external_id"].str.starts_with("v_").all()
    assert chat["display_name"].null_count() > chat.height * 0.8


def test_noise_is_present(sample) -> None:
    ids = sample.identities
    phones = ids["phone"].drop_nulls()
    assert phones.str.starts_with("+44").any() and phones.str.starts_with("07").any()
    assert phones.str.contains(r"^\(0\d+\) ").any() and phones.str.starts_with("0044").any()
    emails = ids["email"].drop_nulls()
    assert emails.str.contains(r"\+[a-z0-9]+@").any()  # +tags
    assert emails.str.contains("[A-Z]").any()  # case variants
    assert emails.str.ends_with("@googlemail.com").any()
    names = pl.concat([ids["first_name"], ids["last_name"], ids["display_name"]]).drop_nulls()
    assert names.str.contains("[éèüöäóñłąśćż]").any()  # diacritics kept ...
    assert names.str.contains("^[a-z]+$").any()  # ... and lower-case names
    assert ids["display_name"].drop_nulls().str.contains(r"^[^,]+, [^,]+$").any()  # "Last, First"
    assert ids["postcode"].drop_nulls().str.contains(r"^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$").any()


def test_dirty_fraction_is_respected() -> None:
    dirty = generate(10_000, seed=2, dirty_fraction=0.01)
    assert 95 <= dirty.dirty.height <= 105
    counts = dict(dirty.dirty.group_by("kind").len().rows())
    assert set(counts) == {"bad_email", "bad_phone", "bad_timestamp", "duplicate"}
    clean = generate(10_000, seed=2, dirty_fraction=0.0)
    assert clean.dirty.is_empty()
    assert clean.identities.height == clean.truth.height
    emails = clean.identities["email"].drop_nulls()
    assert emails.str.contains(r"(?i)^[^@\s,()]+@[a-z0-9.-]+\.[a-z]{2,}$").all()
    stamp = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"
    assert clean.identities["created_at"].str.contains(stamp).all()
    assert not dirty.identities["created_at"].str.contains(stamp).all()


def test_messages_alternate_and_quote_personal_data(sample) -> None:
    msgs = sample.messages
    assert 1.5 < msgs.height / sample.truth.height < 2.5
    assert msgs["message_id"].is_unique().all()
    assert msgs.select(KEY).unique().join(sample.truth, on=KEY, how="anti").is_empty()
    per_thread = msgs.group_by("thread_id").agg(
        pl.col("channel").n_unique(), pl.col("external_id").n_unique()
    )
    assert (per_thread["channel"] == 1).all() and (per_thread["external_id"] == 1).all()
    first = msgs.group_by("thread_id", maintain_order=True).first()
    assert (first["author_kind"] == "customer").all()
    assert msgs.filter(pl.col("author_kind") == "agent")["agent_name"].null_count() == 0
    assert (
        msgs.filter(pl.col("author_kind") == "customer")["agent_name"].null_count()
        == msgs.filter(pl.col("author_kind") == "customer").height
    )
    assert msgs["agent_name"].n_unique() <= 21
    email_threads = msgs.filter(pl.col("channel") == "email")
    assert email_threads["title"].null_count() == 0
    assert (
        msgs.filter(pl.col("channel") != "email")["title"].null_count() == msgs.height - email_threads.height
    )
    bodies = msgs["body"]
    assert bodies.str.contains(r"[\w.+-]+@[\w-]+\.[\w.]+").any()
    assert bodies.str.contains(r"(\+44|07)\d").any() or bodies.str.contains(r"\b07\d{3} \d{6}\b").any()


def test_write_sample_native_layouts(tmp_path: Path, sample) -> None:
    files = write_sample(sample, tmp_path / "mixed")
    names = {f.name for f in files}
    for channel in CHANNELS:
        assert any(n.startswith(f"identities_{channel}.") for n in names)
        assert any(n.startswith(f"messages_{channel}.") for n in names)
    assert "truth.csv" in names
    # the truth lies apart from the exports, so ingesting the folder never loads it
    assert (tmp_path / "mixed" / "truth" / "truth.csv").is_file()
    assert not (tmp_path / "mixed" / "truth.csv").exists()
    fb = pl.read_ndjson(tmp_path / "mixed" / "identities_facebook.jsonl", infer_schema_length=None)
    assert {"channel", "psid", "full_name"} <= set(fb.columns) and "external_id" not in fb.columns
    wa = pl.read_ndjson(tmp_path / "mixed" / "identities_whatsapp.jsonl", infer_schema_length=None)
    assert {"channel", "wa_id", "profile_name"} <= set(wa.columns) and "display_name" not in wa.columns
    email = pl.read_csv(tmp_path / "mixed" / "identities_email.csv", infer_schema=False)
    assert {"channel", "external_id", "display_name", "loyalty_tier"} <= set(email.columns)
    twitter = pl.read_parquet(tmp_path / "mixed" / "identities_twitter.parquet")
    assert "loyalty_tier" not in twitter.columns  # an extra attribute only where the channel has it
    readers = {
        ".csv": lambda p: pl.read_csv(p, infer_schema=False),
        ".jsonl": lambda p: pl.read_ndjson(p, infer_schema_length=None),
        ".parquet": pl.read_parquet,
    }
    total = 0
    for path in files:
        frame = readers[path.suffix](path)
        if path.name.startswith("identities_"):
            assert "entity_id" not in frame.columns  # the truth is never in a channel file
            total += frame.height
    assert total == sample.identities.height
    parquet = write_sample(sample, tmp_path / "mixed", formats="parquet")
    assert all(p.suffix == ".parquet" for p in parquet)
    assert not list((tmp_path / "mixed").glob("identities_*.csv"))  # the earlier run's files are replaced


def test_other_region_and_bad_arguments() -> None:
    us = generate(1000, seed=1, region="US")
    sms = us.identities.filter(pl.col("channel") == "sms")["external_id"]
    assert sms.str.starts_with("+1").all()
    with pytest.raises(ValueError):
        generate(10, region="XX")
    assert generate(0).identities.is_empty()


def test_ten_thousand_identities_have_one_truth_row_each() -> None:
    # Generation speed is a benchmark figure (bench/ingest_bench.py generates its data), not a timed test.
    data = generate(10_000, seed=1)
    assert data.truth.height == 10_000
    assert data.truth.select("channel", "external_id").n_unique() == 10_000


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--identities", "300", "--seed", "4", "--out", str(tmp_path), "--stats"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["identities"] >= 300
    assert (tmp_path / "truth" / "truth.csv").exists()
    assert re.match(r"identities_\w+\.(csv|jsonl|parquet)", Path(summary["files"][0]).name)
    assert summary["difficulty"]["identities"] == 300
