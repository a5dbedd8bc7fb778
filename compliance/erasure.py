"""One person's erasure across the store and the export folder, and the verification afterwards."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from anonymize import scrub
from compliance.filescan import OwnedFiles, files_holding, forget_file_texts
from compliance.spellings import Spellings, name_candidates, person_spellings
from domain.settings import ComplianceSettings
from domain.statuses import RequestStatus
from store import cannot_links, customers, identities, merges, quarantine, suggestions
from store import compliance as sql
from store import compliance_requests as requests_sql
from store.db import Store
from store.rewrite import bytes_readable
from store.schema import personal_data
from store.text_forms import search_forms

__all__ = ["erase_person", "forget_file_texts", "person_record", "verify_erasure"]

# free-text columns of other people's rows that may mention the person: scrubbed of its spellings
OTHER_TEXTS = (
    ("comments", "comment_id", "body"),
    ("messages", "message_id", "body"),
    ("customers", "customer_id", "lock_reason"),
)
# each table is written by the store module that owns it
_OVERWRITE = {
    "comments": customers.overwrite_comments,
    "messages": identities.overwrite_messages,
    "customers": customers.overwrite,
}


def person_record(
    store: Store, ids: list[int], default_region: str = "GB"
) -> tuple[dict[str, pl.DataFrame], scrub.PersonValues, Spellings]:
    """The person's rows, its values and every spelling of them (read before anything is erased)."""
    tables = sql.person_tables(store, ids)
    values = scrub.person_values(tables["customers"], tables["identities"])
    identity_dicts, customer_dicts = tables["identities"].to_dicts(), tables["customers"].to_dicts()
    shared = sql.names_shared(store, ids, sorted(name_candidates(identity_dicts, customer_dicts)))
    spellings = person_spellings(identity_dicts, customer_dicts, values, shared, default_region)
    return tables, values, spellings


def erase_person(
    store: Store, settings: ComplianceSettings, key: bytes, request_id: int, ids: list[int], now: datetime,
    record: tuple[dict[str, pl.DataFrame], scrub.PersonValues, Spellings] | None = None,
) -> tuple[scrub.PersonValues, dict[str, int]]:  # fmt: skip
    """Replace every personal value of the person (caller holds the transaction); returns what was erased.

    The values are returned (in memory only) so that the verification can search for them afterwards.
    Other people's comments and messages that mention one of the person's spellings are scrubbed too.
    """
    personal = personal_data()
    tables, values, spellings = record or person_record(store, ids)
    searchable = spellings.literals or values.searchable()
    counts: dict[str, int] = {}

    customer_rows = scrub.anonymize_customers(tables["customers"], personal["customers"], now)
    counts["customers"] = customers.overwrite(
        store, customer_rows,
        [*personal["customers"], "status", "anonymized_at", "updated_at", "lock_reason", "agent_edited"],
    )  # fmt: skip
    identity_rows, hashes = scrub.anonymize_identities(tables["identities"], personal["identities"], key)
    counts["identities"] = identities.overwrite(
        store, identity_rows,
        [*personal["identities"], "record_hash", "key_hash", "anonymized", "match_pending"],
    )  # fmt: skip
    counts["erased_keys"] = sql.insert_erased_keys(store, hashes, request_id, now)
    conversations = scrub.anonymize_conversations(tables["conversations"])
    counts["conversations"] = identities.overwrite_conversations(store, conversations, ["thread_id", "title"])
    messages = scrub.anonymize_messages(tables["messages"], values)
    counts["messages"] = identities.overwrite_messages(
        store, messages, ["body", "record_hash", "external_message_id", "anonymized"]
    )
    comments = scrub.erase_text(tables["comments"], "body")
    counts["comments"] = customers.overwrite_comments(store, comments, ["body"])

    merge_rows = scrub.scrub_json_column(tables["merges"], "before_image", values, erase_strings=True)
    for column in ("comment", "undo_comment"):
        merge_rows = scrub.scrub_text_column(merge_rows, column, values)
    counts["merges"] = merges.overwrite(store, merge_rows, ["before_image", "comment", "undo_comment"])
    suggestion_rows = sql.suggestions_of(store, ids).with_columns(pl.lit(None, pl.String).alias("evidence"))
    for column in ("decision_comment", "status_reason"):
        suggestion_rows = scrub.scrub_text_column(suggestion_rows, column, values)
    counts["suggestions"] = suggestions.overwrite_texts(
        store, suggestion_rows, ["evidence", "decision_comment", "status_reason"]
    )
    links = scrub.scrub_text_column(cannot_links.of_customers(store, ids), "reason", values)
    counts["cannot_links"] = cannot_links.rewrite_reasons(store, links)

    requests = requests_sql.of_person(store, ids, searchable)
    counts["export_bundles_deleted"] = _delete_bundles(requests)
    had_bundle = pl.col("bundle_path").is_not_null()
    requests = scrub.scrub_text_column(requests, "reason", values).with_columns(
        pl.lit(None, pl.String).alias("lookup_value"),
        pl.when(had_bundle)
        .then(pl.lit(f"bundle deleted by erasure request {request_id}"))
        .otherwise(pl.col("status_reason"))
        .alias("status_reason"),
        # an export whose bundle is gone is no longer `done` with a path to a missing file
        pl.when(had_bundle)
        .then(pl.lit(RequestStatus.DELETED.value))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.lit(None, pl.String).alias("bundle_path"),
    )
    requests_sql.overwrite(
        store, requests, ["lookup_value", "reason", "status_reason", "status", "bundle_path"]
    )

    audit = sql.audit_entries_of(
        store, ids, suggestion_rows["suggestion_id"].to_list(), merge_rows["merge_id"].to_list(), searchable
    )
    about = audit.filter(pl.col("about_person"))
    others = audit.filter(~pl.col("about_person"))
    audit = pl.concat(
        [
            scrub.scrub_json_column(about, "details", values, erase_strings=True),
            scrub.scrub_json_column(others, "details", values),
        ]
    )
    counts["audit_entries"] = store.overwrite_audit_details(audit)
    counts["quarantine_rows_deleted"] = quarantine.delete_holding(store, searchable)
    counts["others_texts_scrubbed"] = _scrub_other_texts(store, tables, spellings)
    return values, counts


