"""Reading channel exports: formats, channel mappings, and every kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from domain.settings import ChannelSettings, IngestSettings
from ingest.read import InputFileError, raw_rows_json, read_file
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone"]


def test_reads_csv_as_text_with_row_numbers(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = write_csv(
        tmp_path / "identities.csv",
        [*HEADER, "loyalty_tier"],
        [
            ["email", "a@example.com", "Ann", "Lee", "a@example.com", "", "gold"],
            ["SMS", "07700900123", "", "", "", "07700900123", ""],
        ],
    )
    raw = read_file(path, ingest_settings)
    assert raw.kind == "identities"
    assert raw.rows == 2
    assert raw.frame["row_number"].to_list() == [1, 2]
    assert raw.frame["channel"].to_list() == ["email", "sms"]  # canonical, case-folded
    assert raw.frame.schema["phone"] == pl.Utf8
    assert json.loads(raw.frame["extra"][0]) == {"loyalty_tier": "gold"}


def test_reads_jsonl_and_parquet_with_numbers_as_text(
    tmp_path: Path, ingest_settings: IngestSettings
) -> None:
    jsonl = tmp_path / "identities_sms.jsonl"
    jsonl.write_text(json.dumps({"external_id": 447700900123, "phone": 447700900123, "tags": ["a"]}) + "\n\n")
    raw = read_file(jsonl, ingest_settings)
    assert raw.frame["channel"].to_list() == ["sms"]  # from the file name
    assert raw.frame["external_id"].to_list() == ["447700900123"]
    assert json.loads(raw.frame["extra"][0]) == {"tags": '["a"]'}

    parquet = tmp_path / "identities_x.parquet"
    pl.DataFrame({"channel": ["x"], "screen_name": ["@jberry"], "created_at": [1]}).write_parquet(parquet)
    raw = read_file(parquet, ingest_settings)
    assert raw.frame["channel"].to_list() == ["twitter"]  # alias x -> twitter
    assert raw.frame["external_id"].to_list() == ["@jberry"]  # twitter's id comes from the handle


def test_channel_column_mapping_is_configuration(tmp_path: Path) -> None:
    settings = IngestSettings(
        channels={"viber": ChannelSettings(columns={"viber_user": "external_id", "nick": "display_name"})}
    )
    path = write_csv(tmp_path / "identities_viber.csv", ["viber_user", "nick"], [["v-1", "Ann Lee"]])
    raw = read_file(path, settings)
    assert raw.frame.select("channel", "external_id", "display_name").row(0) == ("viber", "v-1", "Ann Lee")
    rows = raw_rows_json(raw, [1])
    assert json.loads(rows[1]) == {"viber_user": "v-1", "nick": "Ann Lee", "channel": "viber"}


def test_messages_detected_by_name_and_columns(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = write_csv(
        tmp_path / "export.csv",
        ["thread_id", "channel", "external_id", "author_kind", "body", "created_at"],
        [["t1", "chat", "v1", "customer", "hi", "2024-01-01T10:00:00Z"]],
    )
    assert read_file(path, ingest_settings).kind == "messages"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("identities.csv", b"", "empty"),
        ("identities.csv", b"channel,external_id\n", "no rows"),
        (
            "identities.csv",
            "channel,external_id,first_name\nemail,a@x.com,Jos\xe9\n".encode("latin-1"),
            "not UTF-8",
        ),
        ("identities.csv", b'channel,external_id,first_name\nemail,a@x.com,"Ann\nemail,b@x.com,Bo\n', "quot"),
        ("identities.csv", b"channel,external_id\nemail,a@x.com,extra,fields\n", "expected 2 fields"),
        ("identities.csv", b"first_name,last_name\nAnn,Lee\n", "missing required column"),
        ("identities.parquet", b"channel,external_id\nemail,a@x.com\n", "not a Parquet file"),
        ("identities.csv", b"PAR1\x00\x00binary", "binary content"),
        (
            "identities.jsonl",
            b'{"channel": "email", "external_id": "a@x.com"}\n{"channel": \n',
            "not valid JSON",
        ),
        ("identities.jsonl", b"channel,external_id\nemail,a@x.com\n", "not JSON Lines"),
        ("identities.xlsx", b"whatever", "unsupported file type"),
    ],
)
def test_bad_files_name_file_and_reason(
    tmp_path: Path, ingest_settings: IngestSettings, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        read_file(path, ingest_settings)
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)


def test_error_names_the_line_of_broken_quoting(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = tmp_path / "identities.csv"
    path.write_text('channel,external_id\nemail,a@x.com\nemail,b@x.com\nemail,"c@x.com\n', encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_file(path, ingest_settings)
    assert "line 4" in str(caught.value) or "row 3" in str(caught.value)


def test_wrong_encoding_names_the_line(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = tmp_path / "identities.csv"
    path.write_bytes(b"channel,external_id\nemail,a@x.com\nemail,b\xff@x.com\n")
    with pytest.raises(InputFileError, match="line 3"):
        read_file(path, ingest_settings)


def test_unknown_channel_option_is_an_error(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = write_csv(tmp_path / "identities.csv", ["external_id"], [["a"]])
    with pytest.raises(InputFileError, match="unknown channel 'pager'"):
        read_file(path, ingest_settings, channel="pager")


def test_missing_file(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        read_file(tmp_path / "nope.csv", ingest_settings)


def test_phone_channels_take_the_number_from_the_id(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    path = write_csv(
        tmp_path / "identities.csv",
        ["channel", "external_id", "phone", "email"],
        [
            ["sms", "+447911123456", "", ""],
            ["whatsapp", "447911123457", "", ""],
            ["sms", "+447911123458", "+447911000000", ""],  # a phone of its own stays
            ["email", "ann@example.com", "", ""],
            ["chat", "visitor-1", "", ""],  # a chat id is no phone number
        ],
    )
    frame = read_file(path, ingest_settings).frame
    assert frame["phone"].to_list() == ["+447911123456", "447911123457", "+447911000000", None, None]
    assert frame["email"].to_list() == [None, None, None, "ann@example.com", None]
