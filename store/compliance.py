"""SQL for compliance: a person's whole record, the erased keys, the erasure search.

A "person" is a customer and every customer merged into it (`store.redirects.person`). Callers
(compliance/runner.py) hold the transaction, one per request. The anonymization writes go through
the module that owns each table (`customers.overwrite`, `identities.overwrite`, ...); this module
writes only `erased_keys`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from domain.statuses import OPEN_SUGGESTIONS, CustomerStatus, SuggestionStatus
from store.db import Store, utcnow
from store.identities import FUTURE_TOLERANCE
from store.text_forms import like_any, search_forms

_OPEN_SUGGESTIONS = ", ".join(f"'{status}'" for status in sorted(OPEN_SUGGESTIONS))
# the tables of an export record, in the order they are written
RECORD_TABLES = ("customers", "identities", "conversations", "messages", "comments", "merges")


# -- finding people ------------------------------------------------------------------------------
def customer_status(store: Store, customer_id: int) -> dict[str, Any] | None:
    """status, merged_into and the lock columns of a customer (None when there is none)."""
    rows = store.rows(
        "SELECT customer_id, status, merged_into, locked, lock_reason, locked_by, locked_at, anonymized_at "
        "FROM customers WHERE customer_id = ?",
        [customer_id],
    )
    return rows[0] if rows else None


def customers_with_email(store: Store, email_norm: str) -> list[int]:
    """Customers holding an identity or profile address equal to the normalized e-mail."""
    rows = store.rows(
        f"""SELECT customer_id FROM identities WHERE email_norm = ? AND NOT anonymized
        UNION SELECT customer_id FROM customers WHERE list_contains(emails, ?) AND status = '{CustomerStatus.ACTIVE}'
        ORDER BY 1""",
        [email_norm, email_norm],
    )
    return [int(row["customer_id"]) for row in rows]


def customers_with_phone(store: Store, phone_e164: str) -> list[int]:
    """Customers holding an identity or profile number equal to the E.164 number."""
    rows = store.rows(
        f"""SELECT customer_id FROM identities WHERE phone_e164 = ? AND NOT anonymized
        UNION SELECT customer_id FROM customers WHERE list_contains(phones, ?) AND status = '{CustomerStatus.ACTIVE}'
        ORDER BY 1""",
        [phone_e164, phone_e164],
    )
    return [int(row["customer_id"]) for row in rows]


def _in(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


# -- a person's record ---------------------------------------------------------------------------
def person_tables(store: Store, customer_ids: Sequence[int]) -> dict[str, pl.DataFrame]:
    """Every row of the person: customers, identities, conversations, messages, comments and merges."""
    ids = _in(customer_ids)
    identities = f"SELECT identity_id FROM identities WHERE customer_id IN ({ids})"
    conversations = f"SELECT conversation_id FROM conversations WHERE identity_id IN ({identities})"
    return {
        "customers": store.frame(
            f"SELECT * FROM customers WHERE customer_id IN ({ids}) ORDER BY customer_id"
        ),
        "identities": store.frame(
            f"SELECT * FROM identities WHERE customer_id IN ({ids}) ORDER BY identity_id"
        ),
        "conversations": store.frame(
            f"SELECT * FROM conversations WHERE conversation_id IN ({conversations}) ORDER BY conversation_id"
        ),
        "messages": store.frame(
            f"SELECT * FROM messages WHERE conversation_id IN ({conversations}) ORDER BY message_id"
        ),
        "comments": store.frame(
            f"""SELECT * FROM comments WHERE customer_id IN ({ids}) OR conversation_id IN ({conversations})
            ORDER BY comment_id"""
        ),
        "merges": store.frame(
            f"""SELECT * FROM merges WHERE survivor_id IN ({ids}) OR absorbed_id IN ({ids})
            ORDER BY merge_id"""
        ),
    }


def personal_data_register(store: Store) -> list[dict[str, Any]]:
    """The personal-data columns recorded in the store (table, column, category)."""
    return store.rows("SELECT * FROM personal_data_columns ORDER BY table_name, column_name")


def sources(store: Store, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Where the person's identities came from: channel and ingest file, with first/last load."""
    return store.rows(
        f"""SELECT i.channel, b.file_path, min(i.first_seen_at) AS first_seen_at,
                   max(i.changed_at) AS last_changed_at, count(*) AS identities
        FROM identities i LEFT JOIN ingest_batches b ON b.batch_id = i.batch_id
        WHERE i.customer_id IN ({_in(customer_ids)}) GROUP BY ALL ORDER BY 1, 2"""
    )


