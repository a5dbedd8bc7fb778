"""CSV dialect detection: Excel's `;` files with a BOM and CRLF read like any other, and say so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.settings import IngestSettings
from ingest.dialect import CsvDialect, sniff_csv
from ingest.pipeline import ingest_file
from ingest.read import InputFileError, read_file
from store import Store


def _write(path: Path, text: str, bom: bool = False, newline: str = "\n") -> Path:
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


@pytest.mark.parametrize(
    ("delimiter", "bom", "newline", "line_ending"),
    [
        (";", True, "\r\n", "CRLF"),
        ("\t", False, "\n", "LF"),
        ("|", False, "\r", "CR"),
        (",", True, "\n", "LF"),
    ],
)
def test_excel_like_files_are_read_whatever_their_dialect(
    tmp_path: Path, ingest_settings: IngestSettings, delimiter: str, bom: bool, newline: str, line_ending: str
) -> None:
    text = "\n".join(
        delimiter.join(row)
        for row in [
            ["channel", "external_id", "first_name", "city"],
            ["email", "ann@example.com", '"Lee, Ann; Jr"', "Leeds"],
            ["sms", "+447700900123", "Bo", ""],
        ]
    )
    path = _write(tmp_path / "identities.csv", text + "\n", bom=bom, newline=newline)
    raw = read_file(path, ingest_settings)
    assert raw.frame.select("channel", "external_id", "first_name").rows() == [
        ("email", "ann@example.com", "Lee, Ann; Jr"),
        ("sms", "+447700900123", "Bo"),
    ]
    assert raw.detected["csv"] == {"delimiter": delimiter, "bom": bom, "line_ending": line_ending}


def test_the_detected_dialect_is_reported(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = _write(
        tmp_path / "identities.csv",
        "channel;external_id;first_name\nemail;ann@example.com;Ann\n",
        True,
        "\r\n",
    )
    report = ingest_file(store, path, ingest_settings)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 0)
    assert report.detected == "CSV with delimiter ';', UTF-8 BOM, CRLF line endings"
    stored = json.loads(str(store.scalar("SELECT validation FROM ingest_batches")))
    assert stored["input"]["csv"] == {"delimiter": ";", "bom": True, "line_ending": "CRLF"}


def test_a_missing_column_error_says_how_the_file_was_read(
    tmp_path: Path, ingest_settings: IngestSettings
) -> None:
    path = _write(tmp_path / "identities.csv", "channel;first_name\nemail;Ann\n")
    with pytest.raises(
        InputFileError, match=r"missing required column\(s\): external_id; found channel, first_name"
    ):
        read_file(path, ingest_settings)
    with pytest.raises(InputFileError, match="read as CSV with delimiter ';'"):
        read_file(path, ingest_settings)


def test_the_description_names_delimiter_bom_and_line_endings() -> None:
    assert CsvDialect().describe() == "delimiter ',', LF line endings"
    assert CsvDialect("\t", True, "CRLF").describe() == "delimiter tab, UTF-8 BOM, CRLF line endings"


def test_sniffing_prefers_the_consistent_delimiter(tmp_path: Path) -> None:
    # more commas than semicolons in the values, but only ';' splits every line alike
    path = _write(tmp_path / "x.csv", "a;b;c\n1,5;2,5;x, y\n3;4;z\n")
    assert sniff_csv(path).delimiter == ";"
    single = _write(tmp_path / "y.csv", "external_id\nv-1\n")
    assert sniff_csv(single).delimiter == ","
