"""Input that reads fine but would be stored wrong: NUL, NaN ids, repeated keys, id spellings, float phones,
future timestamps and huge values."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from domain.settings import IngestSettings
from ingest.pipeline import ingest_file
from ingest.read import InputFileError, read_file
from store import Store
from store import compliance as compliance_sql
from tests.helpers import write_csv


def test_a_nul_byte_anywhere_is_refused_with_its_row(tmp_path: Path, ingest_settings: IngestSettings) -> None:
    rows = [[f"c{i}", "Ann"] for i in range(800)] + [["c-nul", "Bo\x00b"]]  # well after the first 4 KB
    path = write_csv(tmp_path / "identities_chat.csv", ["external_id", "first_name"], rows)
    assert path.stat().st_size > 4096
    with pytest.raises(InputFileError, match=r"row 801.*NUL"):
        read_file(path, ingest_settings)
    escaped = tmp_path / "identities_chat.jsonl"
    escaped.write_text(
        '{"external_id": "c1", "first_name": "Ann"}\n{"external_id": "c2", "first_name": "B\\u0000o"}\n'
    )
    with pytest.raises(InputFileError, match=r"row 2.*NUL"):
        read_file(escaped, ingest_settings)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"external_id": NaN, "first_name": "Ann"}', "NaN"),
        ('{"external_id": Infinity}', "Infinity"),
        ('{"external_id": -Infinity}', "Infinity"),
        ('{"external_id": 1e999}', "too large"),
        ('{"external_id": "c1", "first_name": "Ann", "first_name": "Anne"}', "given twice"),
    ],
)
def test_json_that_python_would_take_silently_is_refused(
    tmp_path: Path, ingest_settings: IngestSettings, line: str, reason: str
) -> None:
    path = tmp_path / "identities_chat.jsonl"
    path.write_text('{"external_id": "ok", "first_name": "Cy"}\n' + line + "\n")
    with pytest.raises(InputFileError, match=f"line 2.*{reason}"):
        read_file(path, ingest_settings)


def test_email_channel_ids_are_their_normalized_address(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    for number, spelling in enumerate(["ws@ex.com", " ws@ex.com", "ws@ex.com ", "WS@EX.COM"]):
        path = write_csv(
            tmp_path / f"identities_email_{number}.csv", ["external_id", "first_name"], [[spelling, "W"]]
        )
        report = ingest_file(store, path, ingest_settings)
        assert report.ok, report.error
    assert store.rows("SELECT external_id FROM identities") == [{"external_id": "ws@ex.com"}]
    assert store.scalar("SELECT count(*) FROM customers") == 1
    messages = write_csv(
        tmp_path / "messages_email.csv",
        ["thread_id", "external_id", "author_kind", "body", "created_at"],
        [["t1", " WS@Ex.com", "customer", "hello", "2024-05-01T09:00:00Z"]],
    )
    assert ingest_file(store, messages, ingest_settings).rows_loaded == 1
    assert store.scalar("SELECT count(*) FROM identities") == 1  # the message found its author


def test_phone_channel_ids_are_e164_and_float_phones_are_not_numbers(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = write_csv(
        tmp_path / "identities_sms.csv",
        ["external_id", "first_name", "phone"],
        [["+44 20 7946 0018", "Al", ""], ["+442079460018", "Al", ""], ["s-2", "Bo", "4.4770090013e11"]],
    )
    report = ingest_file(store, path, ingest_settings)
    assert report.ok, report.error
    ids = sorted(r["external_id"] for r in store.rows("SELECT external_id FROM identities"))
    assert ids == ["+442079460018", "s-2"]  # the second spelling is the same id (a duplicate in the file)
    mangled = store.rows("SELECT phone, phone_e164, phone_valid FROM identities WHERE external_id = 's-2'")
    assert mangled == [{"phone": "4.4770090013e11", "phone_e164": None, "phone_valid": False}]


def test_a_huge_field_is_kept_as_a_bounded_prefix_and_hash(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    huge = "x" * 3_000_000
    path = write_csv(
        tmp_path / "identities_chat.csv", ["external_id", "first_name"], [["c1", huge], ["c2", "Bo"]]
    )
    report = ingest_file(store, path, ingest_settings)
    assert report.rows_quarantined == 1
    raw_row = store.scalar("SELECT raw_row FROM quarantine")
    assert len(raw_row) < 25_000 and hashlib.sha256(huge.encode()).hexdigest() in raw_row
    assert json.loads(raw_row)["external_id"] == "c1"


def test_a_future_updated_at_is_flagged_and_orders_nothing(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    header = ["external_id", "first_name", "updated_at"]
    first = write_csv(tmp_path / "identities_chat_1.csv", header, [["c1", "Ann", "2999-01-01T00:00:00Z"]])
    report = ingest_file(store, first, ingest_settings)
    assert report.ok and report.warnings.get("updated_at") == 1, report
    assert store.scalar("SELECT updated_at FROM identities") is None
    correction = write_csv(
        tmp_path / "identities_chat_2.csv", header, [["c1", "Anne", "2024-06-01T00:00:00Z"]]
    )
    assert ingest_file(store, correction, ingest_settings).rows_updated == 1  # not "stale"
    assert store.scalar("SELECT first_name FROM identities") == "Anne"
    # a future time already in the store (loaded before this check) is not believed either
    with store.transaction():
        store.execute("UPDATE identities SET updated_at = TIMESTAMP '2999-01-01'")
    later = write_csv(tmp_path / "identities_chat_3.csv", header, [["c1", "Annie", "2024-07-01T00:00:00Z"]])
    assert ingest_file(store, later, ingest_settings).rows_updated == 1
    with store.transaction():
        store.execute(
            "UPDATE identities SET updated_at = TIMESTAMP '2999-01-01', changed_at = TIMESTAMP '2001-01-01', "
            "first_seen_at = TIMESTAMP '2001-01-01'"
        )
    assert compliance_sql.inactive_customers(store, datetime(2020, 1, 1)) == [1]  # retention comes due
