"""Migration 3: review decisions, applied merges (with before-images) and cannot-links."""

from store.schema import Migration

STATEMENTS = (
    # One row per customer absorbed into a survivor. `before_image` holds what an undo needs to put
    # the store back exactly: both customers' rows and the ids of everything that moved.
    # status: applied | undone
    """CREATE TABLE IF NOT EXISTS merges (
        merge_id BIGINT PRIMARY KEY,
        survivor_id BIGINT NOT NULL,
        absorbed_id BIGINT NOT NULL,
        suggestion_id BIGINT,
        kind VARCHAR NOT NULL,
        requested_by VARCHAR NOT NULL,
        applied_by VARCHAR NOT NULL,
        apply_run_id BIGINT,
        applied_at TIMESTAMP NOT NULL,
        before_image JSON NOT NULL,
        comment VARCHAR,
        status VARCHAR NOT NULL DEFAULT 'applied',
        undone_by VARCHAR,
        undone_at TIMESTAMP,
        undo_comment VARCHAR
    )""",
    # One row per `apply-merges` run (flow or `idres merges apply`).
    """CREATE TABLE IF NOT EXISTS merge_runs (
        apply_run_id BIGINT PRIMARY KEY,
        actor VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        approved_seen BIGINT,
        merges_applied BIGINT,
        held_back BIGINT,
        superseded BIGINT,
        details JSON
    )""",
    # A pair an agent said are different people (customer_id_a < customer_id_b, original ids):
    # no chain of approvals may ever join them.
    """CREATE TABLE IF NOT EXISTS cannot_links (
        customer_id_a BIGINT NOT NULL,
        customer_id_b BIGINT NOT NULL,
        suggestion_id BIGINT,
        created_by VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        reason VARCHAR,
        PRIMARY KEY (customer_id_a, customer_id_b)
    )""",
)

PERSONAL_DATA = {
    # before-images copy customer rows (names, addresses, numbers)
    "merges": {"before_image": "raw", "comment": "free_text", "undo_comment": "free_text"},
    "cannot_links": {"reason": "free_text"},
}

MIGRATION = Migration(3, "merges with before-images, apply runs, cannot-links", STATEMENTS, PERSONAL_DATA)
