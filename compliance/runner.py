"""Carrying out requests: export bundles, retention, re-appearance; the anonymization run is erasure_run.py.

Each request is processed in its own transaction, so one bad request does not block the others;
done requests are never picked up again (re-runs are idempotent). A failed request is recorded
with its reason and makes the run report it (the flows then fail loudly).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from anonymize import scrub
from compliance.requests import request_customers
from domain.settings import ComplianceSettings
from domain.statuses import RUNNABLE_REQUESTS, RequestStatus
from exports import bundle
from store import compliance as sql
from store import compliance_requests as requests_sql
from store import identities, redirects, suggestions
from store.db import Store, utcnow

RETENTION_ACTOR = "retention-policy"


def key_file(settings: ComplianceSettings, store_path: Path) -> Path:
    """Where the generated anonymization key is kept when none is configured."""
    return settings.anonymization_key_file or Path(store_path).parent / "anonymization.key"


def anonymization_key(settings: ComplianceSettings, store_path: Path) -> bytes:
    """The HMAC key for erased identity keys: configured, else read from (or created in) the key file."""
    if settings.anonymization_key:
        return settings.anonymization_key.encode("utf-8")
    path = key_file(settings, store_path)
    if not path.exists():
        with suppress(FileExistsError):  # another process created it first: use theirs
            bundle.write_private(path, secrets.token_hex(32).encode("ascii"))
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise RuntimeError(f"anonymization key file {path} is too short: remove it to have a new one made")
    return text.encode("ascii")


# -- exports -------------------------------------------------------------------------------------
def run_exports(store: Store, compliance_settings: ComplianceSettings, actor: str) -> dict[str, Any]:
    """Produce a bundle for every pending (or waiting) export request; returns what happened to each."""
    summary = new_export_summary()
    for request_id in open_request_ids(store, "export"):
        add_export_outcome(summary, export_request(store, compliance_settings, actor, request_id))
    return summary


def open_request_ids(store: Store, kind: str) -> list[int]:
    """Ids of the pending and waiting requests of one kind, oldest first."""
    return [int(r["request_id"]) for r in requests_sql.runnable(store, kind)]


def new_export_summary() -> dict[str, Any]:
    """An empty export run summary (filled by `add_export_outcome`)."""
    return {"done": [], "waiting": [], "failed": [], "bundles": []}


def add_export_outcome(summary: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Count one request's outcome into an export run summary."""
    if outcome["status"] == "done":
        summary["done"].append(outcome["request_id"])
        summary["bundles"].append(outcome["bundle"])
    elif outcome["status"] == "failed":
        summary["failed"].append({"request_id": outcome["request_id"], "reason": outcome["reason"]})


def export_request(store: Store, settings: ComplianceSettings, actor: str, request_id: int) -> dict[str, Any]:
    """Carry out one export request in its own transaction; a failure is recorded on the request."""
    request = requests_sql.get(store, request_id)
    if request is None or request["status"] not in RUNNABLE_REQUESTS:
        return {"request_id": request_id, "status": "skipped"}
    try:
        bundle_info = _export_one(store, settings, actor, request)
    except Exception as error:  # recorded on the request; the run goes on with the next one
        fail_request(store, request_id, f"export failed: {error}")
        return {"request_id": request_id, "status": "failed", "reason": str(error)}
    return {"request_id": request_id, "status": "done", "bundle": bundle_info}


def fail_request(store: Store, request_id: int, reason: str) -> None:
    """Record a request as failed with its reason (own transaction)."""
    with store.transaction():
        requests_sql.update(
            store, request_id, status=RequestStatus.FAILED, status_reason=reason[:2000], finished_at=utcnow()
        )


def request_people(store: Store, request: dict[str, Any]) -> list[int]:
    """The live customers of the request's confirmed set (one person, possibly several customers)."""
    survivors = request_customers(store, request)
    if not survivors:
        named = request.get("customer_ids") or request["customer_id"]
        raise RuntimeError(f"customer {named} no longer exists or was anonymized")
    return survivors


