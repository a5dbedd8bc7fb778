"""The `apply-merges` flow: apply every approved suggestion in one transaction, and publish what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from domain.settings import ReviewSettings, Settings
from flows.common import explained, markdown_table, retry_when_busy, run_settings
from review.merging import apply_approved
from store import open_store

ACTOR = "apply-merges"


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def apply_task(store_path: str, busy_timeout_s: float, actor: str, review: ReviewSettings) -> dict[str, Any]:
    """Apply approved suggestions (all or nothing); a busy store is retried, anything else fails the run."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return apply_approved(store, actor, review)


def outcome_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per suggestion the run looked at: applied, held back, superseded or already joined."""
    rows = [
        {
            "outcome": "applied",
            "suggestion_id": m["suggestion_id"],
            "merge_id": m["merge_id"],
            "survivor_id": m["survivor_id"],
            "absorbed_id": m["absorbed_id"],
            "reason": f"{m['identities_moved']} identities moved",
        }
        for m in report["merges"]
    ]
    for outcome, key in (("held back", "held_suggestions"), ("superseded", "superseded_suggestions")):
        rows += [
            {
                "outcome": outcome,
                "suggestion_id": s["suggestion_id"],
                "merge_id": None,
                "survivor_id": s["customer_id_l"],
                "absorbed_id": s["customer_id_r"],
                "reason": s["reason"],
            }
            for s in report[key]
        ]
    rows += [
        {"outcome": "already joined", "suggestion_id": sid, "merge_id": None, "survivor_id": None,
         "absorbed_id": None, "reason": "joined by other approvals in this run"}
        for sid in report["already_joined"]
    ]  # fmt: skip
    return rows


def _publish(report: dict[str, Any]) -> None:
    rows = outcome_rows(report)
    lines = [
        f"# Apply merges run {report['apply_run_id']} (by {report['actor']})",
        f"{report['approved_seen']} approved suggestions seen: {report['merges_applied']} merges applied, "
        f"{report['held_back']} held back, {report['superseded']} superseded.",
    ]
    if report["held_back"]:
        lines += ["", "Held-back pairs wait for an agent: see `idres suggestions list --status held`."]
    if rows:
        columns = list(rows[0])
        lines += ["", "## Outcomes", markdown_table(columns, [list(r.values()) for r in rows])]
        create_table_artifact(key="apply-merges-outcomes", table=rows, description="Per-suggestion outcomes")
    create_markdown_artifact(
        key="apply-merges-summary", markdown="\n".join(lines), description="Apply merges run summary"
    )


@flow(name="apply-merges", log_prints=False)
def apply_merges_flow(
    store: str | None = None, actor: str = ACTOR, settings: Settings | None = None
) -> dict[str, Any]:
    """Apply every approved suggestion: merges chain, cannot-links and locks hold pairs back, all audited."""
    logger = get_run_logger()
    settings = run_settings(settings, store)
    with explained("applying approved merges", settings.store):
        report = apply_task(str(settings.store), settings.store_busy_timeout_s, actor, settings.review)
    logger.info(
        "apply run %s: %s approved seen, %s merges applied, %s held back, %s superseded",
        report["apply_run_id"],
        report["approved_seen"],
        report["merges_applied"],
        report["held_back"],
        report["superseded"],
    )
    for held in report["held_suggestions"]:
        logger.warning("suggestion %s held back: %s", held["suggestion_id"], held["reason"])
    _publish(report)
    return report
