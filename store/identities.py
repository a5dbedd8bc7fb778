"""SQL for loading identities, their customers, and ingest batches and quarantine rows.

Callers hold the transaction (`with store.transaction():`), so a file loads fully or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from domain.columns import NORMALIZED_IDENTITY_COLUMNS, PROFILE_FIELDS, RAW_IDENTITY_COLUMNS
from domain.statuses import CustomerStatus
from store.db import Store, utcnow

# timestamps later than now plus this cannot be true: ingest flags them, and they never order records
FUTURE_TOLERANCE = timedelta(days=1)

# The customer profile columns an identity fills in when it starts a customer of its own.
PROFILE_COLUMNS = (*PROFILE_FIELDS, "profile_sources")
# The content that makes a record "the same" on re-ingest: raw values and extra attributes.
_HASHED = ("channel", "external_id", *RAW_IDENTITY_COLUMNS, "extra", "created_at", "updated_at")
# What a load reads of a normalized frame: these as they are, and the parsed timestamps.
_STAGED_COLUMNS = ("channel", "external_id", *RAW_IDENTITY_COLUMNS, "extra", *NORMALIZED_IDENTITY_COLUMNS)
_INPUT_COLUMNS = (*_STAGED_COLUMNS, "created_at_ts", "updated_at_ts")
_VALUE_COLUMNS = (*RAW_IDENTITY_COLUMNS, "extra", "created_at", "updated_at", *NORMALIZED_IDENTITY_COLUMNS)


@dataclass
class LoadCounts:
    """What a load did to the rows it was given."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # an older record than the one in the store: kept out, counted as loaded
    identities_created: int = 0  # bare identities created for message authors not seen before
    # customers of several identities (merged) one of which changed: their profile needs survivorship
    customers_to_rebuild: list[int] = field(default_factory=list)
    per_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        """Valid rows accounted for by the load."""
        return self.new + self.updated + self.unchanged + self.stale


def _hash_expression(alias: str = "s") -> str:
    parts = ", ".join(f"coalesce(CAST({alias}.{column} AS VARCHAR), chr(0))" for column in _HASHED)
    return f"md5(concat_ws(chr(31), {parts}))"


def find_loaded_batch(store: Store, sha256: str, kind: str) -> dict[str, Any] | None:
    """The earlier batch that loaded a file with this content, if any."""
    rows = store.rows(
        "SELECT batch_id, file_path, finished_at, rows_read FROM ingest_batches "
        "WHERE file_sha256 = ? AND kind = ? AND status = 'loaded' ORDER BY batch_id LIMIT 1",
        [sha256, kind],
    )
    return rows[0] if rows else None


def _stage_identities(store: Store, frame: pl.DataFrame) -> None:
    """Create temp table `stage` of incoming rows (with their batch_id) joined to the identities they update."""
    incoming = frame.select(
        "batch_id",
        *_STAGED_COLUMNS,
        pl.col("created_at_ts").alias("created_at"),
        pl.col("updated_at_ts").alias("updated_at"),
        # the files' row order: new ids follow it (a parallel join does not keep any order)
        pl.int_range(pl.len(), dtype=pl.Int64).alias("input_order"),
    )
    with store.registered("incoming_identities", incoming):
        store.execute("DROP TABLE IF EXISTS stage")
        store.execute(
            f"""CREATE TEMP TABLE stage AS
            SELECT s.*, {_hash_expression("s")} AS record_hash,
                   i.identity_id, i.customer_id, i.record_hash AS old_hash, i.updated_at AS old_updated_at,
                   CASE WHEN i.identity_id IS NULL THEN 'new'
                        WHEN i.record_hash = {_hash_expression("s")} THEN 'unchanged'
                        WHEN i.updated_at IS NOT NULL AND s.updated_at IS NOT NULL
                             AND s.updated_at < i.updated_at AND i.updated_at <= ? THEN 'stale'
                        ELSE 'updated' END AS action
            FROM incoming_identities s
            LEFT JOIN identities i ON i.channel = s.channel AND i.external_id = s.external_id""",
            # a stored time in the future (kept from before ingest refused them) orders nothing
            [utcnow() + FUTURE_TOLERANCE],
        )