def _scrub_other_texts(store: Store, tables: dict[str, pl.DataFrame], spellings: Spellings) -> int:
    forms = search_forms(spellings.literals)
    scrubbed = 0
    for table, key, column in OTHER_TEXTS:
        own = tables[table].get_column(key).to_list() if table in tables else []
        rows = sql.texts_mentioning(store, table, key, column, forms, spellings.phone_patterns, own)
        if rows.height:
            rows = scrub.scrub_spellings_column(rows, column, forms, spellings.phone_patterns)
            scrubbed += _OVERWRITE[table](store, rows, [column])
    return scrubbed


def _delete_bundles(requests: pl.DataFrame) -> int:
    """Delete the person's earlier export bundles, as recorded on its requests.

    Copies made by hand elsewhere in the export folder are not guessed at: the verification finds them.
    """
    paths = {Path(p) for p in requests.get_column("bundle_path").drop_nulls().to_list()}
    deleted = 0
    for path in paths:
        if path.is_file():
            path.unlink()
            deleted += 1
    return deleted


def verify_erasure(
    store: Store, settings: ComplianceSettings, ids: list[int], values: scrub.PersonValues,
    spellings: Spellings | None = None, files: OwnedFiles | None = None,
) -> list[str]:  # fmt: skip
    """Places where erased data remains: the person's rows, any text column store-wide, every owned file.

    Every spelling is searched for (see compliance/spellings.py): in every text column of the store,
    phone numbers also as digits with any separators, and in the bytes of every file idres owns
    (`files`; the export folder alone when not given). Only places are returned, never values.
    """
    spellings = spellings or Spellings(literals=[v.lower() for v in values.searchable()])
    literals = spellings.literals
    places = sql.person_rows_with_personal_data(store, ids, personal_data(), [scrub.ERASED])
    found = sql.search_everywhere(store, sql.search_forms(literals), spellings.phone_patterns)
    holders = sql.customers_holding(store, values.searchable()) if found else []
    if holders:
        # the usual cause: the same person under another customer, not merged yet (or a shared number)
        places.append(
            f"customers {', '.join(map(str, holders))} hold the same identifiers "
            "(the same person not merged yet, or a shared address or number: anonymize or merge them too)"
        )
    places += found
    owned = files or OwnedFiles(export_dir=settings.export_dir)
    # the store's own bytes are read with its connection closed: reading them with it open would drop
    # DuckDB's lock, and the web page would write the store beside this process (lost writes)
    with bytes_readable(store) if owned.store is not None else nullcontext():
        places += files_holding(
            owned, sql.search_forms(literals), spellings.phone_patterns, settings.export_passphrase
        )
    return places


def summary_counts(counts: dict[str, Any]) -> str:
    """One line of counts for logs."""
    return ", ".join(f"{name} {value}" for name, value in counts.items())
