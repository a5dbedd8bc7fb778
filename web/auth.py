"""Accounts, passwords, signed-cookie sessions, CSRF tokens and what each role may do."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from domain.errors import BadInput
from store import Store
from store import users as store_users

SESSION_COOKIE = "idres_session"
FLASH_COOKIE = "idres_flash"
LOGIN_COOKIE = "idres_login"

# what each role may do; every action route checks this on the server (hidden buttons are a courtesy)
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"review", "edit_profile", "comment", "lock", "merge"}),
    "compliance": frozenset({"export", "anonymize", "download", "comment"}),
    "admin": frozenset(
        {"review", "edit_profile", "comment", "lock", "merge", "undo", "export", "anonymize", "users"}
    ),
}
_hasher = PasswordHasher()
# verifying against this keeps a login for an unknown name as slow as one for a known name
_DUMMY_HASH = _hasher.hash("no such user")


@dataclass(frozen=True)
class User:
    """The logged-in user of a request, with the session's CSRF token."""

    name: str
    role: str
    csrf: str
    session: str = ""  # the server-side session (web_sessions.session_id) the cookie names

    def can(self, permission: str) -> bool:
        """May this user do `permission`?"""
        return permission in PERMISSIONS.get(self.role, frozenset())


def hash_password(password: str) -> str:
    """An argon2id hash (salted, slow) of a password."""
    return _hasher.hash(password)


class PasswordRuleError(BadInput, ValueError):
    """A password the rules refuse (too short)."""


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to be worth hashing."""
    if len(password) < 8:
        raise PasswordRuleError("a password needs at least 8 characters")


def authenticate(store: Store, username: str, password: str) -> dict[str, Any] | None:
    """The account when the name and password match and it is enabled, else None."""
    account = store_users.get_user(store, username)
    try:
        _hasher.verify(account["password_hash"] if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or account["disabled"]:
        return None
    if _hasher.check_needs_rehash(account["password_hash"]):
        store_users.set_password_hash(store, username, _hasher.hash(password))
    return account


def secret_key(configured: str | None, store_path: Path) -> str:
    """The configured key, else one generated once into a 0600 file next to the store."""
    if configured:
        return configured
    path = Path(store_path).with_name(Path(store_path).name + ".web-secret")
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once do not overwrite each other's key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


class Sessions:
    """Signed, timed session and flash cookies; the session itself lives in the store (revocable)."""

    def __init__(self, key: str, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._sessions = URLSafeTimedSerializer(key, salt="idres-session")
        self._flash = URLSafeTimedSerializer(key, salt="idres-flash")

    @staticmethod
    def new_id() -> str:
        """A fresh, unguessable session id."""
        return secrets.token_urlsafe(32)

    def new(self, username: str, role: str, session_id: str) -> str:
        """The cookie value of session `session_id` (with a new CSRF token)."""
        return self._sessions.dumps(
            {"s": session_id, "u": username, "r": role, "c": secrets.token_urlsafe(24)}
        )

    def load(self, cookie: str | None) -> User | None:
        """The session's user, or None when missing, tampered with or expired."""
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not {"s", "u", "r", "c"} <= data.keys():
            return None  # a cookie from before server-side sessions: log in again
        return User(str(data["u"]), str(data["r"]), str(data["c"]), str(data["s"]))

    def flash(self, kind: str, message: str) -> str:
        """A one-shot message cookie value."""
        return self._flash.dumps({"k": kind, "m": message})

    def read_flash(self, cookie: str | None) -> dict[str, str] | None:
        """The flash message, or None."""
        if not cookie:
            return None
        try:
            data = self._flash.loads(cookie, max_age=300)
        except BadSignature:
            return None
        return {"kind": str(data.get("k", "info")), "message": str(data.get("m", ""))}


def csrf_ok(user: User, token: str | None) -> bool:
    """Does the form's token match the session's (constant-time)?"""
    return bool(token) and hmac.compare_digest(user.csrf, str(token))
