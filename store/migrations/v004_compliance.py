"""Migration 4: export and anonymization requests, and keyed hashes of erased identity keys."""

from store.schema import Migration

STATEMENTS = (
    # kind: export | anonymize; lookup_kind: customer | email | phone, lookup_value normalized as ingest
    # does (erased when the person is anonymized).
    # status: pending | waiting (customer locked; re-checked every run) | done | failed (status_reason
    # says why: for a failed verification, the places found, never the values) | not_found (nobody,
    # or several customers, had that value: kept as the paper trail). counts: rows per table exported
    # or erased.
    """CREATE TABLE IF NOT EXISTS compliance_requests (
        request_id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        customer_id BIGINT,
        lookup_kind VARCHAR NOT NULL,
        lookup_value VARCHAR,
        requested_by VARCHAR NOT NULL,
        reason VARCHAR,
        status VARCHAR NOT NULL,
        status_reason VARCHAR,
        requested_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        bundle_path VARCHAR,
        bundle_sha256 VARCHAR,
        encrypted BOOLEAN,
        counts JSON
    )""",
    # One-way keyed hashes (HMAC) of the identity keys of anonymized customers: the same person
    # coming back is recognised as new (and not re-linked) without keeping the value itself.
    """CREATE TABLE IF NOT EXISTS erased_keys (
        key_hash VARCHAR PRIMARY KEY,
        key_kind VARCHAR NOT NULL,
        request_id BIGINT,
        erased_at TIMESTAMP NOT NULL
    )""",
)

PERSONAL_DATA = {
    "compliance_requests": {"lookup_value": "identifier", "reason": "free_text"},
    # audit details may hold old/new profile values of edits and search queries: anonymization scrubs them
    "audit_log": {"details": "free_text"},
}

MIGRATION = Migration(4, "compliance requests and erased identity keys", STATEMENTS, PERSONAL_DATA)
