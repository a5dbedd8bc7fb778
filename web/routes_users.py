"""User admin on the page (admins): change a role, disable or re-enable an account, reset a password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from store import users as store_users
from web.auth import User, check_password_rules, hash_password
from web.deps import Forbidden, current_user, redirect, render, require
from web.perform import perform

router = APIRouter()


@router.get("/users")
def users_page(request: Request, user: User = Depends(current_user)) -> Response:
    """Every account with its role, state and last login, and the forms to change them."""
    if not user.can("users"):
        raise Forbidden(f"your role ({user.role}) may not manage users")
    with request.app.state.gate.read() as store:
        rows = store_users.list_users(store)
    return render(request, "users.html", user, rows=rows, roles=store_users.ROLES)


@router.post("/users/{username}")
def update_user(
    request: Request,
    username: str,
    role: str = Form(""),
    state: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    user: User = Depends(current_user),
) -> Response:
    """Apply one change to an account (audited); the password is hashed here and never stored in clear."""
    require(user, "users", csrf_token)
    changes: dict[str, Any] = {}
    if role:
        changes["role"] = role
    if state in ("enable", "disable"):
        changes["enabled"] = state == "enable"
    if password:
        try:
            check_password_rules(password)
        except ValueError as error:
            return redirect(request, "/users", "error", f"{username}: {error}")
        changes["password_hash"] = hash_password(password)
    if not changes:
        return redirect(request, "/users", "info", "Nothing changed.")
    if username == user.name and (changes.get("enabled") is False or changes.get("role", "admin") != "admin"):
        return redirect(
            request, "/users", "error", "You cannot disable yourself or take away your own admin role."
        )
    # the account's open sessions end in the same transaction (store.users.update_user)
    return perform(request, user, "update_user", {"username": username, **changes}, "/users")
