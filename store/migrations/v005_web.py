"""Migration 5: accounts of the web page, and the record of applied outbox actions."""

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
    # Actions the page queued while a flow held the store (web/outbox.py) are applied later; the id
    # of each applied one is written in the same transaction as the action itself, so a drain that
    # stops between the store commit and removing the outbox row never applies an action twice.
    """CREATE TABLE IF NOT EXISTS web_outbox_applied (
        outbox_id VARCHAR PRIMARY KEY,
        username VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL
    )""",
)

MIGRATION = Migration(5, "web page accounts and applied outbox actions", STATEMENTS, {})
