"""Page actions keep the store and the screen in agreement: refusals that record why stay recorded."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from domain.settings import Settings
from domain.statuses import HIDDEN_BANDS
from store import open_store, utcnow
from tests.web.pages import flash_of, login
from web.routes_review import PAGE_SIZE


def _stale_suggestion(settings: Settings, rank: int = 0) -> int:
    """A pending suggestion whose right customer was anonymized since the match run."""
    with open_store(settings.store) as store:
        row = store.rows(
            "SELECT suggestion_id, customer_id_r FROM suggestions WHERE status = 'pending' "
            "ORDER BY probability DESC, suggestion_id LIMIT 1 OFFSET ?",
            [rank],
        )[0]
        store.execute(
            "UPDATE customers SET status = 'anonymized', anonymized_at = ? WHERE customer_id = ?",
            [utcnow(), row["customer_id_r"]],
        )
    return int(row["suggestion_id"])


def _status(settings: Settings, suggestion_id: int) -> str:
    with open_store(settings.store) as store:
        return str(store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [suggestion_id]))


def test_deciding_a_stale_suggestion_on_the_page_marks_it_superseded(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    approve_target = _stale_suggestion(web_settings, 0)
    page = client.post(f"/suggestions/{approve_target}/approve", data={"csrf_token": csrf})
    assert "marked superseded" in flash_of(page.text)
    assert _status(web_settings, approve_target) == "superseded"
    assert f'id="s{approve_target}"' not in client.get("/queue").text
    reject_target = _stale_suggestion(web_settings, 0)
    page = client.post(f"/suggestions/{reject_target}/reject", data={"csrf_token": csrf})
    assert "marked superseded" in flash_of(page.text)
    assert _status(web_settings, reject_target) == "superseded"


def test_a_queued_stale_decision_marks_it_superseded_when_drained(
    client: TestClient, web_settings: Settings
) -> None:
    gate = client.app.state.gate
    target = _stale_suggestion(web_settings)
    outbox_id = gate.outbox.add("alice", "approve", {"suggestion_id": target})
    assert gate.drain_once() == 1
    result = {row["outbox_id"]: row for row in gate.outbox.results("alice")}[outbox_id]
    assert result["status"] == "failed" and "superseded" in result["message"]
    assert _status(web_settings, target) == "superseded"


def test_skipped_suggestions_are_remembered_on_reload_and_shown_last(
    client: TestClient, web_settings: Settings
) -> None:
    login(client, "alice")
    with open_store(web_settings.store) as store:
        first, second = (r["suggestion_id"] for r in store.rows(
            "SELECT suggestion_id FROM suggestions WHERE status = 'pending' "
            "ORDER BY probability DESC, suggestion_id LIMIT 2"))  # fmt: skip
        hidden = ", ".join(f"'{band}'" for band in sorted(HIDDEN_BANDS))
        pending = int(store.scalar(
            f"SELECT count(*) FROM suggestions WHERE status = 'pending' AND band NOT IN ({hidden})"))  # fmt: skip
    client.cookies.set("idres_skipped", f"{first}-junk-{first}")  # what app.js writes on `s`
    page = client.get("/queue").text
    order = re.findall(r'<li class="suggestion( skipped)?" id="s(\d+)"', page)
    assert order[0] == ("", str(second))  # the skipped one is no longer at the top
    # shown last: at the end of the queue's last page (more pending than a page holds)
    pages = -(-pending // PAGE_SIZE)
    last = re.findall(
        r'<li class="suggestion( skipped)?" id="s(\d+)"', client.get(f"/queue?page={pages}").text
    )
    assert last[-1] == (" skipped", str(first))
    assert "idres_skipped" in client.get("/static/app.js").text


def test_no_comment_on_an_anonymized_customer_or_its_conversations(
    client: TestClient, web_settings: Settings
) -> None:
    from review.customers import add_comment
    from review.errors import ReviewError

    csrf = login(client, "alice")
    with open_store(web_settings.store) as store:
        customer, conversation = store.rows(
            """SELECT i.customer_id, c.conversation_id FROM conversations c JOIN identities i USING (identity_id)
            ORDER BY c.conversation_id LIMIT 1"""
        )[0].values()
        store.execute(
            "UPDATE customers SET status = 'anonymized', anonymized_at = ? WHERE customer_id = ?",
            [utcnow(), customer],
        )
        with pytest.raises(ReviewError, match="anonymized"):
            add_comment(store, "alice", "note", conversation_id=conversation)
    page = client.post(
        f"/customers/{customer}/comment",
        data={"csrf_token": csrf, "body": "still here?", "conversation_id": str(conversation)},
    )
    assert "anonymized" in flash_of(page.text)
    assert (
        'action="/customers/' + str(customer) + '/comment"'
        not in client.get(f"/customers/{customer}/summary").text
    )
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT count(*) FROM comments WHERE body = 'still here?'") == 0


def test_possible_duplicates_card_then_merge_now_and_undo_from_the_page(
    client: TestClient, web_settings: Settings
) -> None:
    with open_store(web_settings.store) as store:
        top = store.rows(
            "SELECT suggestion_id, customer_id_l, customer_id_r FROM suggestions WHERE status = 'pending' "
            "AND NOT related_only ORDER BY probability DESC, suggestion_id LIMIT 1"
        )[0]
        before = store.rows(
            "SELECT customer_id, identity_id FROM identities WHERE customer_id IN (?, ?) ORDER BY identity_id",
            [top["customer_id_l"], top["customer_id_r"]],
        )
    sid, left, right = top["suggestion_id"], top["customer_id_l"], top["customer_id_r"]
    csrf = login(client, "alice")
    panel = client.get(f"/customers/{right}/summary").text
    assert "Possible duplicates" in panel and f'id="dup{sid}"' in panel
    assert f'action="/suggestions/{sid}/approve"' in panel and f"/customers/{left}/summary" in panel
    approved = client.post(
        f"/suggestions/{sid}/approve", data={"csrf_token": csrf, "back": f"/customers/{right}/summary"}
    )
    assert (
        "approved, waiting for merge" in approved.text
        and f'action="/suggestions/{sid}/merge-now"' in approved.text
    )
    assert "approved, waiting for merge" in client.get(f"/customers/{left}/summary").text  # on both customers
    merged = client.post(
        f"/suggestions/{sid}/merge-now", data={"csrf_token": csrf, "back": f"/customers/{right}/summary"}
    )
    assert "merged now" in flash_of(merged.text), flash_of(merged.text)
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [sid]) == "applied"
        merge = store.rows(
            "SELECT merge_id, apply_run_id, applied_by FROM merges WHERE suggestion_id = ?", [sid]
        )[0]
    assert merge["applied_by"] == "alice" and merge["apply_run_id"] is not None  # the audited apply path
    client.post(f"/customers/{left}/comment", data={"csrf_token": csrf, "body": "spoke to them"})
    summary = client.get(f"/customers/{left}/summary").text
    assert f"alice merged customer {right} into this customer (suggestion {sid})" in summary  # in words
    assert summary.count("spoke to them") == 1  # a comment is listed once
    assert summary.index('class="comment"') < summary.index('<ol class="activity">')  # the box on top
    assert (
        f"/merges/{merge['merge_id']}/undo" not in client.get(f"/customers/{left}/summary").text
    )  # agents may not
    refused = client.post(f"/merges/{merge['merge_id']}/undo", data={"csrf_token": csrf})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "adam")
    panel = client.get(f"/customers/{left}/summary").text
    assert f"/merges/{merge['merge_id']}/undo" in panel
    undone = client.post(
        f"/merges/{merge['merge_id']}/undo", data={"csrf_token": csrf, "back": f"/customers/{left}/summary"}
    )
    assert f"merge {merge['merge_id']} undone" in flash_of(undone.text)
    with open_store(web_settings.store) as store:
        after = store.rows(
            "SELECT customer_id, identity_id FROM identities WHERE customer_id IN (?, ?) ORDER BY identity_id",
            [left, right],
        )
        assert store.scalar("SELECT status FROM customers WHERE customer_id = ?", [right]) == "active"
    assert after == before


def test_evidence_shows_values_as_ingested_and_probabilities_with_digits(
    client: TestClient, web_settings: Settings
) -> None:
    from web.evidence import as_ingested, probability_text

    shown = as_ingested(
        [{"field": "first_name", "value_l": "anne", "value_r": "anne", "level": "exact", "weight": 3.0},
         {"field": "city", "value_l": "leeds", "value_r": "leeds", "level": "exact", "weight": 1.0}],
        {"first_name": "Anne", "city": "Leeds"}, {"first_name": "ANNE", "city": "Leeds"},
    )  # fmt: skip
    assert [(e["value_l"], e["level"], e["value_r"]) for e in shown] == [
        ("Anne", "same after normalizing", "ANNE"), ("Leeds", "exact", "Leeds")]  # fmt: skip
    assert probability_text(0.95) == "95.0%" and probability_text(0.99973) == "99.973%"
    assert probability_text(0.9999999) == "> 99.999%"
    login(client, "alice")
    page = client.get("/queue").text
    with open_store(web_settings.store) as store:
        raw = store.rows("SELECT first_name FROM identities WHERE first_name <> lower(first_name) LIMIT 1")
    assert raw and "100.0%" not in page


def test_search_finds_national_phones_folded_accents_prefixes_and_ids_with_all_channels(
    client: TestClient, web_settings: Settings
) -> None:
    from review.search import search_customers

    login(client, "alice")
    with open_store(web_settings.store) as store:
        phone = store.rows(
            "SELECT customer_id, phone_e164 FROM identities WHERE phone_e164 LIKE '+44%' AND phone_valid LIMIT 1"
        )[0]
        accented = store.rows(
            """SELECT customer_id, last_name, last_name_key FROM identities
            WHERE lower(last_name) <> last_name_key AND regexp_matches(last_name, '[^\\x00-\\x7F]') LIMIT 1"""
        )
        email = store.rows("SELECT customer_id, email_norm FROM identities WHERE email_valid LIMIT 1")[0]
        several = store.rows(
            """SELECT customer_id, list(DISTINCT channel ORDER BY channel) AS channels FROM identities
            GROUP BY 1 HAVING count(DISTINCT channel) > 1 LIMIT 1"""
        )
        national = "0" + phone["phone_e164"][3:7] + " " + phone["phone_e164"][7:]
        found = {r["customer_id"] for r in search_customers(store, national)}
        assert phone["customer_id"] in found
        prefix = email["email_norm"].split("@")[0]
        assert email["customer_id"] in {r["customer_id"] for r in search_customers(store, prefix)}
        if accented:  # the generator writes names with diacritics
            plain = accented[0]["last_name_key"]
            assert accented[0]["customer_id"] in {r["customer_id"] for r in search_customers(store, plain)}
        if several:
            [row] = search_customers(store, f"#{several[0]['customer_id']}")
            assert row["channels"] == several[0]["channels"]
    page = client.get("/search", params={"q": national}).text
    assert f"/customers/{phone['customer_id']}/summary" in page


def test_admin_changes_roles_re_enables_and_resets_passwords_from_the_page(
    client: TestClient, web_settings: Settings
) -> None:
    from store import users as store_users
    from web.auth import authenticate

    csrf = login(client, "adam")
    assert "alice" in client.get("/users").text
    changed = client.post("/users/alice", data={"csrf_token": csrf, "role": "compliance", "state": "disable"})
    assert "role compliance" in flash_of(changed.text) and "disabled" in flash_of(changed.text)
    reset = client.post(
        "/users/alice", data={"csrf_token": csrf, "state": "enable", "password": "a new secret"}
    )
    assert "password reset" in flash_of(reset.text)
    assert "cannot disable yourself" in flash_of(
        client.post("/users/adam", data={"csrf_token": csrf, "state": "disable"}).text
    )
    with open_store(web_settings.store) as store:
        account = store_users.get_user(store, "alice")
        assert account is not None and (account["role"], account["disabled"]) == ("compliance", False)
        assert authenticate(store, "alice", "a new secret") is not None
        assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.update'") == 2
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "carol")
    assert client.get("/users").status_code == 403
