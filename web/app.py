"""The FastAPI app: `create_app(settings)` wires templates, sessions, the store gate and the routes.

The factory is the web entry point: it takes the settings (or reads them once) and everything below
gets them from `app.state.settings` or its arguments.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from math import ceil
from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.settings import Settings, load_settings
from store import StoreBusyError, open_store
from web.actions import build_actions
from web.auth import LOGIN_COOKIE, SESSION_COOKIE, Sessions, authenticate, csrf_ok, secret_key
from web.deps import Forbidden, LoginRequired, current_user, login_url, redirect, render, safe_next
from web.gate import StoreGate
from web.lease import Lease
from web.throttle import LoginThrottle

HERE = Path(__file__).resolve().parent
log = logging.getLogger("idres.web")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    # autoescape is on for .html (Starlette's default); say so, so nobody turns it off by accident
    templates.env.autoescape = True
    from web.evidence import probability_text

    templates.env.filters["pct"] = probability_text
    templates.env.filters["when"] = lambda value: "" if value is None else str(value)[:16]
    return templates


def create_app(settings: Settings | None = None, drain: bool = True) -> FastAPI:
    """The web app over `settings.store` (None: read once here); `drain=False` leaves the outbox thread off.

    `idres web` passes the settings it resolved; `uvicorn --factory web.app:create_app` gets them read
    from the environment and `idres.toml` here, once, for the app's whole life.
    """
    if settings is None:
        settings = load_settings()
    with open_store(settings.store, busy_timeout_s=max(settings.store_busy_timeout_s, 1.0)):
        pass  # migrate once at start; requests then share short-lived connections (web/lease.py)
    web = settings.web
    lease = Lease(settings.store, web.hold_idle_s, web.hold_max_s, web.release_gap_s)
    gate = StoreGate(settings.store, build_actions(settings), web.read_wait_s, web.write_wait_s, lease)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if drain:
            gate.start()
        yield
        gate.stop()

    app = FastAPI(title="idres", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.gate = gate
    app.state.sessions = Sessions(
        secret_key(settings.web.secret_key, settings.store), int(settings.web.session_hours * 3600)
    )
    app.state.templates = _templates()
    app.state.throttle = throttle = LoginThrottle()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, error: LoginRequired) -> Response:
        return RedirectResponse(login_url(error.next_url), status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        user = request.app.state.sessions.load(request.cookies.get(SESSION_COOKIE))
        return render(request, "error.html", user, status_code=403, title="Not allowed", reason=error.reason)

    @app.exception_handler(StoreBusyError)
    async def busy(request: Request, error: StoreBusyError) -> Response:
        # a scheduled flow holds the store for a little longer than a page waits: not an error
        if request.method == "GET":
            return render(request, "busy.html", None, retry_url=str(request.url))
        # an action that could not even be queued: say so plainly, and offer to send it again (POST)
        form = await request.form()
        fields = [(k, str(v)) for k, v in form.multi_items() if isinstance(v, str) and "password" not in k]
        if not any(k == "action_key" for k, _ in fields):  # a re-sent form takes effect once
            fields.append(("action_key", uuid.uuid4().hex))
        response = render(
            request, "busy_action.html", None, status_code=503, action_url=request.url.path, fields=fields
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path, exc_info=error)
        return render(
            request, "error.html", None, status_code=500, title="Something went wrong",
            reason="The error was logged. Try again; if it persists, tell your administrator.",
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        user = request.app.state.sessions.load(request.cookies.get(SESSION_COOKIE))
        title = "Not found" if error.status_code == 404 else "Error"
        return render(
            request, "error.html", user, status_code=error.status_code, title=title, reason=error.detail
        )

    def login_form(request: Request, next_url: str, error: str | None, status_code: int = 200) -> Response:
        # the login form has its own CSRF token (double-submit cookie): there is no session yet
        token = secrets.token_urlsafe(24)
        response = render(
            request, "login.html", None, status_code=status_code, next=safe_next(next_url), error=error,
            login_token=token,
        )  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/queue") -> Response:
        return login_form(request, next, None)

    @app.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        next: str = Form("/queue"),
        login_token: str = Form(""),
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, login_token):
            return login_form(request, next, "The login form expired: please log in again.", 400)
        name, client = username.strip()[:64], request.client.host if request.client else "unknown"
        wait = throttle.wait_s(name, client)
        if wait > 0:  # refused before the password is even checked: guessing goes no faster
            _audit_login(name, "web.login_throttled", {"client": client, "retry_after_s": ceil(wait)})
            return _throttled(request, next, wait, "")
        try:
            with gate.read() as store:
                account = authenticate(store, name, password)
            if account is None:
                failures, wait = throttle.failed(name, client)
                _audit_login(name, "web.login_failed", {"client": client, "failures": failures})
                wrong = "Unknown user name or wrong password (or the account is disabled)."
                if wait > 0:
                    return _throttled(request, next, wait, wrong + " ")
                return login_form(request, next, wrong, 401)
            throttle.succeeded(name)
            session_id = Sessions.new_id()
            gate.run(
                account["username"], "login", {"session_id": session_id, "role": account["role"]}, queue=False
            )
        except StoreBusyError:
            return login_form(
                request, next, "The store is busy with a scheduled run: you are NOT logged in yet. "
                "Try again in a few seconds.", 503,
            )  # fmt: skip
        target = safe_next(next)
        if target == "/queue" and account["role"] == "compliance":
            target = "/requests"  # compliance officers work from the requests page
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        response.set_cookie(
            SESSION_COOKIE,
            app.state.sessions.new(account["username"], account["role"], session_id),
            max_age=int(settings.web.session_hours * 3600),
            httponly=True,
            samesite="lax",
            path="/",
        )
        return response

    def _audit_login(name: str, action: str, details: dict[str, object]) -> None:
        gate.run(
            name or "(no name)",
            "audit",
            {"action": action, "subject_kind": "user", "subject_id": name, "details": details},
        )

    def _throttled(request: Request, next_url: str, wait: float, prefix: str) -> Response:
        seconds = ceil(wait)
        response = login_form(
            request, next_url, f"{prefix}Too many failed logins for this account or from this computer: "
            f"wait {seconds} s before trying again (each further failure doubles the wait; the attempts are "
            "recorded in the audit log).", 429,
        )  # fmt: skip
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        user = current_user(request)
        if not csrf_ok(user, csrf_token):
            raise Forbidden("the form's security token is missing or stale: reload the page and try again")
        # queued when the store is busy: actions after it (also queued) then find the session ended
        gate.run(user.name, "logout", {"session_id": user.session})
        response = redirect(request, "/login", "ok", "Logged out.")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        user = request.app.state.sessions.load(request.cookies.get(SESSION_COOKIE))
        landing = "/requests" if user is not None and user.role == "compliance" else "/queue"
        return RedirectResponse(landing, status_code=303)

    from web import routes_compliance, routes_customer, routes_misc, routes_review, routes_users

    app.include_router(routes_review.router)
    app.include_router(routes_customer.router)
    app.include_router(routes_misc.router)  # /requests/{id}/download before /requests/{id}
    app.include_router(routes_compliance.router)
    app.include_router(routes_users.router)
    return app
