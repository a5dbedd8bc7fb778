"""End to end in a real headless Chromium (Debian's, never a downloaded one) against a real uvicorn server.

Log in, approve a suggestion with the keyboard, see the merged customer, edit the profile, comment,
lock, request an export as compliance, and be refused an action as the wrong role. Screenshots of
the queue and the panel go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from domain.settings import Settings
from store import open_store
from tests.web.pages import PASSWORD
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def server(web_settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(web_settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(server: str) -> Iterator[object]:
    """A page in headless Debian Chromium that accepts confirmation dialogs."""
    if not CHROMIUM.exists():
        # `make test` installs chromium and sets IDRES_E2E_REQUIRED: there a missing browser is a failure
        if os.environ.get("IDRES_E2E_REQUIRED"):
            pytest.fail("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed (`make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(base_url=server, viewport={"width": 1400, "height": 1000})
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        browser.close()


def _log_in(page, name: str, lands_on: str = "/queue") -> None:  # type: ignore[no-untyped-def]
    page.goto("/queue")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands_on}")


def _top_pending_suggestion(store: Any) -> tuple[Any, ...]:
    """The suggestion the queue shows first: (suggestion_id, customer_id_l, customer_id_r)."""
    return store.rows(
        "SELECT suggestion_id, customer_id_l, customer_id_r FROM suggestions WHERE status = 'pending' "
        "AND NOT related_only ORDER BY probability DESC, suggestion_id LIMIT 1"
    )[0]


def _flash(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator(".flash").first.inner_text()


def test_agent_and_compliance_work_in_a_browser(browser_page, web_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    with open_store(web_settings.store) as store:
        top = _top_pending_suggestion(store)
    # log in (the queue asks for it first) and approve the first suggestion with the keyboard
    _log_in(page, "alice")
    assert page.locator("li.suggestion").count() >= 1
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    page.locator(f"#s{top['suggestion_id']}").click()
    page.keyboard.press("a")
    page.wait_for_load_state()
    assert "approved" in _flash(page)
    assert page.locator(f"#s{top['suggestion_id']}").count() == 0

    # the scheduled apply-merges run applies it; the absorbed customer's panel shows the survivor
    from review.merging import apply_approved

    with open_store(web_settings.store) as store:
        report = apply_approved(store, "apply-merges", web_settings.review)
    assert report["merges_applied"] >= 1, report
    page.goto(f"/customers/{top['customer_id_r']}/identities")
    survivor = min(top["customer_id_l"], top["customer_id_r"])
    assert f"/customers/{survivor}/identities" in page.url
    with open_store(web_settings.store) as store:
        count = store.scalar("SELECT count(*) FROM identities WHERE customer_id = ?", [survivor])
    assert page.locator("table.grid tbody tr").count() == count >= 2

    # edit the profile
    page.click("nav.tabs >> text=Profile")
    page.click("a:has-text('Edit')")
    page.fill("input[name=city]", "Harrogate")
    page.click("text=Save profile")
    assert "saved" in _flash(page) and "Harrogate" in page.inner_text("table.profile-view")
    assert "edited by alice" in page.inner_text("table.profile-view")

    # comment on the summary
    page.click("nav.tabs >> text=Summary")
    page.fill("textarea[name=body]", "Called back, <b>all good</b>")
    page.click("text=Add comment")
    assert page.locator("ol.activity").inner_text().count("Called back, <b>all good</b>") == 1

    # lock, behind a confirmation
    page.click("nav.tabs >> text=Extra actions")
    page.fill("input[name=reason]", "fraud check")
    page.check("form[action$='/lock'] input[name=confirm]")
    page.click("form[action$='/lock'] button")
    assert "locked" in _flash(page) and "locked: fraud check" in page.inner_text("h1")
    page.screenshot(path=str(SHOTS / "panel.png"), full_page=True)
    page.click("nav.tabs >> text=Summary")
    page.screenshot(path=str(SHOTS / "panel-summary.png"), full_page=True)
    page.click("form[action='/logout'] button")

    # compliance requests an export
    _log_in(page, "carol", lands_on="/requests")  # compliance officers land on the requests page
    page.goto(f"/customers/{survivor}/actions")
    page.fill("form[action$='/export-request'] input[name=reason]", "SAR 2024-117")
    page.check("form[action$='/export-request'] input[name=confirm]")
    page.click("form[action$='/export-request'] button")
    assert "export request" in _flash(page)
    if page.locator("form.confirm-set").count():  # the person has other candidate customers: confirm them
        page.click("form.confirm-set button")
        assert "confirmed for customers" in _flash(page)
    with open_store(web_settings.store) as store:
        requested_by = store.scalar(
            "SELECT requested_by FROM compliance_requests WHERE customer_id = ?", [survivor]
        )
    assert requested_by == "carol"
    page.screenshot(path=str(SHOTS / "panel-actions-compliance.png"), full_page=True)

    # the wrong role: a compliance officer forging an approve form is refused by the server
    page.goto(f"/customers/{survivor}/actions")
    assert "Your role may not lock customers." in page.content()  # no lock button for compliance
    page.goto("/queue")
    assert page.locator("form.approve").count() == 0
    other = page.locator("li.suggestion").first.get_attribute("data-id")
    token = page.locator("input[name=csrf_token]").first.input_value()
    page.evaluate(
        """([id, token]) => {
            const form = document.createElement('form');
            form.method = 'post'; form.action = `/suggestions/${id}/approve`;
            const input = document.createElement('input');
            input.name = 'csrf_token'; input.value = token; form.appendChild(input);
            document.body.appendChild(form); form.submit();
        }""",
        [other, token],
    )
    page.wait_for_selector("text=Not allowed")
    assert "may not review" in page.content()
    page.screenshot(path=str(SHOTS / "refused.png"))
    with open_store(web_settings.store) as store:
        assert (
            store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [int(other or 0)])
            == "pending"
        )


def test_merge_now_undo_and_requests_page_in_a_browser(browser_page, web_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    with open_store(web_settings.store) as store:
        top = _top_pending_suggestion(store)
        email = store.scalar(
            "SELECT email FROM identities WHERE email_valid AND customer_id NOT IN (?, ?) ORDER BY identity_id LIMIT 1",
            [top["customer_id_l"], top["customer_id_r"]],
        )
    sid, left, right = top["suggestion_id"], top["customer_id_l"], top["customer_id_r"]

    # an agent approves from the possible-duplicates card of the panel, then merges now
    _log_in(page, "alice")
    page.goto(f"/customers/{right}/summary")
    card = page.locator(f"#dup{sid}")
    assert "Possible duplicates" in page.inner_text("section.duplicates")
    card.locator("form.approve button").click()
    page.wait_for_load_state()
    assert "approved, waiting for merge" in page.locator(f"#dup{sid}").inner_text()
    page.screenshot(path=str(SHOTS / "panel-duplicates.png"), full_page=True)
    page.locator(f"#dup{sid} form.merge-now button").click()
    page.wait_for_load_state()
    assert "merged now" in _flash(page)
    assert f"/customers/{left}/" in page.url  # the absorbed customer's panel redirects to the survivor
    page.click("form[action='/logout'] button")

    # an admin undoes the merge from the survivor's panel
    _log_in(page, "adam")
    page.goto(f"/customers/{left}/summary")
    page.locator("section.merges form.undo button").first.click()
    page.wait_for_load_state()
    assert "undone" in _flash(page)
    with open_store(web_settings.store) as store:
        assert store.scalar("SELECT status FROM customers WHERE customer_id = ?", [right]) == "active"
    page.click("form[action='/logout'] button")

    # a compliance officer lands on the requests page, requests an export by e-mail, confirms the set
    _log_in(page, "carol", lands_on="/requests")
    page.fill("form.new-request input[name=email]", email.upper())
    page.fill("form.new-request input[name=reason]", "SAR 2026-15")
    page.click("form.new-request button")
    page.wait_for_load_state()
    assert "/requests/" in page.url and "export request" in _flash(page)
    if page.locator("form.confirm-set").count():
        page.click("form.confirm-set button")
        page.wait_for_load_state()
        assert "confirmed for customers" in _flash(page)
    page.screenshot(path=str(SHOTS / "request-detail.png"), full_page=True)
    page.goto("/requests?status=pending")
    rows = page.locator("table.requests tbody tr")
    assert rows.count() == 1 and "SAR 2026-15" in rows.first.inner_text()
    assert (
        "GDPR" not in rows.first.inner_text() and rows.first.locator("td").nth(7).inner_text()
    )  # a due date
    page.screenshot(path=str(SHOTS / "requests.png"), full_page=True)
