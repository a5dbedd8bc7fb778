"""The `export` flow: produce a bundle for every pending export request, and publish what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from compliance.runner import add_export_outcome, export_request, new_export_summary, open_request_ids
from domain.settings import ComplianceSettings, Settings
from flows.common import (
    RequestsFailed,
    explained,
    markdown_table,
    publish_requests,
    retry_when_busy,
    run_settings,
)
from store import open_store

ACTOR = "export-flow"


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def open_requests_task(store_path: str, busy_timeout_s: float) -> list[int]:
    """The pending and waiting export requests."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return open_request_ids(store, "export")


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def export_task(
    store_path: str, busy_timeout_s: float, compliance: ComplianceSettings, actor: str, request_id: int
) -> dict[str, Any]:
    """Carry out one export request; the store is opened for it alone, so the web page can work in between."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return export_request(store, compliance, actor, request_id)


def _publish(summary: dict[str, Any]) -> None:
    lines = [
        "# Export run",
        f"{len(summary['done'])} bundle(s) produced, {len(summary['failed'])} request(s) failed.",
    ]
    if summary["bundles"]:
        rows = [[b["request_id"], b["customer_id"], b["path"], b["sha256"]] for b in summary["bundles"]]
        lines += ["", "## Bundles", markdown_table(["request", "customer", "bundle", "sha256"], rows)]
    if summary["failed"]:
        rows = [[f["request_id"], f["reason"]] for f in summary["failed"]]
        lines += ["", "## Failed", markdown_table(["request", "reason"], rows)]
    create_markdown_artifact(
        key="export-summary", markdown="\n".join(lines), description="Export run summary"
    )
    publish_requests("export-requests", summary, "Export requests handled: done, waiting, failed")


@flow(name="export", log_prints=False)
def export_flow(
    store: str | None = None, actor: str = ACTOR, settings: Settings | None = None
) -> dict[str, Any]:
    """Produce export bundles for pending requests; fails (after recording) when any request failed."""
    logger = get_run_logger()
    settings = run_settings(settings, store)
    summary = new_export_summary()
    with explained("producing export bundles", settings.store):
        for request_id in open_requests_task(str(settings.store), settings.store_busy_timeout_s):
            outcome = export_task(
                str(settings.store), settings.store_busy_timeout_s, settings.compliance, actor, request_id
            )
            add_export_outcome(summary, outcome)
    for produced in summary["bundles"]:
        logger.info(
            "request %s: bundle %s (sha256 %s)", produced["request_id"], produced["path"], produced["sha256"]
        )
    for failed in summary["failed"]:
        logger.error("request %s failed: %s", failed["request_id"], failed["reason"])
    _publish(summary)
    if summary["failed"]:
        ids = ", ".join(str(f["request_id"]) for f in summary["failed"])
        raise RequestsFailed(f"export request(s) {ids} failed: see `idres requests list --status failed`")
    return summary