def export_record(
    store: Store, customer_id: int | Sequence[int], settings: ComplianceSettings
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """A person's tables (all customers of its set) and the record around them (lock state, sources...)."""
    survivors = [customer_id] if isinstance(customer_id, int) else list(customer_id)
    ids = redirects.person(store, survivors)
    tables = sql.person_tables(store, ids)
    status = sql.customer_status(store, survivors[0]) or {}
    record = {
        "customer_id": survivors[0],
        "customer_ids": ids,
        "person_customers": survivors,
        "lock": {key: status.get(key) for key in ("locked", "lock_reason", "locked_by", "locked_at")},
        "sources": sql.sources(store, ids),
        "personal_data_categories": sql.personal_data_register(store),
        "retention": (
            f"customers with no activity for {settings.retention_days} days are anonymized"
            if settings.retention_days
            else "kept until an erasure request (no retention period configured)"
        ),
    }
    return tables, record


def _export_one(
    store: Store, settings: ComplianceSettings, actor: str, request: dict[str, Any]
) -> dict[str, Any]:
    started = utcnow()
    written: list[Path] = []
    try:
        with store.transaction():
            survivors = request_people(store, request)
            customer_id = survivors[0]
            tables, record = export_record(store, survivors, settings)
            meta = {
                "request_id": request["request_id"],
                "requested_by": request["requested_by"],
                "requested_at": request["requested_at"],
                "schema_version": store.current_version(),
                "produced_at": started,
                "customer_id": customer_id,
                "customer_ids": survivors,
            }
            files = bundle.build_files(tables, record, meta)
            name = f"export-{request['request_id']:06d}-customer-{customer_id}-{started:%Y%m%dT%H%M%SZ}.zip"
            path, checksum = bundle.write_bundle(
                settings.export_dir, name, files, started, settings.export_passphrase
            )
            written.append(path)
            counts = {table: frame.height for table, frame in tables.items()}
            requests_sql.update(
                store, request["request_id"], status=RequestStatus.DONE, status_reason=None, customer_id=customer_id,
                customer_ids=survivors, started_at=started, finished_at=utcnow(), bundle_path=str(path),
                bundle_sha256=checksum, encrypted=bool(settings.export_passphrase), counts=counts,
            )  # fmt: skip
            store.audit(
                actor, "export_produced", "compliance_request", request["request_id"],
                {"request_id": request["request_id"], "requested_by": request["requested_by"],
                 "customer_id": customer_id, "customer_ids": survivors, "bundle_path": str(path),
                 "sha256": checksum, "encrypted": bool(settings.export_passphrase), "counts": counts},
            )  # fmt: skip
    except BaseException:
        # the COMMIT too may fail (disk full): then no request points at the bundle, so it must go,
        # or a re-run would write a second one and a later erasure would trip over the orphan
        for orphan in written:
            orphan.unlink(missing_ok=True)
        raise
    return {
        "request_id": request["request_id"],
        "customer_id": customer_id,
        "path": str(path),
        "sha256": checksum,
    }


# -- anonymization (the run itself lives in compliance/erasure_run.py) ----------------------------
def run_anonymizations(
    store: Store, compliance_settings: ComplianceSettings, actor: str, **options: Any
) -> dict[str, Any]:
    """`compliance.erasure_run.run_anonymizations` (kept here for callers of the runner)."""
    from compliance.erasure_run import run_anonymizations as run

    return run(store, compliance_settings, actor, **options)


def queue_retention(store: Store, settings: ComplianceSettings) -> list[int]:
    """Create erasure requests for customers inactive for longer than the retention period."""
    if not settings.retention_days:
        return []
    now = utcnow()
    queued: list[int] = []
    with store.transaction():
        for customer_id in sql.inactive_customers(store, now - timedelta(days=settings.retention_days)):
            if requests_sql.has_runnable(store, "anonymize", customer_id):
                continue
            request_id = requests_sql.insert(
                store,
                {"kind": "anonymize", "customer_id": customer_id, "lookup_kind": "customer",
                 "lookup_value": str(customer_id), "requested_by": RETENTION_ACTOR,
                 "reason": f"no activity for {settings.retention_days} days (retention policy)",
                 "status": RequestStatus.PENDING, "requested_at": now},
            )  # fmt: skip
            store.audit(
                RETENTION_ACTOR, "anonymize_requested", "compliance_request", request_id,
                {"request_id": request_id, "customer_id": customer_id, "retention_days": settings.retention_days},
            )  # fmt: skip
            queued.append(request_id)
    return queued


def already_anonymized(store: Store, request: dict[str, Any]) -> bool:
    """Whether every customer of the request is anonymized already."""
    ids = request.get("customer_ids") or ([request["customer_id"]] if request["customer_id"] else [])
    if not ids:
        return False
    states = [sql.customer_status(store, int(i)) for i in ids]
    return all(state is not None and state["status"] == "anonymized" for state in states)


def recognise_after_ingest(
    store: Store, compliance_settings: ComplianceSettings, actor: str = "ingest"
) -> int:
    """`recognise_reappearances` for callers outside the anonymize run (e.g. after an ingest); cheap when
    nothing was ever erased (the key is not even loaded then)."""
    if sql.erasure_started(store) is None:
        return 0
    return recognise_reappearances(store, anonymization_key(compliance_settings, store.path), actor)


def recognise_reappearances(store: Store, key: bytes, actor: str) -> int:
    """Mark new identities whose keyed (channel, external_id) hash was erased before, and audit them.

    They are already new customers (the old key is gone, and anonymized customers never match);
    this records that the same key came back, without keeping or revealing the value.
    """
    since = sql.erasure_started(store)
    if since is None:
        return 0
    candidates = {
        scrub.identity_key_hash(key, row["channel"], row["external_id"]): row
        for row in sql.unchecked_identities_since(store, since)
    }
    found = sql.erased_hashes_among(store, list(candidates))
    with store.transaction():
        for key_hash in sorted(found):
            row = candidates[key_hash]
            identities.set_key_hash(store, row["identity_id"], key_hash)
            store.audit(
                actor, "reappeared_after_erasure", "identity", row["identity_id"],
                {"identity_id": row["identity_id"], "customer_id": row["customer_id"], "channel": row["channel"]},
            )  # fmt: skip
    return len(found)


def supersede_open_suggestions(store: Store, ids: Sequence[int], request_id: int, now: datetime) -> int:
    """Take the erased customers' open suggestions out of the queue (superseded, with the reason)."""
    return suggestions.supersede_open_of(
        store, ids, f"customer anonymized (erasure request {request_id})", now
    )


# -- for `make demo` -----------------------------------------------------------------------------
def pick_demo_customer(store: Store, exclude: Sequence[int] = ()) -> int | None:
    """A busy customer whose identifiers nobody else holds or mentions (so its erasure verifies cleanly).

    Customers with open suggestions are left out (erasing them would disturb the review queue).
    """
    for customer_id in sql.busiest_customers(store, exclude):
        ids = redirects.person(store, [customer_id])
        tables = sql.person_tables(store, ids)
        values = scrub.person_values(tables["customers"], tables["identities"]).searchable()
        if set(sql.customers_holding(store, values)) <= set(ids) and not sql.mentions_outside(
            store, ids, values
        ):
            return customer_id
    return None
