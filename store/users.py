"""SQL for the web page's accounts (`users`), their sessions and the record of applied outbox actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.errors import UserError
from store.db import Store, utcnow

ROLES = ("agent", "compliance", "admin")


class AccountError(UserError, ValueError):
    """A web account that cannot be created or changed as asked (unknown role, name taken, no such user)."""


def add_user(store: Store, username: str, role: str, password_hash: str, created_by: str | None) -> None:
    """Create an account (the caller hashes the password); an existing name is an error."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction():
        if store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise AccountError(f"user {username!r} already exists")
        store.execute(
            "INSERT INTO users (username, role, password_hash, disabled, created_at, created_by) "
            "VALUES (?, ?, ?, FALSE, ?, ?)",
            [username, role, password_hash, utcnow(), created_by],
        )
        store.audit(created_by or "cli", "user.add", "user", username, {"role": role})


def get_user(store: Store, username: str) -> dict[str, Any] | None:
    """One account with its hash, or None."""
    rows = store.rows(
        "SELECT username, role, password_hash, disabled, created_at, last_login_at FROM users "
        "WHERE username = ?",
        [username],
    )
    return rows[0] if rows else None


def list_users(store: Store) -> list[dict[str, Any]]:
    """All accounts, without their hashes."""
    return store.rows(
        "SELECT username, role, disabled, created_at, created_by, last_login_at FROM users ORDER BY username"
    )


def disable_user(store: Store, username: str, actor: str) -> None:
    """Disable an account (its sessions stop working); an unknown name is an error."""
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise AccountError(f"no user {username!r}")
        store.execute("UPDATE users SET disabled = TRUE WHERE username = ?", [username])
        ended = revoke_user_sessions(store, username, "account disabled")
        store.audit(actor, "user.disable", "user", username, {"sessions_ended": ended})


def set_role(store: Store, username: str, role: str, actor: str) -> None:
    """Change an account's role; its open sessions end at once (they carried the old role)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction():
        old = store.scalar("SELECT role FROM users WHERE username = ?", [username])
        if old is None:
            raise AccountError(f"no user {username!r}")
        store.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])
        ended = revoke_user_sessions(store, username, f"role changed from {old} to {role}")
        store.audit(
            actor, "user.set_role", "user", username, {"from": old, "to": role, "sessions_ended": ended}
        )


def change_password(store: Store, username: str, password_hash: str, actor: str) -> None:
    """Replace an account's password; every open session of it ends at once."""
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise AccountError(f"no user {username!r}")
        store.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])
        ended = revoke_user_sessions(store, username, "password changed")
        store.audit(actor, "user.change_password", "user", username, {"sessions_ended": ended})


# -- sessions --------------------------------------------------------------------------------------
def create_session(store: Store, session_id: str, username: str, role: str, lifetime: timedelta) -> None:
    """Record a new session of an account (the cookie names it by `session_id`)."""
    now = utcnow()
    store.execute(
        "INSERT INTO web_sessions (session_id, username, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        [session_id, username, role, now, now + lifetime],
    )


def active_session(store: Store, session_id: str) -> dict[str, Any] | None:
    """The session's user and role while it counts: not revoked, not expired, its account enabled, same role."""
    rows = store.rows(
        """SELECT s.username, s.role FROM web_sessions s JOIN users u ON u.username = s.username
        WHERE s.session_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND NOT u.disabled
          AND u.role = s.role""",
        [session_id, utcnow()],
    )
    return rows[0] if rows else None


def revoke_session(store: Store, session_id: str, reason: str) -> None:
    """End one session (logout)."""
    store.execute(
        "UPDATE web_sessions SET revoked_at = ?, revoked_reason = ? WHERE session_id = ? AND revoked_at IS NULL",
        [utcnow(), reason, session_id],
    )


def revoke_user_sessions(store: Store, username: str, reason: str) -> int:
    """End every open session of an account; returns how many were open."""
    open_count = int(
        store.scalar(
            "SELECT count(*) FROM web_sessions WHERE username = ? AND revoked_at IS NULL", [username]
        )
    )
    store.execute(
        "UPDATE web_sessions SET revoked_at = ?, revoked_reason = ? WHERE username = ? AND revoked_at IS NULL",
        [utcnow(), reason, username],
    )
    return open_count


def set_password_hash(store: Store, username: str, password_hash: str) -> None:
    """Replace a password hash (argon2 rehash on login when parameters changed)."""
    with store.transaction():
        store.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])


def record_login(store: Store, username: str) -> None:
    """Stamp the last login time and audit it."""
    with store.transaction():
        store.execute("UPDATE users SET last_login_at = ? WHERE username = ?", [utcnow(), username])
        store.audit(username, "web.login", "user", username, {})


def outbox_applied(store: Store, outbox_id: str) -> bool:
    """Was this queued action applied already?"""
    return bool(store.scalar("SELECT count(*) FROM web_outbox_applied WHERE outbox_id = ?", [outbox_id]))


def mark_outbox_applied(store: Store, outbox_id: str, username: str, action: str) -> None:
    """Record a queued action as applied (call inside the action's own transaction)."""
    store.execute(
        "INSERT INTO web_outbox_applied VALUES (?, ?, ?, ?)", [outbox_id, username, action, utcnow()]
    )


def update_user(
    store: Store, username: str, actor: str, *, role: str | None = None, enabled: bool | None = None,
    password_hash: str | None = None,
) -> None:  # fmt: skip
    """Change an account's role, re-enable or disable it, or reset its password (audited, never the hash)."""
    if role is not None and role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise AccountError(f"no user {username!r}")
        changes: dict[str, Any] = {}
        if role is not None:
            store.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])
            changes["role"] = role
        if enabled is not None:
            store.execute("UPDATE users SET disabled = ? WHERE username = ?", [not enabled, username])
            changes["enabled"] = enabled
        if password_hash is not None:
            store.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])
            changes["password"] = "reset"
        if role is not None or enabled is False or password_hash is not None:
            # a session carries the role it was opened with: every change of access ends them at once
            changes["sessions_ended"] = revoke_user_sessions(
                store, username, f"account changed: {sorted(changes)}"
            )
        store.audit(actor, "user.update", "user", username, changes)
