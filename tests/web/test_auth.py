"""Attacks on the page: password guessing, sessions that outlive logout or a change, open redirects, odd ids."""

from __future__ import annotations

from fastapi.testclient import TestClient

from domain.settings import Settings
from store import open_store
from store import users as store_users
from tests.web.pages import PASSWORD, csrf_of, flash_of, login, login_form
from web.auth import hash_password
from web.throttle import LoginThrottle


def _audit(settings: Settings, action: str) -> list[dict[str, object]]:
    with open_store(settings.store) as store:
        return store.rows("SELECT actor, details FROM audit_log WHERE action = ? ORDER BY audit_id", [action])


def test_growing_waits_per_account_and_per_client() -> None:
    now = [1000.0]
    throttle = LoginThrottle(free_per_account=3, free_per_client=5, clock=lambda: now[0])
    waits = [throttle.failed("alice", "10.0.0.1")[1] for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0]  # three typos free, then doubling
    assert throttle.wait_s("ALICE", "10.0.0.9") == 4.0  # per account, whatever the client
    now[0] += 4.0
    assert throttle.wait_s("alice", "10.0.0.9") == 0.0
    throttle.succeeded("alice")
    assert throttle.wait_s("alice", "10.0.0.9") == 0.0
    for name in ("bob", "cy", "di", "ed", "fay", "gus"):  # spraying many accounts from one client
        throttle.failed(name, "10.6.6.6")
    assert throttle.wait_s("zed", "10.6.6.6") > 0 and throttle.wait_s("zed", "10.0.0.2") == 0.0


def test_password_guessing_is_throttled_audited_and_told(client: TestClient, web_settings: Settings) -> None:
    statuses = []
    for attempt in range(8):
        response = client.post("/login", data=login_form(client, "alice", f"guess {attempt}"))
        statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401] and 429 in statuses
    refused = client.post(
        "/login", data=login_form(client, "alice", PASSWORD)
    )  # even the right password waits
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many failed logins" in refused.text and "wait" in refused.text
    gate = client.app.state.gate
    while gate.outbox.pending():  # audits queued if the (loaded) machine made the page wait
        gate.drain_once(wait_s=2.0)
    results = gate.outbox.results()
    assert len(_audit(web_settings, "web.login_failed")) >= 3, results
    assert _audit(web_settings, "web.login_throttled"), (statuses, results)
    other = client.post("/login", data=login_form(client, "carol", PASSWORD))  # another account is not locked
    assert other.history and other.history[0].status_code == 303  # logged in (the queue may show "busy")


def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    csrf = login(client, "alice")
    stolen = client.cookies.get("idres_session")
    assert stolen
    client.post("/logout", data={"csrf_token": csrf})
    client.cookies.set("idres_session", stolen)  # the old cookie, replayed
    response = client.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]


def test_disabling_a_role_or_password_change_end_sessions_at_once(
    client: TestClient, web_settings: Settings
) -> None:
    for change in ("role", "password", "disable"):
        login(client, "alice")
        assert client.get("/queue", follow_redirects=False).status_code == 200
        with open_store(web_settings.store) as store:
            if change == "role":
                store_users.set_role(store, "alice", "compliance", actor="test")
                store_users.set_role(
                    store, "alice", "agent", actor="test"
                )  # back: the old session stays ended
            elif change == "password":
                store_users.change_password(store, "alice", hash_password(PASSWORD), actor="test")
            else:
                store_users.disable_user(store, "alice", actor="test")
        response = client.get("/queue", follow_redirects=False)
        assert response.status_code == 303 and "/login" in response.headers["location"], change


def test_comment_back_never_leads_to_another_site(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "alice")
    with open_store(web_settings.store) as store:
        customer = int(store.scalar("SELECT min(customer_id) FROM customers"))
    for back in ("https://evil.example/", "//evil.example/", "/\t/evil.example/", "\\\\evil.example"):
        response = client.post(
            f"/customers/{customer}/comment",
            data={"csrf_token": csrf, "body": "", "back": back},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/") and "evil" not in response.headers["location"]


def test_odd_page_numbers_and_ids_are_4xx_not_500(client: TestClient, web_settings: Settings) -> None:
    csrf = login(client, "alice")
    with open_store(web_settings.store) as store:
        customer = int(store.scalar("SELECT min(customer_id) FROM customers"))
    assert 400 <= client.get("/queue", params={"page": str(10**23)}).status_code < 500
    assert 400 <= client.get("/queue", params={"page": "10000001"}).status_code < 500
    response = client.post(
        f"/customers/{customer}/comment", data={"csrf_token": csrf, "body": "hi", "conversation_id": "abc"}
    )
    assert response.status_code == 400 and "conversation_id" in response.text
    assert flash_of(response.text) == "" and csrf_of(client.get("/queue").text)
