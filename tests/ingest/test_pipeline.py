"""Ingest end to end against a store in tmp_path: load, quarantine, idempotency, updates, rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ingest.pipeline as pipeline
import store.identities as store_identities
from domain.settings import IngestSettings
from ingest.pipeline import ingest_file
from ingest.read import RawFile, read_file
from store import Store
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "updated_at"]


def _identities(tmp_path: Path, rows: list[list[str]], name: str = "identities.csv") -> Path:
    return write_csv(tmp_path / name, HEADER, rows)


def _snapshot(store: Store) -> dict[str, list[dict[str, object]]]:
    return {
        table: store.rows(f"SELECT * FROM {table} ORDER BY 1")
        for table in ("identities", "customers", "ingest_batches", "quarantine", "conversations", "messages")
    }


def test_loads_valid_rows_and_quarantines_the_rest(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = _identities(
        tmp_path,
        [
            ["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", "2024-01-01"],
            ["pager", "123", "Bo", "", "", "", ""],  # unknown channel
            ["email", "", "No", "Id", "", "", ""],  # missing external id
            ["email", "bad", "Cy", "", "not-an-email", "", ""],  # invalid email: a warning, loaded
            ["sms", "07911123456", "", "", "", "07911123456", "yesterday"],  # bad timestamp: a warning
            [
                "email",
                "ann@example.com",
                "Ann",
                "Lee",
                "ann@example.com",
                "",
                "2024-01-01",
            ],  # duplicate in batch
            ["chat", "v-" + "x" * 5000, "", "", "", "", ""],  # absurdly long value
        ],
    )
    report = ingest_file(store, path, ingest_settings)
    assert report.status == "loaded"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (7, 3, 4)
    assert report.warnings == {"email": 1, "updated_at": 1}
    assert report.quarantine_reasons == {
        "channel is not a configured channel": 1,
        "duplicate (channel, external_id) in the batch (the first occurrence is kept)": 1,
        "external_id is longer than 2000 characters": 1,
        "external_id is missing": 1,
    }
    rows = store.rows("SELECT row_number, expectation, reason, raw_row FROM quarantine ORDER BY row_number")
    assert [row["row_number"] for row in rows] == [2, 3, 6, 7]
    # the identity with the bad email exists, with its raw value and no normalized one
    cy = store.rows("SELECT email, email_norm, email_valid FROM identities WHERE external_id = 'bad'")
    assert cy == [{"email": "not-an-email", "email_norm": None, "email_valid": False}]
    sms = store.rows("SELECT updated_at, extra FROM identities WHERE channel = 'sms'")
    assert sms[0]["updated_at"] is None
    assert json.loads(sms[0]["extra"]) == {"updated_at_unparsed": "yesterday"}  # the raw value is kept
    assert all(row["reason"] for row in rows)
    assert json.loads(rows[0]["raw_row"])["channel"] == "pager"
    batch = store.rows("SELECT * FROM ingest_batches")[0]
    assert batch["rows_loaded"] + batch["rows_quarantined"] == batch["rows_read"] == 7
    assert json.loads(batch["validation"])["warnings"] == report.warnings  # kept with the batch


def test_new_identity_gets_a_customer_of_its_own(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    ingest_file(
        store,
        _identities(
            tmp_path,
            [
                ["email", "ann@example.com", "Ann", "Lee", "Ann@Example.com", "", ""],
                ["sms", "+447911123456", "", "", "", "+44 7911 123456", ""],
            ],
        ),
        ingest_settings,
    )
    identities = store.rows(
        "SELECT identity_id, customer_id, email_norm, phone_e164 FROM identities ORDER BY 1"
    )
    assert len({row["customer_id"] for row in identities}) == 2
    customers = store.rows("SELECT customer_id, first_name, emails, phones FROM customers ORDER BY 1")
    assert customers[0]["emails"] == ["ann@example.com"]
    assert customers[1]["phones"] == ["+447911123456"]


def test_reingesting_the_same_file_changes_nothing(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = _identities(tmp_path, [["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", ""]])
    first = ingest_file(store, path, ingest_settings)
    before = _snapshot(store)
    again = ingest_file(store, path, ingest_settings)
    assert again.status == "unchanged" and again.previous_batch_id == first.batch_id
    assert _snapshot(store) == before


def test_same_rows_in_another_file_count_as_unchanged(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    rows = [["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", ""]]
    ingest_file(store, _identities(tmp_path, rows), ingest_settings)
    more = [*rows, ["email", "bo@example.com", "Bo", "", "bo@example.com", "", ""]]
    report = ingest_file(store, _identities(tmp_path, more, "identities_more.csv"), ingest_settings)
    assert (report.rows_new, report.rows_updated, report.rows_unchanged) == (1, 0, 1)
    assert store.scalar("SELECT count(*) FROM identities") == 2


def test_newer_record_updates_identity_and_keeps_its_customer(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    ingest_file(
        store,
        _identities(
            tmp_path,
            [["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", "2024-01-01T00:00:00Z"]],
        ),
        ingest_settings,
    )
    store.execute("UPDATE identities SET match_pending = FALSE")
    customer = store.scalar("SELECT customer_id FROM identities")
    report = ingest_file(
        store,
        _identities(
            tmp_path,
            [
                [
                    "email",
                    "ann@example.com",
                    "Ann",
                    "Lee-Smith",
                    "ann@example.com",
                    "+447911123456",
                    "2024-03-01T00:00:00Z",
                ]
            ],
            "identities_v2.csv",
        ),
        ingest_settings,
    )
    assert report.rows_updated == 1
    row = store.rows("SELECT customer_id, last_name, phone_e164, match_pending, updated_at FROM identities")[
        0
    ]
    assert row["customer_id"] == customer
    assert row["last_name"] == "Lee-Smith" and row["phone_e164"] == "+447911123456"
    assert row["match_pending"] is True
    assert store.scalar("SELECT last_name FROM customers WHERE customer_id = ?", [customer]) == "Lee-Smith"

    stale = ingest_file(
        store,
        _identities(
            tmp_path,
            [["email", "ann@example.com", "Ann", "Old", "ann@example.com", "", "2023-01-01T00:00:00Z"]],
            "identities_old.csv",
        ),
        ingest_settings,
    )
    assert stale.rows_stale == 1
    assert store.scalar("SELECT last_name FROM identities") == "Lee-Smith"


def test_a_changed_identity_of_a_merged_customer_updates_its_profile(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    from domain.settings import ReviewSettings
    from review.merging import merge_customers, profile_rebuilder

    ingest_file(
        store,
        _identities(
            tmp_path,
            [
                ["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", "2024-01-01T00:00:00Z"],
                ["sms", "+447911123456", "Ann", "Lee", "", "+447911123456", "2024-01-02T00:00:00Z"],
            ],
        ),
        ingest_settings,
    )
    merged = merge_customers(store, 1, 2, "agent", ReviewSettings())
    assert store.scalar("SELECT last_name FROM customers WHERE customer_id = 1") == "Lee", merged
    ingest_file(
        store,
        _identities(
            tmp_path,
            [["sms", "+447911123456", "Ann", "Lee-Smith", "", "+447911123456", "2024-05-01T00:00:00Z"]],
            "identities_v2.csv",
        ),
        ingest_settings,
        rebuild_profiles=profile_rebuilder(ReviewSettings()),
    )
    # survivorship's "most recent value" now comes from the changed identity
    assert store.scalar("SELECT last_name FROM customers WHERE customer_id = 1") == "Lee-Smith"
    assert store.scalar("SELECT status FROM customers WHERE customer_id = 2") == "merged"


def test_changing_a_merged_customer_without_a_profile_rebuilder_writes_nothing(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    # ingest sits below review: the caller hands it survivorship; forgetting it is a bug, not a skip
    from domain.settings import ReviewSettings
    from review.merging import merge_customers

    rows = [
        ["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", "2024-01-01T00:00:00Z"],
        ["sms", "+447911123456", "Ann", "Lee", "", "+447911123456", "2024-01-02T00:00:00Z"],
    ]
    ingest_file(store, _identities(tmp_path, rows), ingest_settings)
    merge_customers(store, 1, 2, "agent", ReviewSettings())
    changed = [["sms", "+447911123456", "Ann", "Lee-Smith", "", "+447911123456", "2024-05-01T00:00:00Z"]]
    with pytest.raises(RuntimeError, match="pass rebuild_profiles"):
        ingest_file(store, _identities(tmp_path, changed, "identities_v2.csv"), ingest_settings)
    assert store.scalar("SELECT count(*) FROM ingest_batches") == 1
    assert store.scalar("SELECT last_name FROM identities WHERE channel = 'sms'") == "Lee"


def test_a_failure_mid_load_leaves_the_store_as_it_was(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_file(
        store,
        _identities(tmp_path, [["email", "a@example.com", "A", "", "a@example.com", "", ""]]),
        ingest_settings,
    )
    before = _snapshot(store)

    def explode(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C after identities were written

    monkeypatch.setattr("ingest.pipeline.insert_quarantine", explode)
    path = _identities(
        tmp_path,
        [
            ["email", "b@example.com", "B", "", "b@example.com", "", ""],
            ["pager", "1", "", "", "", "", ""],
        ],
        "identities_2.csv",
    )
    with pytest.raises(KeyboardInterrupt):
        ingest_file(store, path, ingest_settings)
    assert _snapshot(store) == before
    monkeypatch.undo()
    assert ingest_file(store, path, ingest_settings).rows_new == 1  # and the re-run finishes the work


def test_markup_and_sql_in_names_are_plain_data(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    evil = ["<script>alert(1)</script>", "Robert'); DROP TABLE identities;--"]
    ingest_file(store, _identities(tmp_path, [["chat", "v1", evil[0], evil[1], "", "", ""]]), ingest_settings)
    assert store.rows("SELECT first_name, last_name FROM identities")[0] == {
        "first_name": evil[0],
        "last_name": evil[1],
    }


def test_a_file_with_nothing_valid_is_rejected(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    report = ingest_file(store, _identities(tmp_path, [["pager", "1", "", "", "", "", ""]]), ingest_settings)
    assert report.status == "rejected" and not report.ok
    assert store.scalar("SELECT count(*) FROM quarantine") == 1


def test_unreadable_file_writes_nothing(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = tmp_path / "identities.csv"
    path.write_bytes(b"")
    report = ingest_file(store, path, ingest_settings)
    assert report.status == "failed" and "empty" in (report.error or "")
    assert store.scalar("SELECT count(*) FROM ingest_batches") == 0


def test_messages_make_conversations_and_bare_identities(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    header = [
        "thread_id",
        "message_id",
        "channel",
        "external_id",
        "author_kind",
        "agent_name",
        "body",
        "created_at",
    ]
    path = write_csv(
        tmp_path / "messages_chat.csv",
        header,
        [
            ["t1", "m1", "chat", "visitor-1", "customer", "", "Hello, I'm Ann", "2024-01-01T10:00:00Z"],
            ["t1", "m2", "chat", "visitor-1", "Agent", "Sam", "Hi Ann", "2024-01-01T10:01:00Z"],
            ["t1", "m3", "chat", "visitor-1", "agent", "", "no agent name", "2024-01-01T10:02:00Z"],
        ],
    )
    report = ingest_file(store, path, ingest_settings)
    assert (report.rows_loaded, report.rows_quarantined, report.identities_created) == (2, 1, 1)
    assert store.scalar("SELECT count(*) FROM conversations") == 1
    assert [r["author_kind"] for r in store.rows("SELECT author_kind FROM messages ORDER BY created_at")] == [
        "customer",
        "agent",
    ]
    assert ingest_file(store, path, ingest_settings).status == "unchanged"


def test_loader_counts_every_valid_row(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    rows = [["sms", f"+4479111234{i:02d}", "", "", "", "", ""] for i in range(40)]
    report = ingest_file(store, _identities(tmp_path, rows), ingest_settings)
    assert report.rows_new == 40 == store_identities.LoadCounts(new=40).loaded


def test_new_ids_follow_the_file_order(tmp_path: Path, store: Store, ingest_settings: IngestSettings) -> None:
    # enough rows for DuckDB to join in parallel, which does not keep row order by itself
    rows = [["sms", f"+44791{i:06d}", "", "", "", "", ""] for i in range(50_000)]
    ingest_file(store, _identities(tmp_path, rows), ingest_settings)
    ids = store.frame("SELECT identity_id, customer_id, external_id FROM identities ORDER BY identity_id")
    assert ids["external_id"].to_list() == [row[1] for row in rows]
    assert ids["customer_id"].to_list() == ids["identity_id"].to_list()


def test_a_name_column_is_the_display_name(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    # a Zendesk-like export with one `name` field: the customer must not be nameless
    path = write_csv(tmp_path / "identities_chat.csv", ["external_id", "name"], [["v-1", "Ann Lee"]])
    ingest_file(store, path, ingest_settings)
    row = store.rows("SELECT display_name, first_name_norm, last_name_norm, extra FROM identities")[0]
    assert (row["display_name"], row["first_name_norm"], row["last_name_norm"]) == ("Ann Lee", "ann", "lee")
    assert row["extra"] is None


def test_messages_without_author_kind_are_the_customers(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    path = write_csv(
        tmp_path / "messages_chat.csv",
        ["thread_id", "external_id", "body", "created_at"],
        [
            ["t1", "visitor-1", "Hello", "2024-01-01T10:00:00Z"],
            ["t1", "visitor-1", "Hi?", "2024-01-01T10:01:00Z"],
        ],
    )
    report = ingest_file(store, path, ingest_settings)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 0)
    assert {r["author_kind"] for r in store.rows("SELECT author_kind FROM messages")} == {"customer"}


def test_validation_holds_the_data_docs_folder_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ingest_settings: IngestSettings
) -> None:
    # two ingests at once shared GX's file project and one failed with CheckpointNotFreshError
    import fcntl

    import ingest.pipeline as pipeline
    from ingest.read import read_file

    seen: list[bool] = []
    real_validate = pipeline.validate_files

    def validate_while_probing(*args, **kwargs):  # type: ignore[no-untyped-def]
        lock_file = ingest_settings.data_docs_dir / ".idres-gx.lock"
        with lock_file.open("a") as other:  # another open file: what a second process would do
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append(True)
            else:
                seen.append(False)
                fcntl.flock(other, fcntl.LOCK_UN)
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(pipeline, "validate_files", validate_while_probing)
    path = write_csv(tmp_path / "identities_chat.csv", ["external_id", "first_name"], [["c1", "Cy"]])
    pipeline.prepare(read_file(path, ingest_settings), ingest_settings)

    assert seen == [True]


_VALIDATING_CHILD = """
import os, sys
from pathlib import Path
import polars as pl
import ingest.pipeline as pipeline
from domain.settings import IngestSettings
from ingest.read import read_file

