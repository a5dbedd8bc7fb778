"""An anonymization run: erase each request's person, then one rewrite of every file, then verify each.

A request moves `pending`/`waiting` -> `erasing` -> `done` (or `failed`):
1. erase (one transaction per request): the person's rows are replaced and the request becomes
   `erasing`; its spellings are kept encrypted beside the store (compliance/pending.py); then the
   person's queued web actions and its rows in the kept landing copies are removed;
2. once per run, when anything is `erasing` (from this run or one that stopped): the outbox is
   compacted (secure delete, VACUUM) and the store rewritten into a fresh file (store/rewrite.py);
3. verify each `erasing` request (every spelling, every text column, the bytes of every owned file):
   only then is it `done`. A verification that finds something makes it `incomplete`, naming the places.
A run that stops anywhere (crash, kill -9, Ctrl-C) leaves requests `pending` or `erasing`, never
`failed`; the next run starts at step 2 for the `erasing` ones. `STEP_HOOK` (tests only) is called
at every step, e.g. to kill the process there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from compliance import landing, leftovers, pending
from compliance.erasure import erase_person, person_record, verify_erasure
from compliance.filescan import OwnedFiles, forget_file_texts
from compliance.interrupt import StopFlag, stop_on_interrupt
from compliance.runner import (
    already_anonymized,
    anonymization_key,
    fail_request,
    open_request_ids,
    queue_retention,
    recognise_reappearances,
    request_people,
    supersede_open_suggestions,
)
from compliance.spellings import Spellings
from domain.settings import ComplianceSettings, IngestSettings
from domain.statuses import RUNNABLE_REQUESTS, RequestStatus
from store import compliance as sql
from store import compliance_requests as requests_sql
from store import outbox_file, redirects
from store.db import Store, utcnow
from store.rewrite import rewrite_store
from store.text_forms import search_forms

ERASING_REASON = "erased; rewrite and verification pending"
# tests only: called with (step, request id or None) at every step of a run (fault injection)
STEP_HOOK: Callable[[str, int | None], None] | None = None


def _step(name: str, request_id: int | None = None) -> None:
    if STEP_HOOK is not None:
        STEP_HOOK(name, request_id)


def owned_files(
    store_path: Path, compliance: ComplianceSettings, ingest: IngestSettings | None
) -> OwnedFiles:
    """The files of a store that erasure reaches and verification searches."""
    return OwnedFiles(
        export_dir=compliance.export_dir,
        store=Path(store_path),
        landing_dir=ingest.landing_dir if ingest else None,
        data_docs_dir=ingest.data_docs_dir if ingest else None,
    )


def prepare_anonymizations(
    store: Store, compliance_settings: ComplianceSettings, actor: str
) -> dict[str, Any]:
    """Recognise re-appearances and queue retention requests; the summary lists the open `request_ids`."""
    key = anonymization_key(compliance_settings, store.path)
    summary = {
        "reappeared": recognise_reappearances(store, key, actor),
        "retention_queued": queue_retention(store, compliance_settings),
        "done": [], "waiting": [], "failed": [], "erasing": [], "not_started": [], "counts": {},
        "interrupted": False, "rewrite": None,
        "request_ids": open_request_ids(store, "anonymize"),
    }  # fmt: skip
    _step("prepared")
    return summary


def add_anonymize_outcome(summary: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Count one request's outcome into an anonymization run summary."""
    request_id = outcome["request_id"]
    if outcome["status"] == "waiting":
        summary["waiting"].append({"request_id": request_id, "reason": outcome["reason"]})
    elif outcome["status"] == "failed":
        summary["failed"].append({"request_id": request_id, "reason": outcome["reason"]})
    elif outcome["status"] == "done":
        summary["done"].append(request_id)
        summary["counts"][request_id] = outcome["counts"]
    elif outcome["status"] == "erasing":
        summary["counts"][request_id] = outcome["counts"]


