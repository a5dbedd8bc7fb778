"""Migration 9: training labels from agents' decisions (matching learns from them)."""

from store.schema import Migration

STATEMENTS = (
    # One row per labelled identity pair per decision (the latest row of a pair wins):
    # kind approve | manual_merge -> is_match; reject | undo -> not. `weight`: a decision counts
    # once, so a manual merge labelling k identity pairs gives each 1/k. `run_id`/`config_id`: the
    # match run whose comparison the agent saw and its configuration; `levels`: that comparison
    # ({comparison: level}, no values), used only when the identities are gone and the
    # configuration is unchanged (otherwise the pair is compared again). `probability`: what the
    # model said when the decision was made (agreement over time in the report).
    """CREATE TABLE IF NOT EXISTS labels (
        label_id BIGINT PRIMARY KEY,
        identity_id_l BIGINT NOT NULL,
        identity_id_r BIGINT NOT NULL,
        customer_id_l BIGINT,
        customer_id_r BIGINT,
        is_match BOOLEAN NOT NULL,
        kind VARCHAR NOT NULL,
        weight DOUBLE NOT NULL DEFAULT 1.0,
        suggestion_id BIGINT,
        merge_id BIGINT,
        decided_by VARCHAR NOT NULL,
        decided_at TIMESTAMP NOT NULL,
        run_id BIGINT,
        config_id VARCHAR,
        probability DOUBLE,
        levels JSON
    )""",
)

MIGRATION = Migration(9, "training labels from agents' decisions", STATEMENTS, {})
