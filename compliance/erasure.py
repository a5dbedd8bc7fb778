"""One person's erasure across the store and the export folder, and the verification afterwards."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from anonymize import scrub
from exports.crypto import DecryptionError, decrypt, is_encrypted
from idres.settings import ComplianceSettings
from store import compliance as sql
from store.db import Store
from store.schema import personal_data


def erase_person(
    store: Store, settings: ComplianceSettings, key: bytes, request_id: int, ids: list[int], now: datetime
) -> tuple[scrub.PersonValues, dict[str, int]]:
    """Replace every personal value of the person (caller holds the transaction); returns what was erased.

    The values are returned (in memory only) so that the verification can search for them afterwards.
    """
    personal = personal_data()
    tables = sql.person_tables(store, ids)
    values = scrub.person_values(tables["customers"], tables["identities"])
    searchable = values.searchable()
    counts: dict[str, int] = {}

    customers = scrub.anonymize_customers(tables["customers"], personal["customers"], now)
    counts["customers"] = sql.write_rows(
        store, "customers", "customer_id", customers,
        [*personal["customers"], "status", "anonymized_at", "updated_at", "lock_reason", "agent_edited"],
    )  # fmt: skip
    identities, hashes = scrub.anonymize_identities(tables["identities"], personal["identities"], key)
    counts["identities"] = sql.write_rows(
        store, "identities", "identity_id", identities,
        [*personal["identities"], "record_hash", "key_hash", "anonymized", "match_pending"],
    )  # fmt: skip
    counts["erased_keys"] = sql.insert_erased_keys(store, hashes, request_id, now)
    conversations = scrub.anonymize_conversations(tables["conversations"])
    counts["conversations"] = sql.write_rows(
        store, "conversations", "conversation_id", conversations, ["thread_id", "title"]
    )
    messages = scrub.anonymize_messages(tables["messages"], values)
    counts["messages"] = sql.write_rows(
        store,
        "messages",
        "message_id",
        messages,
        ["body", "record_hash", "external_message_id", "anonymized"],
    )
    comments = scrub.erase_text(tables["comments"], "body")
    counts["comments"] = sql.write_rows(store, "comments", "comment_id", comments, ["body"])

    merges = scrub.scrub_json_column(tables["merges"], "before_image", values, erase_strings=True)
    for column in ("comment", "undo_comment"):
        merges = scrub.scrub_text_column(merges, column, values)
    counts["merges"] = sql.write_rows(
        store, "merges", "merge_id", merges, ["before_image", "comment", "undo_comment"]
    )
    suggestions = sql.suggestions_of(store, ids).with_columns(pl.lit(None, pl.String).alias("evidence"))
    for column in ("decision_comment", "status_reason"):
        suggestions = scrub.scrub_text_column(suggestions, column, values)
    counts["suggestions"] = sql.write_rows(
        store, "suggestions", "suggestion_id", suggestions, ["evidence", "decision_comment", "status_reason"]
    )
    links = scrub.scrub_text_column(sql.cannot_links_of(store, ids), "reason", values)
    counts["cannot_links"] = sql.update_cannot_link_reasons(store, links)

    requests = sql.requests_of(store, ids, searchable)
    counts["export_bundles_deleted"] = _delete_bundles(requests)
    had_bundle = pl.col("bundle_path").is_not_null()
    requests = scrub.scrub_text_column(requests, "reason", values).with_columns(
        pl.lit(None, pl.String).alias("lookup_value"),
        pl.when(had_bundle)
        .then(pl.lit(f"bundle deleted by erasure request {request_id}"))
        .otherwise(pl.col("status_reason"))
        .alias("status_reason"),
        # an export whose bundle is gone is no longer `done` with a path to a missing file
        pl.when(had_bundle).then(pl.lit("deleted")).otherwise(pl.col("status")).alias("status"),
        pl.lit(None, pl.String).alias("bundle_path"),
    )
    sql.write_rows(
        store, "compliance_requests", "request_id", requests,
        ["lookup_value", "reason", "status_reason", "status", "bundle_path"],
    )  # fmt: skip

    audit = sql.audit_entries_of(
        store, ids, suggestions["suggestion_id"].to_list(), merges["merge_id"].to_list(), searchable
    )
    about = audit.filter(pl.col("about_person"))
    others = audit.filter(~pl.col("about_person"))
    audit = pl.concat(
        [
            scrub.scrub_json_column(about, "details", values, erase_strings=True),
            scrub.scrub_json_column(others, "details", values),
        ]
    )
    counts["audit_entries"] = sql.write_rows(store, "audit_log", "audit_id", audit, ["details"])
    counts["quarantine_rows_deleted"] = sql.delete_quarantine_with(store, searchable)
    return values, counts


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
    store: Store, settings: ComplianceSettings, ids: list[int], values: scrub.PersonValues
) -> list[str]:
    """Places where erased data remains: the person's rows, any text column store-wide, the export folder.

    Store-wide and file searches look for the identifiers (addresses, numbers, handles, channel ids)
    of at least `MIN_VALUE_LENGTH` characters; names are checked on the person's own rows only,
    since other people may share a name.
    """
    searchable = values.searchable()
    places = sql.person_rows_with_personal_data(store, ids, personal_data(), [scrub.ERASED])
    found = sql.search_values(store, searchable)
    holders = sql.customers_holding(store, searchable) if found else []
    if holders:
        # the usual cause: the same person under another customer, not merged yet (or a shared number)
        places.append(
            f"customers {', '.join(map(str, holders))} hold the same identifiers "
            "(the same person not merged yet, or a shared address or number: anonymize or merge them too)"
        )
    places += found
    places += _files_holding(settings, searchable)
    return places


@lru_cache(maxsize=256)
def _file_texts_cached(path: str, size: int, mtime_ns: int, passphrase: str | None) -> tuple[bytes, ...]:
    # keyed by size and mtime: a run verifying many requests decrypts each bundle once, not once per request
    return tuple(text.lower() for text in _file_texts(Path(path), passphrase))


def forget_file_texts() -> None:
    """Drop the decrypted export files read by verifications (called at the end of every run)."""
    _file_texts_cached.cache_clear()


def _file_texts(path: Path, passphrase: str | None) -> list[bytes]:
    data = path.read_bytes()
    if is_encrypted(data) and passphrase:
        try:
            data = decrypt(data, passphrase)
        except DecryptionError:
            return [data]  # another passphrase: cannot be searched, and cannot be read by anyone here either
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in archive.namelist()]
    except zipfile.BadZipFile:
        return [data]


def _files_holding(settings: ComplianceSettings, values: list[str]) -> list[str]:
    directory = settings.export_dir
    if not values or not directory.is_dir():
        return []
    forms = [form.encode("utf-8") for form in sql.search_forms(values)]
    found: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        info = path.stat()
        texts = _file_texts_cached(str(path), info.st_size, info.st_mtime_ns, settings.export_passphrase)
        if any(form in text for text in texts for form in forms):
            found.append(f"file {path}")
    return found


def summary_counts(counts: dict[str, Any]) -> str:
    """One line of counts for logs."""
    return ", ".join(f"{name} {value}" for name, value in counts.items())
