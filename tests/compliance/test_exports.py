"""Export runs: bundle contents against the store, manifest checksums, encryption, mode, audit, re-runs."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.requests import get_request, request_export
from compliance.runner import run_exports
from domain.settings import Settings
from exports import BundleError, open_bundle, verify_files
from exports.bundle import file_sha256
from store import Store
from tests.compliance.builders import ALICE_EMAIL, compliance_settings, people_store


@pytest.fixture
def people(tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with people_store(tmp_path, settings, tmp_path_factory) as store:
        yield store


def _export(people: Store, tmp_path: Path, **overrides: object) -> tuple[dict, dict[str, bytes]]:
    settings = compliance_settings(tmp_path, **overrides)
    request = request_export(people, "dpo", email=ALICE_EMAIL, reason="subject access request")
    summary = run_exports(people, settings, "export-flow")
    assert summary["done"] == [request["request_id"]] and summary["failed"] == []
    done = get_request(people, request["request_id"])
    assert done is not None
    files = open_bundle(Path(done["bundle_path"]).read_bytes(), settings.export_passphrase)
    return done, files


def test_bundle_holds_the_whole_record_of_the_person(people: Store, tmp_path: Path) -> None:
    done, files = _export(people, tmp_path)
    record = json.loads(files["record.json"])
    tables = record["tables"]
    # the person is customers 1 and 2 (merged): every row of theirs, and nobody else's
    assert [c["customer_id"] for c in tables["customers"]] == [1, 2]
    stored_identities = people.rows("SELECT identity_id, external_id FROM identities WHERE customer_id = 1")
    assert [(i["identity_id"], i["external_id"]) for i in tables["identities"]] == [
        (r["identity_id"], r["external_id"]) for r in stored_identities
    ]
    stored_messages = people.rows(
        """SELECT m.message_id, m.body FROM messages m JOIN conversations c USING (conversation_id)
        JOIN identities i ON i.identity_id = c.identity_id WHERE i.customer_id = 1 ORDER BY 1"""
    )
    assert [(m["message_id"], m["body"]) for m in tables["messages"]] == [
        (r["message_id"], r["body"]) for r in stored_messages
    ]
    assert len(tables["conversations"]) == 2 and [c["comment_id"] for c in tables["comments"]] == [1]
    assert [m["merge_id"] for m in tables["merges"]] == [1]
    assert record["lock"]["locked"] is False
    assert record["request_id"] == done["request_id"] and record["customer_ids"] == [1, 2]
    assert "Brian" not in files["record.json"].decode()
    # one CSV per table, with as many rows as the store
    for table, rows in tables.items():
        parsed = list(csv.DictReader(io.StringIO(files[f"{table}.csv"].decode())))
        assert len(parsed) == len(rows), table
    assert done["counts"] == {table: len(rows) for table, rows in tables.items()}


def test_manifest_lists_every_file_with_its_checksum(people: Store, tmp_path: Path) -> None:
    done, files = _export(people, tmp_path)
    manifest = verify_files(files)
    assert {entry["name"] for entry in manifest["files"]} == set(files) - {"manifest.json"}
    assert manifest["request_id"] == done["request_id"]
    assert manifest["schema_version"] == people.current_version()
    assert manifest["produced_at"] and manifest["counts"]["messages"] == 3
    assert file_sha256(Path(done["bundle_path"])) == done["bundle_sha256"]
    tampered = dict(files, **{"messages.csv": files["messages.csv"] + b"x"})
    with pytest.raises(BundleError, match=r"messages\.csv does not match"):
        verify_files(tampered)


def test_bundle_is_readable_by_its_owner_only(people: Store, tmp_path: Path) -> None:
    done, _ = _export(people, tmp_path)
    assert stat.S_IMODE(Path(done["bundle_path"]).stat().st_mode) == 0o600


def test_bundle_is_encrypted_with_the_configured_passphrase(people: Store, tmp_path: Path) -> None:
    done, files = _export(people, tmp_path, export_passphrase="correct horse battery")
    path = Path(done["bundle_path"])
    assert done["encrypted"] and path.name.endswith(".zip.enc")
    data = path.read_bytes()
    assert ALICE_EMAIL.encode() not in data and data.startswith(b"IDRESENC")
    assert "record.json" in files  # opened with the passphrase above
    with pytest.raises(BundleError, match="wrong passphrase"):
        open_bundle(data, "wrong")
    with pytest.raises(BundleError, match="encrypted"):
        open_bundle(data, None)


def test_export_is_audited_and_done_requests_are_not_redone(people: Store, tmp_path: Path) -> None:
    done, _ = _export(people, tmp_path)
    entries = people.rows("SELECT actor, details FROM audit_log WHERE action = 'export_produced'")
    assert len(entries) == 1
    details = json.loads(entries[0]["details"])
    assert details["requested_by"] == "dpo" and details["sha256"] == done["bundle_sha256"]
    assert details["bundle_path"] == done["bundle_path"]
    again = run_exports(people, compliance_settings(tmp_path), "export-flow")
    assert again["done"] == [] and len(list((tmp_path / "exports").iterdir())) == 1


def test_one_failing_request_does_not_block_the_others(people: Store, tmp_path: Path) -> None:
    first = request_export(people, "dpo", customer_id=3)
    second = request_export(people, "dpo", customer_id=4)
    with people.transaction():  # the customer vanished between request and run
        people.execute("DELETE FROM customers WHERE customer_id = 3")
    summary = run_exports(people, compliance_settings(tmp_path), "export-flow")
    assert summary["done"] == [second["request_id"]]
    assert [f["request_id"] for f in summary["failed"]] == [first["request_id"]]
    failed = get_request(people, first["request_id"])
    assert (
        failed is not None and failed["status"] == "failed" and "no longer exists" in failed["status_reason"]
    )


def test_a_locked_customer_is_exported_with_its_lock_state(people: Store, tmp_path: Path) -> None:
    with people.transaction():
        people.execute(
            "UPDATE customers SET locked = TRUE, lock_reason = 'legal hold', locked_by = 'sam' WHERE customer_id = 1"
        )
    _, files = _export(people, tmp_path)
    lock = json.loads(files["record.json"])["lock"]
    assert (lock["locked"], lock["lock_reason"], lock["locked_by"]) == (True, "legal hold", "sam")


def test_a_failed_commit_leaves_no_bundle_behind(
    people: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from store import StoreError

    request = request_export(people, "dpo", email=ALICE_EMAIL)
    real_execute = people.execute
    commits = []

    def execute_but_commit_fails(statement: str, params: object = None) -> None:
        if statement == "COMMIT" and not commits:  # e.g. the disk filled up while DuckDB wrote its WAL
            commits.append(statement)
            real_execute("ROLLBACK")
            raise StoreError("disk full", statement)
        real_execute(statement, params)  # type: ignore[arg-type]

    monkeypatch.setattr(people, "execute", execute_but_commit_fails)
    summary = run_exports(people, compliance_settings(tmp_path), "export-flow")
    monkeypatch.undo()

    assert summary["done"] == [] and [f["request_id"] for f in summary["failed"]] == [request["request_id"]]
    exports = tmp_path / "exports"
    assert not exports.exists() or list(exports.iterdir()) == []
