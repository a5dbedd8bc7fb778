"""Migration 1: the core customer store."""

from store.schema import Migration

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS ingest_batches (
        batch_id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        file_size BIGINT NOT NULL,
        channel VARCHAR,
        status VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_new BIGINT NOT NULL,
        rows_updated BIGINT NOT NULL,
        rows_unchanged BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP NOT NULL,
        validation JSON,
        data_docs_path VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS customers (
        customer_id BIGINT PRIMARY KEY,
        status VARCHAR NOT NULL DEFAULT 'active',
        merged_into BIGINT,
        first_name VARCHAR,
        last_name VARCHAR,
        display_name VARCHAR,
        company VARCHAR,
        gender VARCHAR,
        city VARCHAR,
        postcode VARCHAR,
        country VARCHAR,
        birth_date VARCHAR,
        emails VARCHAR[],
        phones VARCHAR[],
        profile_sources JSON,
        agent_edited VARCHAR[],
        locked BOOLEAN NOT NULL DEFAULT FALSE,
        lock_reason VARCHAR,
        locked_by VARCHAR,
        locked_at TIMESTAMP,
        anonymized_at TIMESTAMP,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS identities (
        identity_id BIGINT PRIMARY KEY,
        customer_id BIGINT NOT NULL,
        channel VARCHAR NOT NULL,
        external_id VARCHAR NOT NULL,
        display_name VARCHAR,
        first_name VARCHAR,
        last_name VARCHAR,
        screen_name VARCHAR,
        email VARCHAR,
        phone VARCHAR,
        company VARCHAR,
        gender VARCHAR,
        city VARCHAR,
        postcode VARCHAR,
        country VARCHAR,
        birth_date VARCHAR,
        extra JSON,
        created_at TIMESTAMP,
        updated_at TIMESTAMP,
        email_norm VARCHAR,
        email_key VARCHAR,
        email_valid BOOLEAN,
        phone_e164 VARCHAR,
        phone_valid BOOLEAN,
        first_name_norm VARCHAR,
        last_name_norm VARCHAR,
        first_name_key VARCHAR,
        last_name_key VARCHAR,
        name_from_display BOOLEAN,
        display_name_norm VARCHAR,
        screen_name_norm VARCHAR,
        company_norm VARCHAR,
        city_norm VARCHAR,
        postcode_norm VARCHAR,
        country_norm VARCHAR,
        birth_date_norm DATE,
        record_hash VARCHAR NOT NULL,
        batch_id BIGINT NOT NULL,
        first_seen_at TIMESTAMP NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        match_pending BOOLEAN NOT NULL DEFAULT TRUE,
        anonymized BOOLEAN NOT NULL DEFAULT FALSE,
        key_hash VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS conversations (
        conversation_id BIGINT PRIMARY KEY,
        channel VARCHAR NOT NULL,
        thread_id VARCHAR NOT NULL,
        identity_id BIGINT NOT NULL,
        title VARCHAR,
        created_at TIMESTAMP,
        last_message_at TIMESTAMP,
        batch_id BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS messages (
        message_id BIGINT PRIMARY KEY,
        conversation_id BIGINT NOT NULL,
        external_message_id VARCHAR NOT NULL,
        identity_id BIGINT NOT NULL,
        author_kind VARCHAR NOT NULL,
        agent_name VARCHAR,
        body VARCHAR,
        created_at TIMESTAMP NOT NULL,
        record_hash VARCHAR NOT NULL,
        batch_id BIGINT NOT NULL,
        anonymized BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    """CREATE TABLE IF NOT EXISTS comments (
        comment_id BIGINT PRIMARY KEY,
        customer_id BIGINT,
        conversation_id BIGINT,
        agent VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        quarantine_id BIGINT PRIMARY KEY,
        batch_id BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,
        row_number BIGINT NOT NULL,
        expectation VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        raw_row JSON NOT NULL,
        quarantined_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        audit_id BIGINT PRIMARY KEY,
        occurred_at TIMESTAMP NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        subject_kind VARCHAR NOT NULL,
        subject_id VARCHAR,
        details JSON
    )""",
    """CREATE TABLE IF NOT EXISTS personal_data_columns (
        table_name VARCHAR NOT NULL,
        column_name VARCHAR NOT NULL,
        category VARCHAR NOT NULL
    )""",
)

# Which columns hold personal data, by table: anonymization erases exactly these (and free text).
# Category: `identifier` (direct: address, number, handle), `name`, `contact`, `demographic`,
# `free_text` (may contain any of the others), `raw` (a copy of an input row).
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "customers": {
        "first_name": "name",
        "last_name": "name",
        "display_name": "name",
        "company": "demographic",
        "gender": "demographic",
        "city": "demographic",
        "postcode": "demographic",
        "country": "demographic",
        "birth_date": "demographic",
        "emails": "contact",
        "phones": "contact",
        "profile_sources": "raw",
    },
    "identities": {
        "external_id": "identifier",
        **{column: "name" for column in ("display_name", "first_name", "last_name", "screen_name")},
        "email": "contact",
        "phone": "contact",
        **{
            column: "demographic"
            for column in ("company", "gender", "city", "postcode", "country", "birth_date")
        },
        "extra": "raw",
        "email_norm": "contact",
        "email_key": "contact",
        "phone_e164": "contact",
        **{
            column: "name"
            for column in (
                "first_name_norm",
                "last_name_norm",
                "first_name_key",
                "last_name_key",
                "display_name_norm",
                "screen_name_norm",
            )
        },
        **{
            column: "demographic"
            for column in ("company_norm", "city_norm", "postcode_norm", "country_norm", "birth_date_norm")
        },
    },
    "conversations": {"thread_id": "identifier", "title": "free_text"},
    "messages": {"body": "free_text"},
    "comments": {"body": "free_text"},
    "quarantine": {"raw_row": "raw"},
}


MIGRATION = Migration(
    1,
    "customer store: identities, customers, conversations, messages, comments, batches, quarantine, audit",
    STATEMENTS,
    PERSONAL_DATA,
)
