"""Helpers for driving the web app with a TestClient: log in, read the CSRF token and the flash message."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


def login(client: TestClient, name: str) -> str:
    """Log in as `name` and return the session's CSRF token."""
    response = client.post("/login", data=login_form(client, name, PASSWORD))
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def flash_of(html: str) -> str:
    """The one-shot message shown on a page ('' when none)."""
    found = re.search(r'<div class="flash flash-(\w+)" role="status">([^<]*)', html)
    return f"{found.group(1)}: {found.group(2)}" if found else ""


def login_form(client: TestClient, name: str, password: str) -> dict[str, str]:
    """The login form's fields, with the token of a freshly fetched login page."""
    page = client.get("/login").text
    found = re.search(r'name="login_token" value="([^"]+)"', page)
    assert found, "no login token on the login page"
    return {"username": name, "password": password, "next": "/queue", "login_token": found.group(1)}
