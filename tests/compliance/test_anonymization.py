"""Anonymization runs: completeness, verification, irreversibility, re-appearance, locks, retention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from anonymize import identity_key_hash
from compliance.erasure import verify_erasure
from compliance.requests import get_request, request_anonymization, request_export
from compliance.runner import anonymization_key, run_anonymizations, run_exports
from domain.settings import Settings
from ingest.pipeline import ingest_file
from store import Store, match_runs, utcnow
from tests.compliance.builders import (
    ALICE_EMAIL,
    ALICE_PHONE,
    PEOPLE,
    PEOPLE_HEADER,
    compliance_settings,
    people_store,
)
from tests.helpers import write_csv

ALICE_VALUES = (ALICE_EMAIL, ALICE_PHONE, "c-alice-77", "07700 900001", "th-alice-1", "Alice Moss")


@pytest.fixture
def people(tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with people_store(tmp_path, settings, tmp_path_factory) as store:
        yield store


def _dump(store: Store) -> str:
    """Every row of every table as text (what a person with the database file could read)."""
    tables = [r["table_name"] for r in store.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")]  # fmt: skip
    return "\n".join(str(store.rows(f"SELECT * FROM {t}")) for t in tables).lower()


def _anonymize_alice(people: Store, tmp_path: Path, **overrides: object) -> dict:
    settings = compliance_settings(tmp_path, **overrides)
    request = request_anonymization(people, "dpo", email=ALICE_EMAIL, reason="erasure request")
    summary = run_anonymizations(people, settings, "anonymize-flow")
    assert summary["failed"] == [], summary
    assert summary["done"] == [request["request_id"]]
    return get_request(people, request["request_id"]) or {}


def test_every_value_of_the_person_is_gone_and_the_rest_stays(people: Store, tmp_path: Path) -> None:
    messages_before = people.scalar("SELECT count(*) FROM messages")
    agent_before = people.rows("SELECT agent_name, count(*) AS n FROM messages GROUP BY 1 ORDER BY 1")
    done = _anonymize_alice(people, tmp_path)
    assert done["status"] == "done" and done["lookup_value"] is None
    text = _dump(people)
    for value in ALICE_VALUES:
        assert value.lower() not in text, value
    assert "alice" not in text  # names too: profile, identities, free text, merge before-image, audit
    # other people untouched; counts, channels, times and the agent side of reports stay
    assert "brian.novak@example.org" in text and "hello brian" in text
    assert people.scalar("SELECT count(*) FROM messages") == messages_before
    assert people.rows("SELECT agent_name, count(*) AS n FROM messages GROUP BY 1 ORDER BY 1") == agent_before
    assert people.rows("SELECT channel FROM conversations ORDER BY conversation_id") == [
        {"channel": "email"}, {"channel": "email"}, {"channel": "chat"}]  # fmt: skip
    customers = people.rows(
        "SELECT customer_id, status, anonymized_at FROM customers WHERE customer_id IN (1, 2)"
    )
    assert all(c["status"] == "anonymized" and c["anonymized_at"] for c in customers)
    assert (
        people.scalar("SELECT count(*) FROM quarantine") == 1
    )  # Alice's quarantined row erased, not the other
    assert done["counts"]["messages"] == 3 and done["counts"]["quarantine_rows_deleted"] == 1


def test_audit_entry_holds_counts_and_no_personal_data(people: Store, tmp_path: Path) -> None:
    done = _anonymize_alice(people, tmp_path)
    [entry] = people.rows("SELECT * FROM audit_log WHERE action = 'anonymized'")
    details = json.loads(entry["details"])
    assert details["request_id"] == done["request_id"] and details["counts"]["identities"] == 2
    assert "alice" not in entry["details"].lower() and "7700" not in entry["details"]


def test_earlier_bundles_of_the_person_are_deleted(people: Store, tmp_path: Path) -> None:
    request_export(people, "dpo", customer_id=1)
    request_export(people, "dpo", customer_id=3)
    bundles = run_exports(people, compliance_settings(tmp_path), "export-flow")["bundles"]
    alice, brian = (Path(b["path"]) for b in bundles)
    done = _anonymize_alice(people, tmp_path)
    assert not alice.exists() and brian.exists()
    assert done["counts"]["export_bundles_deleted"] == 1
    exported = get_request(people, bundles[0]["request_id"]) or {}
    assert exported["status_reason"] == f"bundle deleted by erasure request {done['request_id']}"
    # no longer `done` with a path to a missing file (the page would offer a download that 404s)
    assert exported["status"] == "deleted" and exported["bundle_path"] is None
    assert (get_request(people, bundles[1]["request_id"]) or {})["status"] == "done"


def test_a_planted_leftover_fails_the_request_loudly(people: Store, tmp_path: Path) -> None:
    with people.transaction():  # someone copied Alice's number, national format, into a merge note of others
        people.execute(
            """INSERT INTO merges (merge_id, survivor_id, absorbed_id, kind, requested_by, applied_by, applied_at,
                before_image, comment) VALUES (9, 3, 4, 'manual', 'sam', 'sam', ?, '{}', ?)""",
            [utcnow(), "same person? rang 07700 900001"],
        )
    request = request_anonymization(people, "dpo", customer_id=1)
    summary = run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")
    assert [f["request_id"] for f in summary["failed"]] == [request["request_id"]]
    failed = get_request(people, request["request_id"]) or {}
    # Alice's own rows are erased: the request is incomplete (not failed) and says where the value is
    assert failed["status"] == "incomplete"
    assert "merges.comment row 9" in failed["status_reason"]
    assert people.scalar("SELECT status FROM customers WHERE customer_id = 1") == "anonymized"
    assert ALICE_EMAIL not in failed["status_reason"]  # places, never the value


@pytest.mark.parametrize("passphrase", [None, "pw"])
def test_a_leftover_file_in_the_export_folder_fails_the_verification(
    people: Store, tmp_path: Path, passphrase: str | None
) -> None:
    settings = compliance_settings(tmp_path, export_passphrase=passphrase)
    request_export(people, "dpo", customer_id=1)
    [bundle] = run_exports(people, settings, "export-flow")["bundles"]
    copy = tmp_path / "exports" / "copied-by-hand.zip"
    copy.write_bytes(Path(bundle["path"]).read_bytes())
    request = request_anonymization(people, "dpo", customer_id=1)
    summary = run_anonymizations(people, settings, "anonymize-flow")
    assert summary["failed"] and f"file {copy}" in summary["failed"][0]["reason"]
    assert (get_request(people, request["request_id"]) or {})["status"] == "incomplete"


def test_verification_finds_nothing_after_a_clean_run_but_sees_a_value_put_back(
    people: Store, tmp_path: Path
) -> None:
    settings = compliance_settings(tmp_path)
    from anonymize import person_values
    from store.compliance import person_tables

    values = person_values(*(person_tables(people, [1, 2])[t] for t in ("customers", "identities")))
    _anonymize_alice(people, tmp_path)
    assert verify_erasure(people, settings, [1, 2], values) == []
    with people.transaction():
        people.execute("UPDATE customers SET first_name = 'Alice' WHERE customer_id = 2")
        people.execute("UPDATE suggestions SET evidence = NULL")  # no-op on an empty table
    assert verify_erasure(people, settings, [1, 2], values) == ["customers.first_name (customer_id=2)"]


def test_identity_keys_are_kept_only_as_keyed_hashes(people: Store, tmp_path: Path) -> None:
    settings = compliance_settings(tmp_path)
    _anonymize_alice(people, tmp_path)
    key = anonymization_key(settings, people.path)
    hashes = {r["key_hash"] for r in people.rows("SELECT key_hash FROM erased_keys")}
    assert identity_key_hash(key, "email", ALICE_EMAIL) in hashes
    assert identity_key_hash(b"another key", "email", ALICE_EMAIL) not in hashes
    import hashlib

    plain = {hashlib.sha256(v.encode()).hexdigest() for v in (ALICE_EMAIL, f"email\x1f{ALICE_EMAIL}")}
    plain |= {hashlib.md5(v.encode()).hexdigest() for v in (ALICE_EMAIL, ALICE_PHONE)}
    assert not plain & set(_dump(people).split("'"))  # no plain hash of a guessable value anywhere
    # external ids are random tokens: two runs of the same data give different ones
    tokens = [r["external_id"] for r in people.rows("SELECT external_id FROM identities WHERE anonymized")]
    assert all(t.startswith("erased:") and len(t) == 39 for t in tokens) and len(set(tokens)) == 2
    assert (tmp_path / "anonymization.key").stat().st_mode & 0o777 == 0o600


def test_the_same_person_coming_back_is_a_new_customer_recognised_not_relinked(
    people: Store, tmp_path: Path, settings: Settings
) -> None:
    _anonymize_alice(people, tmp_path)
    again = write_csv(tmp_path / "identities-again.csv", PEOPLE_HEADER, [PEOPLE[0]])
    assert ingest_file(people, again, settings.ingest).status == "loaded"
    [back] = people.rows(
        "SELECT identity_id, customer_id FROM identities WHERE external_id = ?", [ALICE_EMAIL]
    )
    assert back["customer_id"] not in (1, 2)
    summary = run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")
    assert summary["reappeared"] == 1
    marked = people.rows("SELECT key_hash FROM identities WHERE identity_id = ?", [back["identity_id"]])[0]
    assert marked["key_hash"] in {r["key_hash"] for r in people.rows("SELECT key_hash FROM erased_keys")}
    [entry] = people.rows("SELECT * FROM audit_log WHERE action = 'reappeared_after_erasure'")
    assert "alice" not in entry["details"].lower()
    # matching never sees the anonymized customer or its identities
    identities, _, excluded = match_runs.load_match_input(people)
    assert {1, 2} <= set(excluded.to_list())
    assert not set(identities["customer_id"].to_list()) & {1, 2}
    assert run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")["reappeared"] == 0


def test_a_locked_customer_waits_until_unlocked(people: Store, tmp_path: Path) -> None:
    with people.transaction():
        people.execute(
            "UPDATE customers SET locked = TRUE, lock_reason = 'fraud check' WHERE customer_id = 1"
        )
    request = request_anonymization(people, "dpo", customer_id=1)
    summary = run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")
    assert summary["done"] == [] and summary["waiting"][0]["request_id"] == request["request_id"]
    waiting = get_request(people, request["request_id"]) or {}
    assert waiting["status"] == "waiting"
    assert waiting["status_reason"] == "customer 1 is locked (by unknown): unlock it to proceed"
    assert "fraud" not in str(summary)  # the lock reason is free text about the person: not in logs/artifacts
    assert ALICE_EMAIL in _dump(people)
    with people.transaction():
        people.execute("UPDATE customers SET locked = FALSE, lock_reason = NULL WHERE customer_id = 1")
    assert run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")["done"] == [
        request["request_id"]
    ]


def test_retention_anonymizes_customers_inactive_for_longer_than_the_period(
    people: Store, tmp_path: Path
) -> None:
    old = utcnow() - timedelta(days=400)
    with people.transaction():  # Brian (3) was last seen long ago; everybody else is recent
        people.execute("UPDATE identities SET updated_at = ?, changed_at = ?, first_seen_at = ? WHERE customer_id = 3",
                       [old, old, old])  # fmt: skip
        people.execute("UPDATE messages SET created_at = ? WHERE identity_id = 3", [old])
        people.execute("UPDATE comments SET created_at = ? WHERE customer_id = 3", [old])
        people.execute("UPDATE customers SET locked = TRUE WHERE customer_id = 4")  # locked: kept
        people.execute("UPDATE identities SET updated_at = ?, changed_at = ?, first_seen_at = ? WHERE customer_id = 4",
                       [old, old, old])  # fmt: skip
    summary = run_anonymizations(people, compliance_settings(tmp_path, retention_days=365), "anonymize-flow")
    [queued] = summary["retention_queued"]
    request = get_request(people, queued) or {}
    assert request["requested_by"] == "retention-policy" and request["customer_id"] == 3
    assert summary["done"] == [queued]
    assert people.scalar("SELECT status FROM customers WHERE customer_id = 3") == "anonymized"
    assert people.scalar("SELECT status FROM customers WHERE customer_id = 1") == "active"
    assert people.scalar("SELECT status FROM customers WHERE customer_id = 4") == "active"
    again = run_anonymizations(people, compliance_settings(tmp_path, retention_days=365), "anonymize-flow")
    assert again["retention_queued"] == [] and again["done"] == []


def test_a_duplicate_customer_holding_the_same_address_is_named_in_the_failure(
    people: Store, tmp_path: Path
) -> None:
    with people.transaction():  # customer 3 also has Alice's address: the same person, never merged
        people.execute("UPDATE identities SET email_norm = ? WHERE customer_id = 3", [ALICE_EMAIL])
    request = request_anonymization(people, "dpo", customer_id=1)
    summary = run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")
    assert [f["request_id"] for f in summary["failed"]] == [request["request_id"]]
    reason = (get_request(people, request["request_id"]) or {})["status_reason"]
    assert "customers 3 hold the same identifiers" in reason
    assert "identity 3 (email_norm) (customer 3's data" in reason


def test_a_second_request_for_an_anonymized_customer_is_done_without_work(
    people: Store, tmp_path: Path
) -> None:
    first = request_anonymization(people, "dpo", customer_id=1)
    second = request_anonymization(people, "dpo", customer_id=1)
    summary = run_anonymizations(people, compliance_settings(tmp_path), "anonymize-flow")
    assert summary["done"] == [first["request_id"], second["request_id"]] and summary["failed"] == []
    assert (get_request(people, second["request_id"]) or {})[
        "status_reason"
    ] == "customer 1 was already anonymized"


def test_recognition_after_ingest_costs_nothing_before_any_erasure(people: Store, tmp_path: Path) -> None:
    from compliance.runner import recognise_after_ingest

    settings = compliance_settings(tmp_path)
    assert recognise_after_ingest(people, settings) == 0
    assert not (tmp_path / "anonymization.key").exists()  # no key is made for nothing


def test_demo_customer_is_exported_and_anonymized_cleanly(people: Store, tmp_path: Path) -> None:
    from compliance.requests import get_request, request_anonymization, request_export
    from compliance.runner import pick_demo_customer, run_anonymizations, run_exports

    settings = compliance_settings(tmp_path)
    assert (
        pick_demo_customer(people) == 1
    )  # the busiest customer; nobody else holds or mentions its identifiers
    with people.transaction():  # Alice's address in a note on Brian: erasing her would not verify
        people.execute(
            "INSERT INTO comments VALUES (9, 3, NULL, 'sam', ?, ?)", [f"cc {ALICE_EMAIL}", utcnow()]
        )
    assert pick_demo_customer(people) == 3
    assert pick_demo_customer(people, exclude=[3]) is None  # Chloe has no messages
    with people.transaction():  # an open suggestion keeps 1 and 3 out: erasing them would disturb the queue
        people.execute("UPDATE suggestions SET status = 'pending'")
    assert pick_demo_customer(people) is None
    with people.transaction():
        people.execute("UPDATE suggestions SET status = 'rejected'")
    # as `make demo` does: queue the requests, then the runs of the two flows carry them out
    export_id = request_export(people, "demo", customer_id=1, reason="demo")["request_id"]
    run_exports(people, settings, "demo")
    exported = get_request(people, export_id) or {}
    assert exported["status"] == "done" and Path(exported["bundle_path"]).exists()
    erasure_id = request_anonymization(people, "demo", customer_id=3, reason="demo")["request_id"]
    run_anonymizations(people, settings, "demo")
    erased = get_request(people, erasure_id) or {}
    assert erased["status"] == "done" and erased["counts"]["identities"] == 1
