"""Migration 5: accounts of the web page."""

from store.schema import Migration

STATEMENTS = (
    # role: agent | compliance | admin; password_hash is an argon2 hash (salted, slow)
    """CREATE TABLE IF NOT EXISTS users (
        username VARCHAR PRIMARY KEY,
        role VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TIMESTAMP NOT NULL,
        created_by VARCHAR,
        last_login_at TIMESTAMP
    )""",
)

MIGRATION = Migration(5, "web page accounts", STATEMENTS, {})