# -- erased keys ------------------------------------------------------------------------
def insert_erased_keys(store: Store, hashes: pl.DataFrame, request_id: int, now: datetime) -> int:
    """Keep the keyed hashes of erased identity keys (a hash seen before is kept once)."""
    if hashes.height == 0:
        return 0
    with store.registered("erased_hashes", hashes.select("key_hash", "key_kind")):
        before = int(store.scalar("SELECT count(*) FROM erased_keys"))
        store.execute(
            """INSERT INTO erased_keys (key_hash, key_kind, request_id, erased_at)
            SELECT key_hash, key_kind, ?, ? FROM erased_hashes
            WHERE key_hash NOT IN (SELECT key_hash FROM erased_keys)""",
            [request_id, now],
        )
        return int(store.scalar("SELECT count(*) FROM erased_keys")) - before


def suggestions_of(store: Store, customer_ids: Sequence[int]) -> pl.DataFrame:
    """Suggestions involving the person (their evidence holds its compared values)."""
    ids = _in(customer_ids)
    return store.frame(
        f"""SELECT suggestion_id, evidence, decision_comment, status_reason FROM suggestions
        WHERE customer_id_l IN ({ids}) OR customer_id_r IN ({ids}) ORDER BY suggestion_id"""
    )


def audit_entries_of(
    store: Store, customer_ids: Sequence[int], suggestion_ids: Sequence[int], merge_ids: Sequence[int],
    values: Sequence[str],
) -> pl.DataFrame:  # fmt: skip
    """Audit entries about the person (its customers, suggestions, merges) or whose details hold its values."""
    forms = search_forms(values)
    subjects = [("customer", i) for i in customer_ids] + [("suggestion", i) for i in suggestion_ids]
    subjects += [("merge", i) for i in merge_ids]
    about = " OR ".join("(subject_kind = ? AND subject_id = ?)" for _ in subjects) or "FALSE"
    params: list[Any] = [item for kind, i in subjects for item in (kind, str(i))]
    return store.frame(
        f"""SELECT audit_id, ({about}) AS about_person, details FROM audit_log
        WHERE ({about}) OR {like_any("details", len(forms))} ORDER BY audit_id""",
        [*params, *params, *forms],
    )


def text_columns(store: Store) -> list[tuple[str, str, str]]:
    """(table, column, key column) of every text-like column (VARCHAR, JSON, lists) of every base table."""
    rows = store.rows(
        """SELECT c.table_name, c.column_name, c.data_type,
                  (SELECT k.column_name FROM information_schema.columns k
                   WHERE k.table_name = c.table_name AND k.table_schema = c.table_schema
                   ORDER BY k.ordinal_position LIMIT 1) AS first_column
        FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
        WHERE t.table_type = 'BASE TABLE' AND t.table_schema = 'main'
          AND (c.data_type IN ('VARCHAR', 'JSON') OR c.data_type LIKE '%[]' OR c.data_type LIKE 'STRUCT%'
               OR c.data_type LIKE 'MAP%')
        ORDER BY c.table_name, c.ordinal_position"""
    )
    return [(row["table_name"], row["column_name"], row["first_column"]) for row in rows]


_RE2_SPECIAL = set("\\.^$|?*+()[]{}")


def alternation(literals: Sequence[str], patterns: Sequence[str] = ()) -> str:
    """One RE2 (and Python) regex matching any of the lower-case literals or the patterns."""
    escaped = [
        "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in literal) for literal in literals if literal
    ]
    parts = escaped + [f"(?:{pattern})" for pattern in patterns]
    return "|".join(parts)


def _table_columns(store: Store) -> dict[str, tuple[str, list[str]]]:
    tables: dict[str, tuple[str, list[str]]] = {}
    for table, column, key in text_columns(store):
        tables.setdefault(table, (key, []))[1].append(column)
    return tables