docs, folder, files = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
settings = IngestSettings(data_docs_dir=docs, landing_dir=folder)
for number in range(files):
    path = folder / f"identities_{os.getpid()}_{number}.csv"
    pl.DataFrame({"channel": ["email", "email"], "external_id": [f"a{number}@x.org", "not an address"],
                  "first_name": ["Ann", "Bo"]}).write_csv(path)
    raw = read_file(path, settings)
    if number % 2:  # as a flow of many files validates: the Data Docs built once at the end
        with pipeline.data_docs_once(settings):
            outcome = pipeline.prepare(raw, settings).outcome
    else:
        outcome = pipeline.prepare(raw, settings).outcome
    assert outcome.summary["counts_agree"], outcome.summary
print("validated", files)
"""


@pytest.mark.slow
def test_two_processes_validating_into_one_data_docs_folder_both_succeed(tmp_path: Path) -> None:
    # each process cached its GX set-up; the other re-saved the suite under it, and every later
    # validation failed with ...RelatedResourcesFreshnessError or "ExpectationSuite ... not found"
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    docs, folder = tmp_path / "gx_docs", tmp_path / "landing"
    folder.mkdir()
    command = [sys.executable, "-c", _VALIDATING_CHILD, str(docs), str(folder), "2"]
    children = [
        subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(child.wait(timeout=600), *child.communicate()) for child in children]
    assert [(rc, out.strip()) for rc, out, _ in results] == [(0, "validated 2")] * 2, [
        err[-2000:] for _, _, err in results
    ]
    pages = list((docs / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations").rglob("*.html"))
    assert len(pages) == 4  # every validation of both has its page


def test_the_national_digits_of_every_phone_are_stored(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    rows = [
        ["chat", "c1", "Léa", "Roux", "", "06 12 34 56 78", ""],  # French national format, default GB
        ["whatsapp", "33612345678", "", "", "", "33612345678", ""],
        ["chat", "c2", "Ann", "Lee", "", "+44 7911 123456", ""],
    ]
    ingest_file(store, _identities(tmp_path, rows), ingest_settings)
    stored = store.rows("SELECT external_id, phone_e164, phone_national FROM identities ORDER BY 1")
    by_id = {row["external_id"]: row for row in stored}
    # no fabricated E.164 for the national number, and the same matching key as its international form
    assert by_id["c1"]["phone_e164"] is None
    assert by_id["c1"]["phone_national"] == by_id["+33612345678"]["phone_national"] == "612345678"
    assert by_id["c2"]["phone_national"] == "7911123456"


def _three_files(tmp_path: Path, ingest_settings: IngestSettings) -> list[RawFile]:
    files = [
        [["chat", "a1", "Léa", "Roux", "LEA@Example.com ", "06 12 34 56 78", "2024-01-02"]],
        [
            ["whatsapp", "33612345678", "", "", "", "33612345678", "2099-01-01"],
            ["chat", "b2", "Ann", "Lee", "ann@example", "4.4770090013e11", "yesterday"],
        ],
        [["chat", "c1", "Bo", "Ek", "", "+44 7911 123456", ""], ["", "", "", "", "", "", ""]],
    ]
    return [
        read_file(_identities(tmp_path, rows, f"identities_{i}.csv"), ingest_settings)
        for i, rows in enumerate(files)
    ]


def test_files_of_one_layout_are_normalized_in_one_pass(
    tmp_path: Path, ingest_settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = _three_files(tmp_path, ingest_settings)
    alone = [pipeline.normalized(raw, ingest_settings) for raw in raws]
    calls: list[int] = []
    real = pipeline.normalize_identities

    def counted(frame: pl.DataFrame, *args: Any, **kwargs: Any) -> pl.DataFrame:
        calls.append(frame.height)
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(pipeline, "normalize_identities", counted)
    prepared = pipeline.prepare_files(raws, ingest_settings)
    assert calls == [5]  # one pass over the 5 rows of the 3 files
    assert [p.raw.path for p in prepared if isinstance(p, pipeline.Prepared)] == [raw.path for raw in raws]
    # each file's rows as normalizing it alone makes them
    for joint, own in zip(pipeline.normalized_files(raws, ingest_settings), alone, strict=True):
        assert isinstance(joint, pl.DataFrame)
        assert_frame_equal(joint, own)


def test_a_file_that_breaks_the_joint_pass_fails_alone(
    tmp_path: Path, ingest_settings: IngestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = _three_files(tmp_path, ingest_settings)
    # another layout (no phone column): normalized alone, as before
    other = write_csv(tmp_path / "identities_x.csv", ["external_id"], [["x@example.com"]])
    raws.append(read_file(other, ingest_settings))
    real = pipeline.normalize_identities

    def explodes_on_ann(frame: pl.DataFrame, *args: Any, **kwargs: Any) -> pl.DataFrame:
        if "Ann" in frame.get_column("first_name").to_list():
            raise ZeroDivisionError("an unforeseen bug")
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(pipeline, "normalize_identities", explodes_on_ann)
    results = pipeline.normalized_files(raws, ingest_settings)
    assert [type(result).__name__ for result in results] == [
        "DataFrame",
        "ZeroDivisionError",
        "DataFrame",
        "DataFrame",
    ]
    prepared = pipeline.prepare_files(raws, ingest_settings)
    assert isinstance(prepared[1], ZeroDivisionError)
    assert [p.raw.rows for p in prepared if isinstance(p, pipeline.Prepared)] == [1, 2, 1]