def run_anonymizations(
    store: Store, compliance_settings: ComplianceSettings, actor: str, ingest: IngestSettings | None = None,
    stop: StopFlag | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Queue retention requests, erase every open request, rewrite once, verify; Ctrl-C stops between requests."""
    files = owned_files(store.path, compliance_settings, ingest)
    with stop_on_interrupt(stop) as flag:
        try:
            summary = prepare_anonymizations(store, compliance_settings, actor)
            for request_id in summary.pop("request_ids"):
                if flag.requested:
                    summary["not_started"].append(request_id)
                    continue
                add_anonymize_outcome(
                    summary, anonymize_request(store, compliance_settings, actor, request_id, files)
                )
            finish_anonymizations(store, compliance_settings, actor, files, summary)
        finally:
            forget_file_texts()  # decrypted bundles must not outlive the run in a long-lived process
        summary["interrupted"] = flag.requested
    return summary


def anonymize_request(
    store: Store, settings: ComplianceSettings, actor: str, request_id: int, files: OwnedFiles | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Erase one request's person (own transaction; the request becomes `erasing`); failures are recorded.

    Only a failure before anything was erased marks the request `failed`; an interruption never does.
    """
    request = requests_sql.get(store, request_id)
    if request is None or request["status"] not in RUNNABLE_REQUESTS:
        return {"request_id": request_id, "status": "skipped"}
    key = anonymization_key(settings, store.path)
    files = files or OwnedFiles(export_dir=settings.export_dir, store=store.path)
    try:
        outcome = _erase_one(store, settings, key, actor, request)
    except Exception as error:  # the transaction rolled back: nothing was erased, the run goes on
        pending.delete(store.path, request_id)
        fail_request(store, request_id, f"anonymization failed: {error}")
        return {"request_id": request_id, "status": "failed", "reason": str(error)}
    if outcome["status"] == "erasing":
        _erase_copies(store.path, key, request_id, files)
    return {"request_id": request_id, **outcome}


def _erase_one(
    store: Store, settings: ComplianceSettings, key: bytes, actor: str, request: dict[str, Any]
) -> dict[str, Any]:
    request_id = request["request_id"]
    with store.transaction():
        if already_anonymized(store, request):
            named = request.get("customer_ids") or [request["customer_id"]]
            reason = f"customer {', '.join(map(str, named))} was already anonymized"
            sibling = _erasing_sibling(store, key, request)
            if sibling is not None:  # erased by another request whose verification is still to come
                pending.save(store.path, key, request_id, sibling)
                requests_sql.update(
                    store, request_id, status=RequestStatus.ERASING, status_reason=reason, lookup_value=None
                )
                return {"status": "erasing", "counts": {}}
            requests_sql.update(store, request_id, status=RequestStatus.DONE, status_reason=reason, lookup_value=None,
                               finished_at=utcnow())  # fmt: skip
            return {"status": "done", "counts": {}}
        survivors = request_people(store, request)
        customer_id = survivors[0]
        ids = redirects.person(store, survivors)
        locked = [s for s in (sql.customer_status(store, i) for i in ids) if s and s["locked"]]
        if locked:
            # the lock reason is free text about the person: it goes nowhere near logs or artifacts
            reason = (
                f"customer {locked[0]['customer_id']} is locked (by {locked[0]['locked_by'] or 'unknown'}): "
                "unlock it to proceed"
            )
            requests_sql.update(store, request_id, status=RequestStatus.WAITING, status_reason=reason)
            return {"status": "waiting", "reason": reason}
        started = utcnow()
        record = person_record(store, ids)
        values, spellings = record[1], record[2]
        pending.save(store.path, key, request_id, {
            "customer_ids": ids, "identifiers": sorted(values.identifiers), "names": sorted(values.names),
            "spellings": spellings.to_json(),
        })  # fmt: skip
        values, counts = erase_person(store, settings, key, request_id, ids, started, record)
        counts["suggestions_superseded"] = supersede_open_suggestions(store, ids, request_id, started)
        requests_sql.update(
            store, request_id, status=RequestStatus.ERASING, status_reason=ERASING_REASON, customer_id=customer_id,
            customer_ids=survivors, lookup_value=None, started_at=started, counts=counts,
        )  # fmt: skip
        store.audit(
            actor, "anonymized", "customer", customer_id,
            {"request_id": request_id, "customer_ids": ids, "person_customers": survivors, "counts": counts,
             "at": started.isoformat()},
        )  # fmt: skip
        _step("erase:before-commit", request_id)
    _step("erase:committed", request_id)
    return {"status": "erasing", "counts": counts}


def _erasing_sibling(store: Store, key: bytes, request: dict[str, Any]) -> dict[str, Any] | None:
    """The verification set of an `erasing` request about the same customer, if any."""
    for other in requests_sql.erasing(store):
        if other["customer_id"] == request["customer_id"] and other["request_id"] != request["request_id"]:
            return pending.load(store.path, key, int(other["request_id"]))
    return None


def _erase_copies(store_path: Path, key: bytes, request_id: int, files: OwnedFiles) -> dict[str, int]:
    """The person's queued web actions and its rows in kept landing copies (idempotent)."""
    document = pending.load(store_path, key, request_id)
    if document is None:
        return {}
    spellings = Spellings.from_json(document["spellings"])
    forms = search_forms(spellings.literals)
    counts = {"outbox_rows": outbox_file.erase_person(store_path, document["customer_ids"], forms,
                                                      spellings.phone_patterns)}  # fmt: skip
    _step("outbox:scrubbed", request_id)
    counts["landing_files"] = landing.erase_rows(files.landing_dir, forms, spellings.phone_patterns)
    _step("landing:scrubbed", request_id)
    return counts


def finish_anonymizations(
    store: Store, settings: ComplianceSettings, actor: str, files: OwnedFiles, summary: dict[str, Any],
    erased_now: set[int] | None = None,
) -> None:  # fmt: skip
    """Rewrite once and verify every `erasing` request (this run's and those of runs that stopped)."""
    landing.purge_expired(files.landing_dir, settings.landing_copies_retention_days)
    erasing = [int(r["request_id"]) for r in requests_sql.erasing(store)]
    pending.prune(store.path, set(erasing))
    if not erasing:
        return
    key = anonymization_key(settings, store.path)
    handled = erased_now if erased_now is not None else set(summary.get("counts", {}))
    for request_id in erasing:
        if request_id not in handled:  # a run stopped before reaching its copies
            _erase_copies(store.path, key, request_id, files)
    outbox_file.compact(store.path)
    _step("outbox:compacted")
    report = rewrite_store(store, on_step=_step)
    summary["rewrite"] = report.__dict__
    _step("rewritten")
    for request_id in erasing:
        _verify_one(store, settings, actor, key, request_id, files, summary)
    summary["done"].sort()


def _verify_one(
    store: Store, settings: ComplianceSettings, actor: str, key: bytes, request_id: int, files: OwnedFiles,
    summary: dict[str, Any],
) -> None:  # fmt: skip
    from anonymize.scrub import PersonValues

    request = requests_sql.get(store, request_id) or {}
    document = pending.load(store.path, key, request_id)
    if document is None:
        # the encrypted set is gone (removed by hand, or another key): the person's rows are what can be checked
        named = request.get("customer_ids") or (
            [request["customer_id"]] if request.get("customer_id") else []
        )
        ids = redirects.person(store, [int(i) for i in named])
        values, spellings, note = (
            PersonValues(),
            Spellings(),
            "verified on the person's own rows only (its verification set was lost)",
        )
    else:
        ids = [int(i) for i in document["customer_ids"]]
        values = PersonValues(identifiers=set(document["identifiers"]), names=set(document["names"]))
        spellings, note = Spellings.from_json(document["spellings"]), None
    places = verify_erasure(store, settings, ids, values, spellings, files)
    _step("verified", request_id)
    if places:
        # the person's own rows were erased (and committed); what is left is elsewhere: say where, whose
        # it is and what to do, and keep the request `incomplete` rather than `failed`
        reason = leftovers.explain(store, ids, places)
        with store.transaction():
            requests_sql.update(store, request_id, status=RequestStatus.INCOMPLETE, status_reason=reason[:4000],
                               finished_at=utcnow())  # fmt: skip
            store.audit(actor, "anonymization_verification_failed", "compliance_request", request_id,
                        {"request_id": request_id, "places": places[:200]})  # fmt: skip
        summary["failed"].append({"request_id": request_id, "reason": f"request {request_id}: {reason}"})
    else:
        with store.transaction():
            kept = request.get("status_reason") if request.get("status_reason") != ERASING_REASON else None
            requests_sql.update(
                store, request_id, status=RequestStatus.DONE, status_reason=note or kept, finished_at=utcnow()
            )
            store.audit(actor, "anonymization_verified", "compliance_request", request_id,
                        {"request_id": request_id, "customer_ids": ids, "files_searched": len(files.paths())})  # fmt: skip
        summary["done"].append(request_id)
        summary["counts"].setdefault(request_id, request.get("counts") or {})
        _step("done", request_id)
    pending.delete(store.path, request_id)