def load_identities(store: Store, frame: pl.DataFrame, batch_id: int, now: datetime) -> LoadCounts:
    """Insert new identities (each with a customer of its own) and update changed ones."""
    (counts,) = load_identity_batches(store, [frame], [batch_id], now)
    return counts


def load_identity_batches(
    store: Store, frames: Sequence[pl.DataFrame], batch_ids: Sequence[int], now: datetime
) -> list[LoadCounts]:
    """load_identities for several files at once, each its own batch: as if loaded one after the other.

    A file's fixed cost (staging, inserts, counts) is paid once per wave, not per file. Wave k holds
    the k-th occurrence of each (channel, external_id) across the files (a key occurs once per file:
    ingest quarantines repeats), so a later file's row meets the identity its earlier occurrence left,
    as it does loaded in turn; new ids follow the files' order, then each file's row order (only
    first occurrences are new). The customers to rebuild are all in the first file's counts.
    """
    if not frames:
        return []
    frame = pl.concat(
        [
            part.select(*_INPUT_COLUMNS).with_columns(pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"))
            for part, batch_id in zip(frames, batch_ids, strict=True)
        ],
        how="vertical_relaxed",
    ).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("channel", "external_id").alias("_wave"))
    per_batch = {batch_id: LoadCounts() for batch_id in batch_ids}
    rebuild: set[int] = set()
    for wave in range(int(frame.select(pl.col("_wave").max()).item() or 0) + 1):
        rebuild.update(_load_wave(store, frame.filter(pl.col("_wave") == wave).drop("_wave"), now, per_batch))
    per_batch[batch_ids[0]].customers_to_rebuild = sorted(rebuild)
    return [per_batch[batch_id] for batch_id in batch_ids]


def _load_wave(
    store: Store, frame: pl.DataFrame, now: datetime, per_batch: dict[int, LoadCounts]
) -> list[int]:
    """Load rows of distinct keys (with their batch_id), adding to each batch's counts; customers to rebuild."""
    _stage_identities(store, frame)
    new = updated = 0
    for row in store.rows("SELECT batch_id, channel, action, count(*) AS n FROM stage GROUP BY ALL"):
        of_batch, action, n = per_batch[row["batch_id"]], row["action"], row["n"]
        setattr(of_batch, action, getattr(of_batch, action) + n)
        of_channel = of_batch.per_channel.setdefault(row["channel"], {})
        of_channel[action] = of_channel.get(action, 0) + n
        new += n if action == "new" else 0
        updated += n if action == "updated" else 0

    if new:
        first_identity = store.next_id("identities", "identity_id")
        first_customer = store.next_id("customers", "customer_id")
        store.execute(
            """UPDATE stage SET identity_id = ? + n.rn - 1, customer_id = ? + n.rn - 1
            FROM (SELECT input_order AS o, row_number() OVER (ORDER BY input_order) AS rn
                  FROM stage WHERE action = 'new') n
            WHERE stage.input_order = n.o""",
            [first_identity, first_customer],
        )
        insert_columns = ", ".join(("identity_id", "customer_id", "channel", "external_id", *_VALUE_COLUMNS))
        store.execute(
            f"""INSERT INTO identities ({insert_columns}, record_hash, batch_id, first_seen_at, changed_at,
                match_pending, anonymized)
            SELECT {insert_columns}, record_hash, batch_id, ?, ?, TRUE, FALSE FROM stage WHERE action = 'new'""",
            [now, now],
        )
        store.execute(
            f"""INSERT INTO customers (customer_id, status, {", ".join(PROFILE_COLUMNS)}, agent_edited, locked,
                created_at, updated_at)
            SELECT customer_id, '{CustomerStatus.ACTIVE}', {_profile_values()}, [], FALSE, ?, ?
            FROM stage WHERE action = 'new'""",
            [now, now],
        )
    rebuild: list[int] = []
    if updated:
        assignments = ", ".join(f"{column} = s.{column}" for column in _VALUE_COLUMNS)
        store.execute(
            f"""UPDATE identities SET {assignments}, record_hash = s.record_hash, batch_id = s.batch_id,
                changed_at = ?, match_pending = TRUE
            FROM stage s WHERE s.action = 'updated' AND identities.identity_id = s.identity_id""",
            [now],
        )
        refresh_single_identity_profiles(store, "SELECT customer_id FROM stage WHERE action = 'updated'", now)
        rebuild = [
            int(row["customer_id"])
            for row in store.rows(
                f"""SELECT DISTINCT c.customer_id FROM customers c
                WHERE c.customer_id IN (SELECT customer_id FROM stage WHERE action = 'updated')
                  AND c.status = '{CustomerStatus.ACTIVE}' AND NOT c.locked
                  AND c.customer_id IN (SELECT customer_id FROM identities
                                        WHERE customer_id IN (SELECT customer_id FROM stage) GROUP BY 1
                                        HAVING count(*) > 1)
                ORDER BY 1"""
            )
        ]
    store.execute("DROP TABLE stage")
    return rebuild


