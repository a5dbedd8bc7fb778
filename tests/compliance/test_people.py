"""A person, not a customer: five unmerged customers of one person are found, confirmed and erased as one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.requests import (
    candidates_of,
    confirm_request,
    find_candidates,
    get_request,
    request_anonymization,
    request_export,
)
from compliance.runner import run_anonymizations, run_exports
from domain.settings import Settings
from exports import open_bundle
from ingest.pipeline import ingest_file
from store import Store, open_store, redirects, utcnow
from tests.compliance.builders import MESSAGE_HEADER, PEOPLE_HEADER, compliance_settings
from tests.helpers import write_csv

DANA_EMAIL = "dana.fox@example.com"
DANA = [  # customers 1..5: one person, never merged
    ["email", DANA_EMAIL, "Dana", "Fox", DANA_EMAIL, "+447700900111", "Leeds", ""],
    ["chat", "chat-dana-1", "Dana", "Fox", DANA_EMAIL, "", "Leeds", ""],
    ["twitter", "tw-dana", "Dana", "Fox", "", "+447700900111", "Leeds", "danafox"],
    ["phone", "07700 900222", "Dana", "Fox", "", "07700 900222", "Leeds", ""],
    ["facebook", "fb-9981", "D.", "Fox", "dfox@work.example", "07700 900222", "Leeds", ""],
]
OTHERS = [  # customers 6 and 7
    [
        "email",
        "brian.novak@example.org",
        "Brian",
        "Novak",
        "brian.novak@example.org",
        "+447700900333",
        "York",
        "",
    ],
    ["chat", "chat-chloe", "Chloe", "Ortiz", "chloe@example.net", "", "Bath", ""],
]
MESSAGES = [
    ["th-d1", "d1", "email", DANA_EMAIL, "customer", "", "Hi, Dana Fox here, my number is 07700 900222", "Parcel",
     "2024-03-01T10:00:00"],
    ["th-d2", "d2", "facebook", "fb-9981", "customer", "", "Please write to dfox@work.example", "",
     "2024-03-02T10:00:00"],
    ["th-b1", "b1", "email", "brian.novak@example.org", "customer", "", "Hello from Brian", "",
     "2024-03-03T10:00:00"],
]  # fmt: skip
LINKS = [(1, 2, 0.995), (2, 3, 0.99), (3, 4, 0.991), (4, 5, 0.993), (5, 6, 0.41)]  # the last: below review


@pytest.fixture
def dana(tmp_path: Path, settings: Settings) -> Iterator[Store]:
    with open_store(settings.store) as store:
        people = write_csv(tmp_path / "people.csv", PEOPLE_HEADER, DANA + OTHERS)
        assert ingest_file(store, people, settings.ingest).status == "loaded"
        messages = write_csv(tmp_path / "messages.csv", MESSAGE_HEADER, MESSAGES)
        assert ingest_file(store, messages, settings.ingest, kind="messages").status == "loaded"
        now = utcnow()
        with store.transaction():
            for number, (left, right, probability) in enumerate(LINKS, start=1):
                store.execute(
                    """INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, probability,
                        match_weight, band, status, evidence, evidence_hash, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 9.0, 'review', 'pending', ?, 'h', ?, ?)""",
                    [number, left, right, probability, json.dumps([{"field": "last_name"}]), now, now],
                )
        assert store.scalar("SELECT count(*) FROM customers") == 7
        yield store


def _dump(store: Store) -> str:
    tables = [r["table_name"] for r in store.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")]  # fmt: skip
    return "\n".join(str(store.rows(f"SELECT * FROM {t}")) for t in tables).lower()


def test_candidates_are_the_holders_and_their_pending_links_each_with_why(dana: Store) -> None:
    lookup = find_candidates(dana, email=DANA_EMAIL)
    assert sorted(lookup.candidates) == [1, 2, 3, 4, 5]
    assert lookup.candidates[1] == ["holds the e-mail address"]
    assert lookup.candidates[3][0].startswith(
        "linked to customer 2 by pending suggestion 2 (probability 0.99"
    )
    assert 6 not in lookup.candidates  # linked only below the review threshold
    assert sorted(find_candidates(dana, phone="07700 900222").candidates) == [1, 2, 3, 4, 5]
    assert sorted(find_candidates(dana, customer_id=6).candidates) == [6]


def test_five_customers_of_one_person_are_erased_as_one_and_verified(dana: Store, tmp_path: Path) -> None:
    brian_before = dana.rows("SELECT * FROM identities WHERE customer_id IN (6, 7) ORDER BY identity_id")
    request = request_anonymization(dana, "dpo", email=DANA_EMAIL, reason="erasure by letter")
    assert request["status"] == "needs_confirmation"
    shown = candidates_of(dana, request)
    assert [(c["customer_id"], c["name"]) for c in shown][:2] == [(1, "Dana Fox"), (2, "Dana Fox")]
    assert run_anonymizations(dana, compliance_settings(tmp_path), "flow")["done"] == []  # not confirmed yet
    confirm_request(dana, request["request_id"], [1, 2, 3, 4, 5], "dpo")
    summary = run_anonymizations(dana, compliance_settings(tmp_path), "flow")
    assert summary["failed"] == [] and summary["done"] == [request["request_id"]]
    done = get_request(dana, request["request_id"]) or {}
    assert done["status"] == "done" and done["customer_ids"] == [1, 2, 3, 4, 5]
    statuses = dana.rows("SELECT customer_id, status FROM customers ORDER BY customer_id")
    assert [s["status"] for s in statuses] == ["anonymized"] * 5 + ["active", "active"]
    text = _dump(dana)
    for value in (
        DANA_EMAIL,
        "dfox@work.example",
        "7700900111",
        "7700900222",
        "chat-dana-1",
        "tw-dana",
        "dana",
    ):
        assert value not in text, value
    # the other people are untouched, and the person's open suggestions left the queue
    assert (
        dana.rows("SELECT * FROM identities WHERE customer_id IN (6, 7) ORDER BY identity_id") == brian_before
    )
    assert "hello from brian" in text
    assert dana.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'") == 0
    assert redirects.live(dana, [1, 2, 3, 4, 5, 6]) == [6]


def test_an_export_returns_the_whole_person(dana: Store, tmp_path: Path) -> None:
    request = request_export(dana, "dpo", phone="+44 7700 900111", confirm_all=True)
    assert request["status"] == "pending" and request["customer_ids"] == [1, 2, 3, 4, 5]
    settings = compliance_settings(tmp_path)
    [produced] = run_exports(dana, settings, "flow")["bundles"]
    files = open_bundle(Path(produced["path"]).read_bytes())
    record = json.loads(files["record.json"])
    assert record["person_customers"] == [1, 2, 3, 4, 5]
    assert [c["customer_id"] for c in record["tables"]["customers"]] == [1, 2, 3, 4, 5]
    identities = files["identities.csv"].decode()
    for external_id in (DANA_EMAIL, "chat-dana-1", "tw-dana", "fb-9981"):
        assert external_id in identities
    assert "brian" not in identities.lower()
    assert "dfox@work.example" in files["messages.csv"].decode()