def search_everywhere(
    store: Store, literals: Sequence[str], patterns: Sequence[str] = (), limit_per_table: int = 20
) -> list[str]:
    """Where any literal (lower-case) or pattern still occurs in a text column: 'table.column (key=...)' places.

    One scan per table: its text columns are joined and searched with one regex (RE2 runs it as a
    DFA), then only the rows found are looked at column by column. The values are query parameters,
    so a failing statement never shows them.
    """
    regex = alternation(literals, patterns)
    if not regex:
        return []
    places: list[str] = []
    for table, (key, columns) in _table_columns(store).items():
        joined = ", ".join(f"CAST({c} AS VARCHAR)" for c in columns)
        rows = store.rows(
            f"SELECT CAST({key} AS VARCHAR) AS k FROM {table} "
            f"WHERE regexp_matches(lower(concat_ws(chr(31), {joined})), ?) LIMIT ?",
            [regex, limit_per_table],
        )
        if not rows:
            continue
        keys = [row["k"] for row in rows]
        marks = ", ".join("?" for _ in keys)
        for column in columns:
            found = store.rows(
                f"SELECT CAST({key} AS VARCHAR) AS k FROM {table} WHERE CAST({key} AS VARCHAR) IN ({marks}) "
                f"AND regexp_matches(lower(CAST({column} AS VARCHAR)), ?) ORDER BY 1",
                [*keys, regex],
            )
            places += [f"{table}.{column} ({key}={row['k']})" for row in found]
    return places


def search_values(store: Store, values: Sequence[str], limit_per_column: int = 20) -> list[str]:
    """Where any of the values (any case, also JSON-escaped) still occurs: 'table.column (key=...)' places."""
    return search_everywhere(store, search_forms(values), (), limit_per_column)


def person_rows_with_personal_data(
    store: Store,
    customer_ids: Sequence[int],
    personal: dict[str, dict[str, str]],
    erased_marks: Sequence[str],
) -> list[str]:
    """The person's own customer and identity rows still holding a personal value (not NULL/empty/marker)."""
    ids = _in(customer_ids)
    found: list[str] = []
    for table, key in (("customers", "customer_id"), ("identities", "identity_id")):
        for column in personal.get(table, {}):
            if table == "identities" and column == "external_id":
                condition = "NOT starts_with(external_id, 'erased:')"
            else:
                marks = ", ".join("?" for _ in erased_marks)
                condition = f"{column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({marks}, '[]')"
            rows = store.rows(
                f"SELECT {key} AS k FROM {table} WHERE customer_id IN ({ids}) AND {condition} LIMIT 5",
                list(erased_marks) if "?" in condition else None,
            )
            found += [f"{table}.{column} ({key}={row['k']})" for row in rows]
    return found


# -- retention and re-appearance -----------------------------------------------------------------
def inactive_customers(store: Store, before: datetime) -> list[int]:
    """Active, unlocked customers whose newest activity (identity change, message, comment) is before `before`."""
    rows = store.rows(
        # activity dated in the future (beyond now + FUTURE_TOLERANCE) is not believed: it would keep
        # retention from ever coming due
        f"""WITH activity AS (
            SELECT i.customer_id, greatest(max(i.updated_at) FILTER (WHERE i.updated_at <= $limit),
                                           max(i.changed_at), max(i.first_seen_at)) AS at
            FROM identities i GROUP BY 1
            UNION ALL
            SELECT i.customer_id, max(m.created_at) FILTER (WHERE m.created_at <= $limit) FROM messages m
            JOIN conversations c ON c.conversation_id = m.conversation_id
            JOIN identities i ON i.identity_id = c.identity_id GROUP BY 1
            UNION ALL
            SELECT customer_id, max(created_at) FROM comments WHERE customer_id IS NOT NULL GROUP BY 1)
        SELECT c.customer_id FROM customers c JOIN activity a ON a.customer_id = c.customer_id
        WHERE c.status = '{CustomerStatus.ACTIVE}' AND NOT c.locked
        GROUP BY c.customer_id HAVING max(a.at) < $before ORDER BY 1""",
        {"limit": utcnow() + FUTURE_TOLERANCE, "before": before},
    )
    return [int(row["customer_id"]) for row in rows]


