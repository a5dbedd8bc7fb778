"""The web page through a TestClient: login, roles, CSRF, escaping, the queue, the panel and its actions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.settings import Settings
from store import open_store
from tests.web.pages import PASSWORD, csrf_of, flash_of, login, login_form


def _pending(settings: Settings) -> list[dict]:
    with open_store(settings.store) as store:
        return store.rows(
            "SELECT suggestion_id, customer_id_l, customer_id_r, probability, band FROM suggestions "
            "WHERE status = 'pending' ORDER BY probability DESC, suggestion_id"
        )


def _audit(settings: Settings, action: str) -> list[dict]:
    with open_store(settings.store) as store:
        return store.rows(
            "SELECT actor, subject_id, details FROM audit_log WHERE action = ? ORDER BY audit_id", [action]
        )


def test_pages_need_a_login_and_bad_passwords_are_refused(client: TestClient, web_settings: Settings) -> None:
    response = client.get("/customers/1/summary", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    refused = client.post("/login", data=login_form(client, "alice", "wrong password"))
    assert refused.status_code == 401 and "wrong password" in refused.text
    refused = client.post("/login", data=login_form(client, "nobody", PASSWORD))
    assert refused.status_code == 401
    forged = {**login_form(client, "alice", PASSWORD), "login_token": "forged"}
    assert client.post("/login", data=forged).status_code == 400
    login(client, "alice")
    assert [row["actor"] for row in _audit(web_settings, "web.login")] == ["alice"]
    cookie = next(c for c in client.cookies.jar if c.name == "idres_session")
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_queue_lists_pending_suggestions_most_probable_first(
    client: TestClient, web_settings: Settings
) -> None:
    login(client, "alice")
    page = client.get("/queue").text
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', page)]
    expected = [row["suggestion_id"] for row in _pending(web_settings)][: len(shown)]
    assert shown == expected and shown
    assert "<svg" in page and "Evidence" in page  # the weight chart
    band = _pending(web_settings)[-1]["band"]
    filtered = client.get(f"/queue?band={band}").text
    ids = {int(i) for i in re.findall(r'data-id="(\d+)"', filtered)}
    assert ids and ids <= {row["suggestion_id"] for row in _pending(web_settings) if row["band"] == band}


def test_approve_as_agent_is_audited_with_the_user(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "alice")
    target = _pending(web_settings)[0]["suggestion_id"]
    response = client.post(
        f"/suggestions/{target}/approve", data={"csrf_token": csrf, "comment": "same person"}
    )
    assert response.status_code == 200 and flash_of(response.text).startswith("ok:")
    with open_store(web_settings.store) as store:
        row = store.rows("SELECT status, decided_by FROM suggestions WHERE suggestion_id = ?", [target])[0]
        actors = store.rows(
            "SELECT actor FROM audit_log WHERE subject_kind = 'suggestion' AND subject_id = ?", [str(target)]
        )
    assert row == {"status": "approved", "decided_by": "alice"}
    assert actors and {a["actor"] for a in actors} == {"alice"}
    assert f'data-id="{target}"' not in response.text  # gone from the queue


def test_reject_with_comment_and_bulk_approve(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "adam")
    first, *rest = _pending(web_settings)
    client.post(
        f"/suggestions/{first['suggestion_id']}/reject", data={"csrf_token": csrf, "comment": "twins"}
    )
    rest = [row for row in rest if row["band"] == "review"]
    floor = min(row["probability"] for row in rest)
    form = {"csrf_token": csrf, "min_probability": str(floor), "band": "review"}
    asked = client.post("/queue/bulk-approve", data=form)  # first the count it will approve
    count = int(re.search(r'<strong id="bulk-count">(\d+)</strong>', asked.text).group(1))  # type: ignore[union-attr]
    assert (
        count == len([r for r in rest if not r.get("related_only")])
        and f"Approve {count} suggestion" in asked.text
    )
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT count(*) FROM suggestions WHERE status = 'approved'") == 0
    response = client.post("/queue/bulk-approve", data={**form, "confirmed": "yes"})
    assert "suggestions approved" in flash_of(response.text)
    with open_store(web_settings.store) as store:
        statuses = dict(
            store.rows("SELECT suggestion_id, status FROM suggestions").__iter__().__next__().items()
        )
        decided = {
            r["suggestion_id"]: r["status"]
            for r in store.rows("SELECT suggestion_id, status FROM suggestions")
        }
        comment = store.scalar(
            "SELECT decision_comment FROM suggestions WHERE suggestion_id = ?", [first["suggestion_id"]]
        )
    assert statuses
    assert decided[first["suggestion_id"]] == "rejected" and comment == "twins"
    assert all(decided[row["suggestion_id"]] in ("approved", "superseded") for row in rest), (decided, rest)


def test_posts_need_the_session_csrf_token(client: TestClient, web_settings: Settings) -> None:
    login(client, "alice")
    target = _pending(web_settings)[0]["suggestion_id"]
    for token in ("", "forged"):
        response = client.post(f"/suggestions/{target}/approve", data={"csrf_token": token})
        assert response.status_code == 403 and "security token" in response.text
    assert _pending(web_settings)[0]["suggestion_id"] == target


def test_roles_are_checked_on_the_server(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "carol")  # compliance
    target = _pending(web_settings)[0]
    response = client.post(f"/suggestions/{target['suggestion_id']}/approve", data={"csrf_token": csrf})
    assert response.status_code == 403 and "may not review" in response.text
    customer = target["customer_id_l"]
    response = client.post(
        f"/customers/{customer}/lock", data={"csrf_token": csrf, "reason": "x", "confirm": "yes"}
    )
    assert response.status_code == 403
    assert "Approve" not in client.get("/queue").text  # and the buttons are not offered
    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "alice")  # agent
    response = client.post(
        f"/customers/{customer}/export-request", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert response.status_code == 403
    assert client.get("/requests").status_code == 403
    assert client.get("/requests/1/download").status_code == 403
    assert _pending(web_settings)[0] == target


def test_names_are_escaped_and_profile_edits_are_validated(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    customer = _pending(web_settings)[0]["customer_id_l"]
    form = {"csrf_token": csrf, "first_name": "<script>alert(1)</script>", "city": "Leeds"}
    response = client.post(f"/customers/{customer}/profile", data=form)
    assert flash_of(response.text).startswith("ok:"), flash_of(response.text)
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text and "<script>alert(1)" not in response.text
    )
    bad = client.post(f"/customers/{customer}/profile", data={"csrf_token": csrf, "emails": "not-an-email"})
    assert bad.status_code == 422 and 'data-field="emails"' in bad.text and "not-an-email" in bad.text
    with open_store(web_settings.store) as store:
        profile = store.rows(
            "SELECT first_name, city, emails FROM customers WHERE customer_id = ?", [customer]
        )[0]
    assert profile["first_name"] == "<script>alert(1)</script>" and profile["city"] == "Leeds"
    assert "not-an-email" not in (profile["emails"] or [])
    found = client.get("/search", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in found


def test_comment_lock_and_unlock_from_the_panel(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "alice")
    customer = _pending(web_settings)[0]["customer_id_l"]
    summary = client.post(f"/customers/{customer}/comment", data={"csrf_token": csrf, "body": "called back"})
    assert "called back" in summary.text
    refused = client.post(f"/customers/{customer}/lock", data={"csrf_token": csrf, "reason": "fraud check"})
    assert flash_of(refused.text).startswith("error:")  # no confirmation ticked
    locked = client.post(
        f"/customers/{customer}/lock", data={"csrf_token": csrf, "reason": "fraud check", "confirm": "yes"}
    )
    assert "locked: fraud check" in locked.text
    assert "?edit=1" not in client.get(f"/customers/{customer}/profile").text  # no Edit while locked
    unlocked = client.post(f"/customers/{customer}/unlock", data={"csrf_token": csrf, "confirm": "yes"})
    assert "locked: fraud check" not in unlocked.text
    assert [row["actor"] for row in _audit(web_settings, "comment")] in ([], ["alice"])


def test_every_panel_section_and_search_render(client: TestClient, web_settings: Settings) -> None:
    login(client, "alice")
    with open_store(web_settings.store) as store:
        row = store.rows(
            """SELECT i.customer_id, i.email_norm FROM identities i JOIN conversations c ON c.identity_id = i.identity_id
            WHERE i.email_norm IS NOT NULL ORDER BY i.identity_id LIMIT 1"""
        )[0]
    customer = row["customer_id"]
    for tab, marker in (
        ("summary", "Activity"), ("profile", "?edit=1"), ("conversations", "agent replies"),
        ("messages", "<h2>Messages"), ("identities", "Find matching identities"), ("actions", "Extra actions"),
    ):  # fmt: skip
        page = client.get(f"/customers/{customer}/{tab}")
        assert page.status_code == 200 and marker in page.text, tab
    assert 'class="msg msg-' in client.get(f"/customers/{customer}/messages").text
    found = client.get("/search", params={"q": row["email_norm"]}).text
    assert f"/customers/{customer}/summary" in found
    assert client.get("/customers/999999999/summary").status_code == 404


def test_compliance_requests_an_export(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "carol")
    customer = _pending(web_settings)[0]["customer_id_l"]
    response = client.post(
        f"/customers/{customer}/export-request",
        data={"csrf_token": csrf, "reason": "SAR 42", "confirm": "yes"},
    )
    message = flash_of(response.text)
    assert message.startswith("ok:") and "export request" in message
    # the customer has pending suggestions: the request page shows every candidate with why, to confirm
    assert "/requests/1" in str(response.url) and "Customers who may be this person" in response.text
    assert "linked to customer" in response.text and 'name="customer_ids"' in response.text
    with open_store(web_settings.store) as store:
        candidates = [int(c) for c in re.findall(r'name="customer_ids" value="(\d+)"', response.text)]
        rows = store.rows("SELECT kind, status, requested_by FROM compliance_requests")
    assert rows == [{"kind": "export", "status": "needs_confirmation", "requested_by": "carol"}]
    assert customer in candidates and len(candidates) >= 2
    confirmed = client.post("/requests/1/confirm", data={"csrf_token": csrf, "customer_ids": candidates})
    assert "confirmed for customers" in flash_of(confirmed.text)
    with open_store(web_settings.store) as store:
        row = store.rows("SELECT status, customer_ids, confirmed_by FROM compliance_requests")[0]
    assert row == {"status": "pending", "customer_ids": sorted(candidates), "confirmed_by": "carol"}
    assert "export" in client.get("/requests").text


def test_disabled_accounts_lose_their_sessions(client: TestClient, web_settings: Settings) -> None:
    from store import users as store_users

    login(client, "alice")
    with open_store(web_settings.store) as store:
        store_users.disable_user(store, "alice", actor="test")
    response = client.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]
    refused = client.post("/login", data=login_form(client, "alice", PASSWORD))
    assert refused.status_code == 401


def test_tampered_session_cookie_is_ignored(client: TestClient) -> None:
    login(client, "carol")
    value = client.cookies.get("idres_session")
    assert value
    payload, signature = value.rsplit(".", 1)
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    client.cookies.set("idres_session", forged)
    response = client.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]


def test_export_bundle_download_is_for_compliance_and_audited(
    client: TestClient, web_settings: Settings
) -> None:
    from compliance.runner import run_exports

    csrf = login(client, "carol")
    customer = _pending(web_settings)[0]["customer_id_l"]
    client.post(f"/customers/{customer}/export-request", data={"csrf_token": csrf, "confirm": "yes"})
    client.post("/requests/1/confirm", data={"csrf_token": csrf, "customer_ids": [customer]})
    with open_store(web_settings.store) as store:
        run_exports(store, web_settings.compliance, "export-flow")
        request_id, status = store.rows("SELECT request_id, status FROM compliance_requests")[0].values()
    assert status == "done"
    assert f"/requests/{request_id}/download" in client.get("/requests").text
    bundle = client.get(f"/requests/{request_id}/download")
    assert bundle.status_code == 200 and len(bundle.content) > 0
    assert "attachment" in bundle.headers["content-disposition"]
    assert [(a["actor"], a["subject_id"]) for a in _audit(web_settings, "export.download")] == [
        ("carol", str(request_id))
    ]
    client.post("/logout", data={"csrf_token": csrf})
    for name in ("alice", "adam"):
        login(client, name)
        assert client.get(f"/requests/{request_id}/download").status_code == 403
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/queue").text)})
    assert len(_audit(web_settings, "export.download")) == 1


def test_identity_search_finds_and_merges_another_customer(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    with open_store(web_settings.store) as store:
        pair = store.rows(
            """SELECT a.customer_id AS keep, b.customer_id AS other, b.email_norm AS email
            FROM identities a JOIN identities b ON a.customer_id < b.customer_id
            WHERE b.email_norm IS NOT NULL AND a.email_norm IS NOT NULL AND a.email_norm <> b.email_norm
            ORDER BY a.identity_id, b.identity_id LIMIT 1"""
        )[0]
    page = client.get(f"/customers/{pair['keep']}/identities", params={"q": pair["email"]}).text
    assert f'name="other_customer_id" value="{pair["other"]}"' in page
    assert "at least 2" in client.get(f"/customers/{pair['keep']}/identities", params={"q": "x"}).text
    merged = client.post(
        f"/customers/{pair['keep']}/merge", data={"csrf_token": csrf, "other_customer_id": pair["other"]}
    )
    assert flash_of(merged.text).startswith("ok:"), flash_of(merged.text)
    followed = client.get(f"/customers/{pair['other']}/summary")
    assert followed.url.path == f"/customers/{pair['keep']}/summary"
    with open_store(web_settings.store) as store:
        assert (
            store.scalar("SELECT merged_into FROM customers WHERE customer_id = ?", [pair["other"]])
            == pair["keep"]
        )


def test_compliance_requests_an_anonymization_after_confirming(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "carol")
    customer = _pending(web_settings)[0]["customer_id_r"]
    target = f"/customers/{customer}/anonymize-request"
    unconfirmed = client.post(target, data={"csrf_token": csrf, "reason": "erasure 7"})
    assert flash_of(unconfirmed.text).startswith("error:")
    confirmed = client.post(target, data={"csrf_token": csrf, "reason": "erasure 7", "confirm": "yes"})
    assert flash_of(confirmed.text).startswith("ok:") and "anonymization request" in flash_of(confirmed.text)
    client.post("/requests/1/confirm", data={"csrf_token": csrf, "customer_ids": [customer]})
    with open_store(web_settings.store) as store:
        rows = store.rows("SELECT kind, customer_id, requested_by, reason, status FROM compliance_requests")
    assert rows == [{"kind": "anonymize", "customer_id": customer, "requested_by": "carol",
                     "reason": "erasure 7", "status": "pending"}]  # fmt: skip
    assert "anonymize" in client.get("/requests").text


def test_a_post_without_a_session_goes_to_the_login_page_and_changes_nothing(
    client: TestClient, web_settings: Settings
) -> None:
    target = _pending(web_settings)[0]["suggestion_id"]
    response = client.post(f"/suggestions/{target}/approve", data={"csrf_token": "x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fqueue"
    assert _pending(web_settings)[0]["suggestion_id"] == target


def test_a_profile_save_with_bad_fields_keeps_every_edit_and_shows_each_error_beside_its_field(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    customer = _pending(web_settings)[0]["customer_id_l"]
    with open_store(web_settings.store) as store:
        before = store.rows("SELECT city, company, birth_date, emails FROM customers WHERE customer_id = ?",
                            [customer])[0]  # fmt: skip
    form = {"csrf_token": csrf, "city": "Harrogate", "company": "Fox & Sons", "birth_date": "31/02/1990",
            "emails": "not-an-email", "phones": "call me"}  # fmt: skip
    page = client.post(f"/customers/{customer}/profile", data=form)
    assert page.status_code == 422
    for field in ("birth_date", "emails", "phones"):  # every problem, each beside its field
        assert f'data-field="{field}"' in page.text, field
    assert 'data-field="city"' not in page.text
    # what the agent typed is still in the form, nothing is half saved
    assert 'value="Harrogate"' in page.text and "Fox &amp; Sons" in page.text and "call me" in page.text
    with open_store(web_settings.store) as store:
        after = store.rows("SELECT city, company, birth_date, emails FROM customers WHERE customer_id = ?",
                           [customer])[0]  # fmt: skip
    assert after == before
    view = client.get(f"/customers/{customer}/profile").text
    assert "profile-view" in view and "identity" in view  # a view with each value's source, and Edit
    assert f"/customers/{customer}/profile?edit=1" in view


def test_queue_in_the_informative_order(client: TestClient, web_settings: Settings) -> None:

    from matching.learning import informative_first

    login(client, "alice")
    page = client.get("/queue?order=informative").text
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', page)]
    with open_store(web_settings.store) as store:
        pending = store.frame(
            "SELECT suggestion_id, rule, match_weight FROM suggestions WHERE status = 'pending' ORDER BY suggestion_id"
        )
    expected = informative_first(pending).get_column("suggestion_id").to_list()[: len(shown)]
    assert shown and shown == expected
    assert 'value="informative" selected' in page


def test_the_factory_reads_the_settings_once_when_none_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.app as web_app

    reads: list[dict] = []
    real = web_app.load_settings

    def counted(**overrides: object) -> Settings:
        reads.append(dict(overrides))
        return real(**overrides)

    monkeypatch.setattr(web_app, "load_settings", counted)
    monkeypatch.setenv("IDRES_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv("IDRES_STORE", str(tmp_path / "from-env.duckdb"))
    app = web_app.create_app(drain=False)
    assert app.state.settings.store == tmp_path / "from-env.duckdb" and len(reads) == 1
    given = Settings(store=tmp_path / "given.duckdb")
    assert web_app.create_app(given, drain=False).state.settings is given and len(reads) == 1
    assert (tmp_path / "given.duckdb").exists()


def test_an_action_that_fails_to_import_is_a_server_error_not_a_message(
    client: TestClient, web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a missing module (say, a package left out of the wheel) must not read as "not available yet"
    gate = client.app.state.gate  # type: ignore[attr-defined]

    def missing(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'compliance'")

    csrf = login(client, "alice")
    monkeypatch.setattr(gate, "run", missing)
    # the app's handler answers 500 ("Something went wrong", logged); the test client re-raises it
    with pytest.raises(ImportError, match="compliance"):
        client.post("/suggestions/1/approve", data={"csrf_token": csrf, "comment": ""})
