"""Migration 2: match runs and merge suggestions."""

from store.schema import Migration

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS match_runs (
        run_id BIGINT PRIMARY KEY,
        mode VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        identities_total BIGINT,
        identities_changed BIGINT,
        pairs_compared BIGINT,
        suggestions_new BIGINT,
        suggestions_updated BIGINT,
        suggestions_reopened BIGINT,
        rule_counts JSON,
        band_counts JSON,
        model JSON,
        seconds DOUBLE
    )""",
    # One row per customer pair (customer_id_l < customer_id_r); a pair keeps its id across runs.
    # status: pending | approved | rejected | applied | superseded
    # band: review | auto_approve | related (shared value only: "related, not merged")
    """CREATE TABLE IF NOT EXISTS suggestions (
        suggestion_id BIGINT PRIMARY KEY,
        customer_id_l BIGINT NOT NULL,
        customer_id_r BIGINT NOT NULL,
        identity_id_l BIGINT,
        identity_id_r BIGINT,
        probability DOUBLE NOT NULL,
        match_weight DOUBLE NOT NULL,
        band VARCHAR NOT NULL,
        status VARCHAR NOT NULL DEFAULT 'pending',
        related_only BOOLEAN NOT NULL DEFAULT FALSE,
        reason VARCHAR,
        rule VARCHAR,
        evidence JSON,
        evidence_hash VARCHAR,
        created_run_id BIGINT,
        updated_run_id BIGINT,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        decided_by VARCHAR,
        decided_at TIMESTAMP,
        decision_comment VARCHAR,
        status_reason VARCHAR
    )""",
)

PERSONAL_DATA = {
    # evidence holds the compared values (names, addresses, numbers) of both sides
    "suggestions": {"evidence": "raw", "decision_comment": "free_text"},
}

MIGRATION = Migration(2, "match runs and merge suggestions", STATEMENTS, PERSONAL_DATA)