def erasure_started(store: Store) -> datetime | None:
    """When the first identity key was erased (None when none was)."""
    value = store.scalar("SELECT min(erased_at) FROM erased_keys WHERE key_kind = 'identity'")
    return value if isinstance(value, datetime) else None


def unchecked_identities_since(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Live identities first seen since `since` that carry no key hash yet (candidates for re-appearance)."""
    return store.rows(
        """SELECT identity_id, customer_id, channel, external_id FROM identities
        WHERE NOT anonymized AND key_hash IS NULL AND first_seen_at >= ? ORDER BY identity_id""",
        [since],
    )


def erased_hashes_among(store: Store, hashes: Sequence[str]) -> set[str]:
    """Which of these keyed hashes belong to erased identity keys."""
    if not hashes:
        return set()
    frame = pl.DataFrame({"key_hash": list(hashes)})
    with store.registered("candidate_hashes", frame):
        rows = store.rows(
            """SELECT c.key_hash FROM candidate_hashes c
            JOIN erased_keys e ON e.key_hash = c.key_hash AND e.key_kind = 'identity'"""
        )
    return {row["key_hash"] for row in rows}


def customers_holding(store: Store, values: Sequence[str]) -> list[int]:
    """Live customers whose identities or profile hold one of the values exactly (duplicates, shared numbers)."""
    if not values:
        return []
    frame = pl.DataFrame({"value": [v.lower() for v in values]})
    with store.registered("held_values", frame):
        rows = store.rows(
            f"""SELECT DISTINCT i.customer_id FROM identities i JOIN held_values v
                ON v.value IN (lower(i.external_id), i.email_norm, i.phone_e164)
            WHERE NOT i.anonymized
            UNION
            SELECT DISTINCT c.customer_id FROM customers c, held_values v
            WHERE c.status = '{CustomerStatus.ACTIVE}' AND (list_contains(c.emails, v.value) OR list_contains(c.phones, v.value))
            ORDER BY 1"""
        )
    return [int(row["customer_id"]) for row in rows]


def busiest_customers(store: Store, exclude: Sequence[int] = (), limit: int = 50) -> list[int]:
    """Active, unlocked customers without open suggestions, most messages first (demo candidates)."""
    rows = store.rows(
        f"""SELECT c.customer_id FROM customers c JOIN identities i ON i.customer_id = c.customer_id
        JOIN conversations v ON v.identity_id = i.identity_id JOIN messages m ON m.conversation_id = v.conversation_id
        WHERE c.status = '{CustomerStatus.ACTIVE}' AND NOT c.locked AND c.customer_id NOT IN ({_in(exclude) if exclude else "-1"})
          AND NOT EXISTS (SELECT 1 FROM suggestions s WHERE s.status IN ({_OPEN_SUGGESTIONS})
                          AND c.customer_id IN (s.customer_id_l, s.customer_id_r))
        GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?""",
        [limit],
    )
    return [int(row["customer_id"]) for row in rows]


def mentions_outside(store: Store, customer_ids: Sequence[int], values: Sequence[str]) -> int:
    """Messages and comments outside the person's conversations that mention one of the values."""
    forms = search_forms(values)
    if not forms:
        return 0
    ids = _in(customer_ids)
    return int(
        store.scalar(
            f"""SELECT (SELECT count(*) FROM messages m JOIN conversations c USING (conversation_id)
                        JOIN identities i ON i.identity_id = c.identity_id
                        WHERE i.customer_id NOT IN ({ids}) AND ({like_any("m.body", len(forms))}))
                     + (SELECT count(*) FROM comments WHERE coalesce(customer_id, -1) NOT IN ({ids})
                        AND ({like_any("body", len(forms))}))""",
            [*forms, *forms],
        )
    )


# -- a person's candidate customers ---------------------------------------------------------------
def pending_links(store: Store, customer_ids: Sequence[int], min_probability: float) -> list[dict[str, Any]]:
    """Pending suggestions at or above `min_probability` that involve any of these customers."""
    ids = _in(customer_ids)
    return store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r, probability FROM suggestions
        WHERE status = '{SuggestionStatus.PENDING}' AND probability >= ? AND NOT related_only
          AND (customer_id_l IN ({ids}) OR customer_id_r IN ({ids}))
        ORDER BY probability DESC, suggestion_id LIMIT 500""",
        [min_probability],
    )


def candidate_overview(store: Store, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Per customer: display name, status and its channels (for confirming a person's set)."""
    ids = _in(customer_ids)
    return store.rows(
        f"""SELECT c.customer_id, c.status,
               coalesce(nullif(trim(concat_ws(' ', c.first_name, c.last_name)), ''), c.display_name) AS name,
               list_sort(list_distinct(list(i.channel))) AS channels, c.emails, c.phones
        FROM customers c LEFT JOIN identities i ON i.customer_id = c.customer_id
        WHERE c.customer_id IN ({ids}) GROUP BY ALL ORDER BY c.customer_id"""
    )


def owner_of(store: Store, table: str, row_id: str) -> int | None:
    """The customer a message, comment, identity or customer row belongs to (None when unknown)."""
    queries = {
        "messages": """SELECT i.customer_id FROM messages m JOIN conversations c USING (conversation_id)
            JOIN identities i ON i.identity_id = c.identity_id WHERE m.message_id = TRY_CAST(? AS BIGINT)""",
        "comments": """SELECT coalesce(k.customer_id, i.customer_id) FROM comments k
            LEFT JOIN conversations c ON c.conversation_id = k.conversation_id
            LEFT JOIN identities i ON i.identity_id = c.identity_id WHERE k.comment_id = TRY_CAST(? AS BIGINT)""",
        "identities": "SELECT customer_id FROM identities WHERE identity_id = TRY_CAST(? AS BIGINT)",
        "customers": "SELECT customer_id FROM customers WHERE customer_id = TRY_CAST(? AS BIGINT)",
    }
    if table not in queries:
        return None
    value = store.scalar(queries[table], [row_id])
    return None if value is None else int(value)


# -- erasure spellings and state ----------------------------------------------------------------
def names_shared(store: Store, customer_ids: Sequence[int], names: Sequence[str]) -> set[str]:
    """Which of the full-name forms other live customers hold too (as written, case-folded or as name key)."""
    if not names:
        return set()
    ids = _in(customer_ids)
    frame = pl.DataFrame({"name": sorted(set(names))})
    with store.registered("person_names", frame):
        rows = store.rows(
            f"""WITH held AS (
                SELECT lower(first_name || ' ' || last_name) AS n, first_name_norm || ' ' || last_name_norm AS m,
                       first_name_key || last_name_key AS k, display_name_norm AS d, lower(display_name) AS r
                FROM identities WHERE NOT anonymized AND customer_id NOT IN ({ids})
                UNION ALL
                SELECT lower(first_name || ' ' || last_name), NULL, NULL, lower(display_name), NULL
                FROM customers WHERE status = '{CustomerStatus.ACTIVE}' AND customer_id NOT IN ({ids}))
            SELECT DISTINCT p.name FROM person_names p JOIN held h ON p.name IN (h.n, h.m, h.k, h.d, h.r)"""
        )
    return {row["name"] for row in rows}


def search_patterns(store: Store, patterns: Sequence[str], limit_per_column: int = 20) -> list[str]:
    """Where a phone pattern (digits with any separators) still matches: 'table.column (key=...)' places."""
    return search_everywhere(store, (), patterns, limit_per_column)


def texts_mentioning(
    store: Store, table: str, key: str, column: str, forms: Sequence[str], patterns: Sequence[str],
    exclude_ids: Sequence[int] = (),
) -> pl.DataFrame:  # fmt: skip
    """Rows (key, column) of a free-text column holding one of the forms or matching a phone pattern."""
    regex = alternation(forms, patterns)
    if not regex:
        return pl.DataFrame({key: [], column: []}, schema={key: pl.Int64, column: pl.String})
    excluded = f" AND {key} NOT IN ({_in(exclude_ids)})" if exclude_ids else ""
    return store.frame(
        f"SELECT {key}, {column} FROM {table} WHERE regexp_matches(lower({column}), ?){excluded} ORDER BY {key}",
        [regex],
    )