def _profile_values(alias: str = "", named: bool = False) -> str:
    """SQL for a customer profile built from one identity (trimmed raw values), in PROFILE_COLUMNS order."""
    p = f"{alias}." if alias else ""
    values = [f"nullif(trim({p}{column}), '')" for column in PROFILE_COLUMNS[:8]]
    values += [
        f"CAST({p}birth_date_norm AS VARCHAR)",
        f"CASE WHEN {p}email_valid THEN [{p}email_norm] ELSE [] END",
        f"CASE WHEN {p}phone_valid THEN [{p}phone_e164] ELSE [] END",
        f"json_object('source', 'identity', 'identity_id', {p}identity_id)",
    ]
    if named:
        values = [f"{value} AS {column}" for value, column in zip(values, PROFILE_COLUMNS, strict=True)]
    return ", ".join(values)


def refresh_single_identity_profiles(store: Store, customer_ids_sql: str, now: datetime) -> None:
    """Rebuild the profile of customers that hold exactly one identity and no agent edits."""
    assignments = ", ".join(f"{column} = src.{column}" for column in PROFILE_COLUMNS)
    store.execute(
        f"""UPDATE customers SET {assignments}, updated_at = ?
        FROM (SELECT i.customer_id, {_profile_values("i", named=True)}
              FROM identities i
              WHERE i.customer_id IN ({customer_ids_sql})
                -- counted among those customers' identities only, not over the whole table
                AND i.customer_id IN (SELECT customer_id FROM identities WHERE customer_id IN ({customer_ids_sql})
                                      GROUP BY 1 HAVING count(*) = 1)) src
        WHERE customers.customer_id = src.customer_id
          AND len(coalesce(customers.agent_edited, [])) = 0 AND NOT customers.locked
          AND customers.status = '{CustomerStatus.ACTIVE}'""",
        [now],
    )


