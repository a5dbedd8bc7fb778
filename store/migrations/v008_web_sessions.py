"""Migration 8: server-side web sessions, so logout, disabling, a role or password change end them at once."""

from store.schema import Migration

STATEMENTS = (
    # the cookie carries only the random session_id (signed); the row says whether it still counts
    """CREATE TABLE IF NOT EXISTS web_sessions (
        session_id VARCHAR PRIMARY KEY,
        username VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP,
        revoked_reason VARCHAR
    )""",
)

MIGRATION = Migration(8, "server-side web sessions", STATEMENTS, {})
