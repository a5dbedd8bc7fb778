"""What every route shares: the logged-in user, CSRF and role checks, rendering, flash redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from domain.errors import UserError
from store import StoreBusyError
from store import users as store_users
from web.auth import FLASH_COOKIE, SESSION_COOKIE, User, csrf_ok
from web.gate import Outcome


class LoginRequired(UserError):
    """No valid session: the app redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(f"log in to open {next_url}")
        self.next_url = next_url


class Forbidden(UserError):
    """The user may not do this (wrong role, or a bad CSRF token): the app answers 403."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _session_counts(request: Request, user: User) -> bool:
    """Is the cookie's server-side session still open (not logged out, account enabled, same role)?"""
    with request.app.state.gate.read() as store:
        session = store_users.active_session(store, user.session)
    return session is not None and session["username"] == user.name and session["role"] == user.role


def current_user(request: Request) -> User:
    """The session's user; redirects to the login page when there is none (or it was ended).

    The session is checked in the store on every request, so logout, disabling an account, a role
    or password change take effect at once. When a flow holds the store, a page shows "busy"; an
    action (POST) goes on with the signed cookie and the gate checks the session again when it
    applies the action (now or from the outbox), so nothing runs for a session that has ended.
    """
    user = request.app.state.sessions.load(request.cookies.get(SESSION_COOKIE))
    if user is not None:
        try:
            valid = _session_counts(request, user)
        except StoreBusyError:
            if request.method != "POST":
                raise
            valid = True  # checked by the gate inside the action's transaction
        if valid:
            return user
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # after logging in, only a page can be returned to (a form post cannot be replayed by a GET)
    raise LoginRequired(target if request.method == "GET" else "/queue")


def require(user: User, permission: str, csrf_token: str | None) -> None:
    """Refuse a POST without the session's CSRF token or from a role without `permission`."""
    if not csrf_ok(user, csrf_token):
        raise Forbidden("the form's security token is missing or stale: reload the page and try again")
    if not user.can(permission):
        raise Forbidden(f"your role ({user.role}) may not {permission.replace('_', ' ')}")


def render(
    request: Request, template: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page from templates/, with the user, CSRF token and flash message in its context."""
    flash = request.app.state.sessions.read_flash(request.cookies.get(FLASH_COOKIE))
    queued = 0
    if user is not None:
        queued = len(request.app.state.gate.outbox.pending(user.name))
    response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {"user": user, "flash": flash, "queued_count": queued, **context},
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    request: Request, url: str, kind: str | None = None, message: str | None = None
) -> RedirectResponse:
    """A 303 redirect after a POST (to a local page only), carrying a one-shot message."""
    response = RedirectResponse(safe_next(url), status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            request.app.state.sessions.flash(kind or "info", message),
            httponly=True,
            samesite="lax",
            path="/",
        )
    return response


def outcome_redirect(request: Request, url: str, outcome: Outcome) -> RedirectResponse:
    """Redirect saying whether the action was done or queued."""
    return redirect(request, url, "ok" if outcome.status == "done" else "queued", outcome.message)


def safe_next(url: str | None, default: str = "/queue") -> str:
    """Only local paths are followed (no open redirect; browsers drop tabs and newlines, so they count)."""
    if not url or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return default
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def login_url(next_url: str) -> str:
    """The login page that returns to `next_url`."""
    return "/login?next=" + quote(next_url, safe="")
