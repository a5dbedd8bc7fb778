"""SQL for the web page's accounts (`users`) and the record of applied outbox actions."""

from __future__ import annotations

from typing import Any

from store.db import Store, utcnow

ROLES = ("agent", "compliance", "admin")


def add_user(store: Store, username: str, role: str, password_hash: str, created_by: str | None) -> None:
    """Create an account (the caller hashes the password); an existing name is an error."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction():
        if store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise ValueError(f"user {username!r} already exists")
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
            raise ValueError(f"no user {username!r}")
        store.execute("UPDATE users SET disabled = TRUE WHERE username = ?", [username])
        store.audit(actor, "user.disable", "user", username, {})


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
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise ValueError(f"no user {username!r}")
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
        store.audit(actor, "user.update", "user", username, changes)
