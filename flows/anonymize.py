"""The `anonymize` flow: retention, erasure requests, verification; publishes counts (no personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from compliance.erasure_run import (
    add_anonymize_outcome,
    anonymize_request,
    finish_anonymizations,
    owned_files,
    prepare_anonymizations,
)
from compliance.filescan import forget_file_texts
from compliance.interrupt import stop_on_interrupt
from domain.settings import ComplianceSettings, IngestSettings, Settings
from flows.common import (
    RequestsFailed,
    explained,
    markdown_table,
    publish_requests,
    retry_when_busy,
    run_settings,
)
from store import compliance_requests as requests_sql
from store import open_store

ACTOR = "anonymize-flow"


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def prepare_task(
    store_path: str, busy_timeout_s: float, compliance: ComplianceSettings, actor: str
) -> dict[str, Any]:
    """Recognise re-appeared identities and queue retention requests; lists the open requests."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return prepare_anonymizations(store, compliance, actor)


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def anonymize_task(
    store_path: str, busy_timeout_s: float, compliance: ComplianceSettings, ingest: IngestSettings, actor: str,
    request_id: int,
) -> dict[str, Any]:  # fmt: skip
    """Erase one request's person; the store is opened for it alone, so the web page can work in between."""
    files = owned_files(Path(store_path), compliance, ingest)
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return anonymize_request(store, compliance, actor, request_id, files)


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def finish_task(
    store_path: str, busy_timeout_s: float, compliance: ComplianceSettings, ingest: IngestSettings, actor: str,
    summary: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """One rewrite of the store and outbox, then the verification of every erased request."""
    files = owned_files(Path(store_path), compliance, ingest)
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        finish_anonymizations(store, compliance, actor, files, summary)
        summary["erasing"] = [int(r["request_id"]) for r in requests_sql.erasing(store)]
    return summary


def _publish(summary: dict[str, Any]) -> None:
    lines = [
        "# Anonymization run",
        f"{len(summary['done'])} request(s) done, {len(summary['waiting'])} waiting, "
        f"{len(summary['failed'])} failed; {len(summary['retention_queued'])} queued by the retention policy; "
        f"{summary['reappeared']} erased identity key(s) re-appeared as new customers.",
    ]
    if summary["counts"]:
        names = sorted({name for counts in summary["counts"].values() for name in counts})
        rows = [
            [request_id, *[counts.get(n, 0) for n in names]]
            for request_id, counts in summary["counts"].items()
        ]
        lines += ["", "## Erased", markdown_table(["request", *names], rows)]
    if summary["waiting"] or summary["failed"]:
        rows = [[w["request_id"], "waiting", w["reason"]] for w in summary["waiting"]]
        rows += [[f["request_id"], "failed", f["reason"]] for f in summary["failed"]]
        lines += ["", "## Not done", markdown_table(["request", "status", "reason"], rows)]
    create_markdown_artifact(
        key="anonymize-summary", markdown="\n".join(lines), description="Anonymization run summary"
    )
    publish_requests("anonymize-requests", summary, "Anonymization requests handled: done, waiting, failed")


@flow(name="anonymize", log_prints=False)
def anonymize_flow(
    store: str | None = None, actor: str = ACTOR, settings: Settings | None = None
) -> dict[str, Any]:
    """Carry out erasure requests (and the retention policy); fails loudly when a verification found leftovers."""
    logger = get_run_logger()
    settings = run_settings(settings, store)
    path, timeout = str(settings.store), settings.store_busy_timeout_s
    compliance, ingest = settings.compliance, settings.ingest
    try:
        with explained("carrying out erasure requests", settings.store), stop_on_interrupt() as stop:
            summary = prepare_task(path, timeout, compliance, actor)
            for request_id in summary.pop("request_ids"):
                if stop.requested:  # Ctrl-C: no further request is started; the erased ones are finished
                    summary["not_started"].append(request_id)
                    continue
                add_anonymize_outcome(
                    summary, anonymize_task(path, timeout, compliance, ingest, actor, request_id)
                )
            summary = finish_task(path, timeout, compliance, ingest, actor, summary)
            summary["interrupted"] = stop.requested
            summary["interrupted_by"] = stop.signal_name if stop.requested else None  # SIGINT or SIGTERM
    finally:
        forget_file_texts()  # decrypted bundles must not outlive the run in `idres serve`
    for request_id in summary["done"]:
        logger.info("request %s: anonymized and verified", request_id)
    if summary["interrupted"]:
        logger.warning(
            "interrupted: request(s) %s not started (they stay pending for the next run)",
            ", ".join(map(str, summary["not_started"])) or "none",
        )
    for waiting in summary["waiting"]:
        logger.warning("request %s waits: %s", waiting["request_id"], waiting["reason"])
    for failed in summary["failed"]:
        logger.error("request %s FAILED: %s", failed["request_id"], failed["reason"])
    _publish(summary)
    if summary["failed"]:
        ids = ", ".join(str(f["request_id"]) for f in summary["failed"])
        raise RequestsFailed(
            f"anonymization request(s) {ids} failed: see `idres requests list --status failed`"
        )
    return summary
