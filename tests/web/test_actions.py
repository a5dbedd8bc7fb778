"""Page actions keep the store and the screen in agreement: refusals that record why stay recorded."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from idres.settings import Settings
from store import open_store, utcnow
from tests.web.pages import flash_of, login


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
    client.cookies.set("idres_skipped", f"{first}-junk-{first}")  # what app.js writes on `s`
    page = client.get("/queue").text
    order = re.findall(r'<li class="suggestion( skipped)?" id="s(\d+)"', page)
    assert order[0] == ("", str(second))  # the skipped one is no longer at the top
    assert (" skipped", str(first)) in order
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
