"""The page while another process holds the store: busy pages instead of errors, actions queued and applied."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.settings import Settings
from store import open_store
from store import users as store_users
from tests.web.pages import flash_of, login
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def held_store(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the store file for `seconds` (as a flow's write phase does)."""
    code = textwrap.dedent(
        f"""
        import time, duckdb
        while True:  # the page may hold the file for a moment: wait for it, as a flow does
            try:
                connection = duckdb.connect({str(path)!r})
                break
            except duckdb.Error:
                time.sleep(0.05)
        print("holding", flush=True)
        time.sleep({seconds})
        connection.close()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        yield child
    finally:
        child.wait(timeout=60)


def _suggestion(settings: Settings, rank: int = 0) -> int:
    with open_store(settings.store) as store:
        return int(
            store.scalar(
                "SELECT suggestion_id FROM suggestions WHERE status = 'pending' "
                "ORDER BY probability DESC, suggestion_id LIMIT 1 OFFSET ?",
                [rank],
            )
        )


def test_busy_store_shows_a_retry_page_and_queues_decisions(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    target = _suggestion(web_settings)
    gate = client.app.state.gate
    with held_store(web_settings.store, 6.0):
        page = client.get("/queue")
        assert (
            page.status_code == 200
            and "The store is busy" in page.text
            and 'http-equiv="refresh"' in page.text
        )
        decided = client.post(
            f"/suggestions/{target}/approve", data={"csrf_token": csrf, "comment": "while busy"}
        )
        assert decided.status_code == 200 and flash_of(decided.text).startswith("queued:")
        assert gate.drain_once(wait_s=0.1) == 0  # still held: nothing applied, nothing lost
        assert [row["action"] for row in gate.outbox.pending("alice")] == ["approve"]
    assert gate.drain_once() == 1
    with open_store(web_settings.store) as store:
        row = store.rows(
            "SELECT status, decided_by, decision_comment FROM suggestions WHERE suggestion_id = ?", [target]
        )
    assert row == [{"status": "approved", "decided_by": "alice", "decision_comment": "while busy"}]
    assert gate.outbox.pending() == [] and gate.outbox.results("alice")[0]["status"] == "done"
    assert "approve" in client.get("/queued").text


def test_outbox_drain_never_applies_twice_and_keeps_failures(
    client: TestClient, web_settings: Settings
) -> None:
    gate = client.app.state.gate
    target = _suggestion(web_settings)
    already = gate.outbox.add("alice", "approve", {"suggestion_id": target})
    with open_store(web_settings.store) as store:  # applied, but the drain stopped before clearing the row
        store_users.mark_outbox_applied(store, already, "alice", "approve")
    missing = gate.outbox.add("alice", "reject", {"suggestion_id": 987654})
    assert gate.drain_once() == 2
    results = {row["outbox_id"]: row for row in gate.outbox.results("alice")}
    assert results[already]["status"] == "done"
    assert results[missing]["status"] == "failed" and "987654" in results[missing]["message"]
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [target]) == "pending"
    login(client, "alice")
    assert "987654" in client.get("/queued").text  # the user sees what failed and why


@pytest.mark.slow
def test_page_used_throughout_a_real_ingest_flow(
    web_settings: Settings, tmp_path: Path, prefect_harness: None
) -> None:
    """The Prefect ingest flow loads 60k identities in a child process while an agent keeps deciding."""
    from data.generator import generate

    generate(60_000, seed=5, messages_per_identity=0).identities.write_parquet(tmp_path / "big.parquet")
    code = textwrap.dedent(
        f"""
        from flows.ingest import ingest_flow
        reports = ingest_flow(paths=[{str(tmp_path / "big.parquet")!r}], store={str(web_settings.store)!r})
        print(reports[0]["status"], flush=True)
        """
    )
    env = {
        **os.environ,
        "IDRES_INGEST__DATA_DOCS_DIR": str(tmp_path / "docs"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
    }
    from prefect.settings import PREFECT_API_URL

    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # the session's test server
    with open_store(web_settings.store) as store:
        targets = [
            r["suggestion_id"]
            for r in store.rows("SELECT suggestion_id FROM suggestions WHERE status = 'pending'")
        ]
    # wait very little, so that any overlap with the flow's write phase shows as a busy page or a queued decision
    web_settings.web.read_wait_s = web_settings.web.write_wait_s = 0.05
    with TestClient(create_app(web_settings, drain=True), follow_redirects=True) as client:
        csrf = login(client, "alice")
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        statuses: list[int] = []
        outcomes: list[str] = []
        pages = 0
        decided: dict[int, str] = {}
        iterations = 0
        while child.poll() is None:
            page = client.get("/queue")
            statuses.append(page.status_code)
            busy = "The store is busy" in page.text
            pages += busy
            iterations += 1
            # decide right after a busy page (the flow is writing: the decision gets queued), and now and then
            if targets and child.poll() is None and (busy or iterations % 40 == 1):
                target = targets.pop()
                verb = "approve" if len(targets) % 2 else "reject"
                response = client.post(f"/suggestions/{target}/{verb}", data={"csrf_token": csrf})
                statuses.append(response.status_code)
                outcomes.append(flash_of(response.text).split(":")[0])
                decided[target] = "approved" if verb == "approve" else "rejected"
            time.sleep(0.05)
        assert child.stdout is not None and child.stdout.read().strip().endswith("loaded")
        assert child.returncode == 0
        deadline = time.monotonic() + 30
        while client.app.state.gate.outbox.pending() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.app.state.gate.outbox.pending() == []
    assert set(statuses) == {200}
    assert set(outcomes) <= {"ok", "queued"} and decided
    assert pages >= 1 and "queued" in outcomes, (pages, outcomes)  # the flow's write phase was really hit
    with open_store(web_settings.store) as store:
        rows = store.rows("SELECT suggestion_id, status FROM suggestions")
        identities = store.scalar("SELECT count(*) FROM identities")
    now = {row["suggestion_id"]: row["status"] for row in rows}
    assert {target: now[target] for target in decided} == decided
    assert identities > 60_000
    print(f"queued {outcomes.count('queued')} of {len(outcomes)} decisions; {pages} busy pages")


def _form_fields(html: str) -> list[tuple[str, str]]:
    import html as html_module
    import re

    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return [(name, html_module.unescape(value)) for name, value in pairs]


def test_actions_while_the_store_is_busy_take_effect_once_or_say_plainly_they_did_not(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    target = _suggestion(web_settings)
    with open_store(web_settings.store) as store:
        customer = int(store.scalar("SELECT min(customer_id) FROM customers WHERE status = 'active'"))
    gate = client.app.state.gate
    with held_store(web_settings.store, 10.0):
        # the profile edit reads the profile first: it can be neither done nor queued, and says so
        edited = client.post(
            f"/customers/{customer}/profile",
            data={"csrf_token": csrf, "city": "Harrogate"},
            follow_redirects=False,
        )
        # the session check and the action wait, then the action is queued (the gate checks the session later)
        approved = client.post(f"/suggestions/{target}/approve", data={"csrf_token": csrf})
        commented = client.post(f"/customers/{customer}/comment", data={"csrf_token": csrf, "body": "rang"})
    assert flash_of(approved.text).startswith("queued:") and flash_of(commented.text).startswith("queued:")
    assert edited.status_code == 503 and "Not done" in edited.text and "Nothing was changed" in edited.text
    assert 'method="post"' in edited.text and "nothing you did is lost" not in edited.text
    fields = _form_fields(edited.text)
    assert ("city", "Harrogate") in fields and any(name == "action_key" for name, _ in fields)
    assert gate.drain_once() == 2
    again = [
        client.post(f"/customers/{customer}/profile", data=dict(fields)) for _ in range(2)
    ]  # retry twice
    assert flash_of(again[0].text).startswith("ok:") and not flash_of(again[1].text).startswith("error:")
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [target]) == "approved"
        assert store.scalar("SELECT count(*) FROM comments WHERE customer_id = ?", [customer]) == 1
        assert store.scalar("SELECT city FROM customers WHERE customer_id = ?", [customer]) == "Harrogate"
        edits = store.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'customer_edit' AND subject_id = ?",
            [str(customer)],
        )
    assert edits == 1


def test_a_queued_action_of_a_session_that_ended_is_not_applied(
    client: TestClient, web_settings: Settings
) -> None:
    csrf = login(client, "alice")
    target = _suggestion(web_settings)
    gate = client.app.state.gate
    with held_store(web_settings.store, 6.0):
        queued = client.post(f"/suggestions/{target}/approve", data={"csrf_token": csrf})
        assert flash_of(queued.text).startswith("queued:")
    with open_store(web_settings.store) as store:  # disabled before the outbox got to it
        store_users.disable_user(store, "alice", actor="test")
    assert gate.drain_once() == 1
    assert gate.outbox.results("alice")[0]["status"] == "failed"
    assert "session had ended" in gate.outbox.results("alice")[0]["message"]
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [target]) == "pending"


def test_an_action_sent_twice_under_one_key_takes_effect_once(
    client: TestClient, web_settings: Settings
) -> None:
    gate = client.app.state.gate
    with open_store(web_settings.store) as store:
        customer = int(store.scalar("SELECT min(customer_id) FROM customers WHERE status = 'active'"))
    key = "k" * 32
    arguments = {"body": "same comment", "customer_id": customer}
    first = gate.run("alice", "comment", arguments, action_key=key)
    second = gate.run("alice", "comment", arguments, action_key=key)
    assert first.status == "done" and second.status == "done" and "already" in second.message
    with held_store(web_settings.store, 3.0):  # queued under its key: a second send is the same queued action
        other = "q" * 32
        queued = [
            gate.run("alice", "comment", {**arguments, "body": "queued"}, action_key=other) for _ in "ab"
        ]
    assert [outcome.status for outcome in queued] == ["queued", "queued"] and len(gate.outbox.pending()) == 1
    assert gate.drain_once() == 1
    with open_store(web_settings.store) as store:
        bodies = [
            r["body"] for r in store.rows("SELECT body FROM comments WHERE customer_id = ?", [customer])
        ]
    assert sorted(bodies) == ["queued", "same comment"]