def ensure_identities(store: Store, keys: pl.DataFrame, batch_id: int, now: datetime) -> int:
    """Create bare identities (and customers) for (channel, external_id) keys not in the store yet."""
    empty = pl.DataFrame({"channel": keys["channel"], "external_id": keys["external_id"]})
    with store.registered("message_authors", empty.unique()):
        missing = store.frame(
            """SELECT a.channel, a.external_id FROM message_authors a
            ANTI JOIN identities i ON i.channel = a.channel AND i.external_id = a.external_id
            ORDER BY a.channel, a.external_id"""
        )
    if missing.height == 0:
        return 0
    bare = missing.with_columns(
        *[pl.lit(None, dtype=pl.Utf8).alias(column) for column in (*RAW_IDENTITY_COLUMNS, "extra")],
        *[
            pl.lit(None, dtype=pl.Boolean if column.endswith(("_valid", "_display")) else pl.Utf8).alias(
                column
            )
            for column in NORMALIZED_IDENTITY_COLUMNS
            if column != "birth_date_norm"
        ],
        pl.lit(None, dtype=pl.Date).alias("birth_date_norm"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("created_at_ts"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("updated_at_ts"),
    )
    return load_identities(store, bare, batch_id, now).new


def load_messages(store: Store, frame: pl.DataFrame, batch_id: int, now: datetime) -> LoadCounts:
    """Insert conversations and messages; a message seen before is unchanged, an edited one updated."""
    counts = LoadCounts()
    counts.identities_created = ensure_identities(
        store, frame.select("channel", "external_id"), batch_id, now
    )
    incoming = frame.select(
        "thread_id",
        "channel",
        "external_id",
        "author_kind",
        "agent_name",
        "body",
        "title",
        pl.col("created_at_ts").alias("created_at"),
        pl.coalesce(
            pl.col("message_id"),
            pl.concat_str(
                [pl.col(c).fill_null("") for c in ("created_at", "author_kind", "agent_name", "body")],
                separator="\x1f",
            ),
        ).alias("message_key"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("input_order"),  # new ids follow the file's order
    )
    with store.registered("incoming_messages", incoming):
        store.execute("DROP TABLE IF EXISTS mstage")
        store.execute(
            """CREATE TEMP TABLE mstage AS
            SELECT s.*, i.identity_id,
                   CASE WHEN s.message_key LIKE '%' || chr(31) || '%' THEN md5(s.thread_id || chr(31) || s.message_key)
                        ELSE s.message_key END AS external_message_id,
                   md5(concat_ws(chr(31), s.author_kind, coalesce(s.agent_name, chr(0)),
                                 coalesce(s.body, chr(0)), CAST(s.created_at AS VARCHAR))) AS record_hash
            FROM incoming_messages s
            JOIN identities i ON i.channel = s.channel AND i.external_id = s.external_id"""
        )
    first_conversation = store.next_id("conversations", "conversation_id")
    store.execute(
        """INSERT INTO conversations (conversation_id, channel, thread_id, identity_id, title, created_at,
            last_message_at, batch_id)
        SELECT ? + row_number() OVER (ORDER BY min(created_at), channel, thread_id) - 1, channel, thread_id,
               arg_min(identity_id, created_at), max(title), min(created_at), max(created_at), ?
        FROM mstage s
        WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.channel = s.channel AND c.thread_id = s.thread_id)
        GROUP BY channel, thread_id""",
        [first_conversation, batch_id],
    )
    store.execute(
        """CREATE OR REPLACE TEMP TABLE mstage2 AS
        SELECT s.*, c.conversation_id, m.message_id, m.record_hash AS old_hash,
               CASE WHEN m.message_id IS NULL THEN 'new' WHEN m.record_hash = s.record_hash THEN 'unchanged'
                    ELSE 'updated' END AS action
        FROM mstage s
        JOIN conversations c ON c.channel = s.channel AND c.thread_id = s.thread_id
        LEFT JOIN messages m ON m.conversation_id = c.conversation_id
                            AND m.external_message_id = s.external_message_id"""
    )
    for row in store.rows("SELECT channel, action, count(*) AS n FROM mstage2 GROUP BY ALL"):
        setattr(counts, row["action"], getattr(counts, row["action"]) + row["n"])
        counts.per_channel.setdefault(row["channel"], {})[row["action"]] = row["n"]
    first_message = store.next_id("messages", "message_id")
    store.execute(
        """INSERT INTO messages (message_id, conversation_id, external_message_id, identity_id, author_kind,
            agent_name, body, created_at, record_hash, batch_id, anonymized)
        SELECT ? + row_number() OVER (ORDER BY created_at, input_order) - 1, conversation_id, external_message_id,
               identity_id, author_kind, agent_name, body, created_at, record_hash, ?, FALSE
        FROM mstage2 WHERE action = 'new'""",
        [first_message, batch_id],
    )
    store.execute(
        """UPDATE messages SET author_kind = s.author_kind, agent_name = s.agent_name, body = s.body,
            created_at = s.created_at, record_hash = s.record_hash, batch_id = ?
        FROM mstage2 s WHERE s.action = 'updated' AND messages.message_id = s.message_id""",
        [batch_id],
    )
    store.execute(
        """UPDATE conversations SET last_message_at = greatest(conversations.last_message_at, t.last_at),
            title = coalesce(conversations.title, t.title)
        FROM (SELECT conversation_id, max(created_at) AS last_at, max(title) AS title FROM mstage2 GROUP BY 1) t
        WHERE conversations.conversation_id = t.conversation_id"""
    )
    store.execute("DROP TABLE mstage")
    store.execute("DROP TABLE mstage2")
    return counts


def insert_batch(store: Store, batch: dict[str, Any]) -> None:
    """Record one ingest batch (its columns are those of `ingest_batches`)."""
    columns = ", ".join(batch)
    marks = ", ".join("?" for _ in batch)
    store.execute(f"INSERT INTO ingest_batches ({columns}) VALUES ({marks})", list(batch.values()))


def insert_quarantine(store: Store, rows: pl.DataFrame) -> None:
    """Append quarantined rows (columns of `quarantine` without the id)."""
    if rows.height == 0:
        return
    first = store.next_id("quarantine", "quarantine_id")
    numbered = rows.with_columns(pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias("quarantine_id"))
    with store.registered("incoming_quarantine", numbered):
        store.execute(
            """INSERT INTO quarantine (quarantine_id, batch_id, kind, file_path, row_number, expectation, reason,
                raw_row, quarantined_at)
            SELECT quarantine_id, batch_id, kind, file_path, row_number, expectation, reason, raw_row,
                   quarantined_at FROM incoming_quarantine"""
        )


def clear_match_pending(store: Store, scored_ids: pl.Series | None, started: datetime) -> int:
    """Clear match_pending of the identities a match run scored, unless they changed after `started`; how many."""
    scored = 0
    if scored_ids is not None and len(scored_ids):
        ids = pl.DataFrame({"identity_id": scored_ids.cast(pl.Int64)})
        with store.registered("scored_identities", ids):
            scored = int(
                store.scalar(
                    """SELECT count(*) FROM identities WHERE match_pending AND changed_at <= ?
                    AND identity_id IN (SELECT identity_id FROM scored_identities)""",
                    [started],
                )
            )
            store.execute(
                """UPDATE identities SET match_pending = FALSE WHERE match_pending AND changed_at <= ?
                AND identity_id IN (SELECT identity_id FROM scored_identities)""",
                [started],
            )
    return scored


def identity_by_key(store: Store, channel: str, external_id: str) -> tuple[int, int] | None:
    """(identity_id, customer_id) of channel:external_id (as stored, else case-insensitively), or None."""
    rows = store.rows(
        """SELECT identity_id, customer_id FROM identities WHERE channel = ? AND external_id = ?
        UNION ALL
        SELECT identity_id, customer_id FROM identities
        WHERE channel = ? AND lower(trim(external_id)) = lower(trim(?))
        LIMIT 1""",
        [channel, external_id, channel, external_id],
    )
    return (int(rows[0]["identity_id"]), int(rows[0]["customer_id"])) if rows else None


def overwrite(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of identities (identity_id and the columns): an erasure anonymizes them."""
    return store.overwrite("identities", "identity_id", frame, columns)


def overwrite_conversations(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of conversations (conversation_id and the columns): an erasure anonymizes them."""
    return store.overwrite("conversations", "conversation_id", frame, columns)


def overwrite_messages(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of messages (message_id and the columns): an erasure anonymizes or scrubs them."""
    return store.overwrite("messages", "message_id", frame, columns)


def set_key_hash(store: Store, identity_id: int, key_hash: str) -> None:
    """Mark an identity as a recognised re-appearance of an erased key."""
    store.execute("UPDATE identities SET key_hash = ? WHERE identity_id = ?", [key_hash, identity_id])
