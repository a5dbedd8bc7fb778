"""`idres sample` (generated channel exports) and `idres demo` (the whole pipeline on them, in one process)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from domain.errors import Unavailable
from domain.settings import DATA_DIR, Settings
from domain.statuses import Band, MergeStatus, SuggestionStatus
from flows.progress import cli_progress
from idres.cli.common import StoreOption, flow_settings, is_quiet
from idres.output import console, table
from store import open_store

DEMO_AGENT = "demo-agent"


DEMO_OFFICER = "demo-compliance"


# a handful of approvals is enough to show merges without pretending the demo reviewed the queue
DEMO_APPROVALS = 3


def _say(text: str) -> None:
    console.print(text, highlight=False)


def _ingest(settings: Settings, sample_dir: Path) -> None:
    from flows.ingest import ingest_flow

    exports = sorted(p for p in sample_dir.iterdir() if p.name.startswith(("identities_", "messages_")))
    with cli_progress("1. ingest"):
        results = ingest_flow(paths=[str(p) for p in exports], store=str(settings.store), settings=settings)
    console.print(
        table(
            "1. ingest",
            ["file", "status", "read", "loaded", "quarantined"],
            [
                [Path(r["path"]).name, r["status"], r["rows_read"], r["rows_loaded"], r["rows_quarantined"]]
                for r in results
            ],
        )
    )


def _match(settings: Settings) -> None:
    from flows.match import match_flow

    with cli_progress("2. match"):
        summary = match_flow(store=str(settings.store), settings=settings)
    bands = ", ".join(f"{band}: {count}" for band, count in sorted(summary.get("band_counts", {}).items()))
    _say(
        f"2. match: {summary.get('pairs_compared', 0)} pairs compared in "
        f"{summary.get('timings', {}).get('total', 0):.1f} s; "
        f"{summary.get('suggestions_new', 0)} new suggestions ({bands or 'none'})"
    )


def _approve_a_few(settings: Settings) -> list[int]:
    """Approve the most probable pending review suggestions, as an agent would from the queue."""
    from review.decisions import approve
    from review.errors import ReviewError
    from store.views.review import list_suggestions

    approved: list[int] = []
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        for suggestion in list_suggestions(
            store, status=SuggestionStatus.PENDING, band=Band.REVIEW, limit=50
        ):
            if len(approved) == DEMO_APPROVALS:
                break
            try:
                approve(store, suggestion["suggestion_id"], DEMO_AGENT, "approved by the demo")
            except ReviewError as error:
                _say(f"   suggestion {suggestion['suggestion_id']} not approved: {error}")
                continue
            approved.append(int(suggestion["suggestion_id"]))
    return approved


def _review(settings: Settings) -> int | None:
    """Approve a few suggestions, apply them with the `apply-merges` flow; the first merged customer."""
    from flows.apply_merges import apply_merges_flow
    from review.merging import merge_log
    from store.views import review as review_view

    with cli_progress("3. review and apply-merges"):
        approved = _approve_a_few(settings)
        report = apply_merges_flow(store=str(settings.store), settings=settings)
    _say(
        f"3. review: {DEMO_AGENT} approved suggestions {approved or 'none'}; apply-merges applied "
        f"{report['merges_applied']} merge(s), held back {report['held_back']}, superseded {report['superseded']}"
    )
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        merges = [m for m in merge_log(store, limit=20) if m.get("status") == MergeStatus.APPLIED]
        if not merges:
            return None
        merge = merges[0]
        survivor = int(merge["survivor_id"])
        identities = review_view.identities_of(store, survivor)
    _say(
        f"   merge {merge['merge_id']}: customer {merge['absorbed_id']} was merged into {survivor} "
        f"(its id now redirects there; `idres merges undo {merge['merge_id']}` splits them again)"
    )
    console.print(
        table(
            f"   customer {survivor}",
            ["channel", "external_id"],
            [[i["channel"], i["external_id"]] for i in identities],
        )
    )
    return survivor


def _erasure_candidate(settings: Settings, keep: int | None) -> int | None:
    """A customer with no open suggestion whose identifiers nobody else holds (its erasure verifies)."""
    from compliance.runner import pick_demo_customer

    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        return pick_demo_customer(store, exclude=[keep] if keep is not None else [])


def _compliance(settings: Settings, export_customer: int | None) -> list[str]:
    """Queue one export and one erasure, then run the scheduled `export` and `anonymize` flows once."""
    from compliance.requests import confirm_request, get_request, request_anonymization, request_export
    from flows.anonymize import anonymize_flow
    from flows.export import export_flow

    erase_customer = _erasure_candidate(settings, export_customer)
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        target = export_customer or erase_customer
        export: dict[str, Any] | None = None
        erasure: dict[str, Any] | None = None
        if target is not None:
            export = request_export(
                store, DEMO_OFFICER, customer_id=target, reason="demo: portability request"
            )
        if erase_customer is not None:
            erasure = request_anonymization(
                store, DEMO_OFFICER, customer_id=erase_customer, reason="demo: erasure request"
            )
        # a customer with pending suggestions has other candidate customers: the request waits for
        # an officer, who (here, after reading them) confirms the one customer it was made for
        for request, customer in ((export, target), (erasure, erase_customer)):
            if request is not None and customer is not None and request.get("status") == "needs_confirmation":
                request.update(confirm_request(store, int(request["request_id"]), [customer], DEMO_OFFICER))
    with cli_progress("4. export and anonymize"):
        export_flow(store=str(settings.store), settings=settings)
        anonymize_flow(store=str(settings.store), settings=settings)
    lines: list[str] = []
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        if export is not None:
            done = get_request(store, export["request_id"]) or {}
            _say(
                f"4. export: request {done.get('request_id')} for customer {target} is {done.get('status')}; "
                f"bundle {done.get('bundle_path')} (sha256 {str(done.get('bundle_sha256'))[:16]}...)"
            )
            lines.append(f"the export bundle: {done.get('bundle_path')} (format: README, 'Export bundles')")
        if erasure is not None:
            done = get_request(store, erasure["request_id"]) or {}
            _say(
                f"5. anonymize: request {done.get('request_id')} for customer {erase_customer} is "
                f"{done.get('status')} (verified: no erased value left in the store or export folder)"
            )
            lines.append(f"the erased customer: idres customer show {erase_customer}")
    lines.append("compliance requests: idres requests list")
    return lines


def sample(
    identities: Annotated[int, typer.Option(help="How many identities to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/samples/demo"),
) -> None:
    """Generate realistic channel exports with the ground truth kept apart (truth.csv)."""
    from data.generator import generate, write_sample

    files = write_sample(generate(identities, seed=seed), out)
    console.print(f"wrote {len(files)} files to {out}", highlight=False)


def demo(
    ctx: typer.Context,
    identities: Annotated[int, typer.Option(help="Sample size (identities).")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 7,
    store: StoreOption = None,
) -> None:
    """Generate sample data and run every flow on it: ingest, match, review + apply merges, export, anonymize."""
    settings = flow_settings(ctx, store)
    from data.generator import generate, write_sample
    from flows.runtime import PrefectUnavailable, prefect_api

    sample_dir = DATA_DIR / "samples" / "demo"
    if not (sample_dir / "truth" / "truth.csv").exists():
        write_sample(generate(identities, seed=seed), sample_dir)
        _say(f"generated {identities} identities with messages in {sample_dir}")
    try:
        with prefect_api(settings.prefect, quiet=is_quiet(ctx)):  # one warm server for every flow
            _ingest(settings, sample_dir)
            _match(settings)
            survivor = _review(settings)
            compliance_steps = _compliance(settings, survivor)
    except PrefectUnavailable as error:
        raise Unavailable(f"demo: no Prefect server: {error}") from error
    next_steps = [
        f"store: {settings.store}",
        f"status: idres status --store {settings.store}",
        "quarantined rows: idres quarantine list",
        "suggestions to review: idres suggestions list",
        f"quality against the truth: idres evaluate --truth {sample_dir / 'truth' / 'truth.csv'}",
    ]
    if survivor is not None:
        next_steps += [f"the merged customer: idres customer show {survivor}", "merges: idres merges log"]
    next_steps += compliance_steps
    next_steps += [
        f"validation reports (GX Data Docs): {settings.ingest.data_docs_dir}",
        "an HTML report of the matching and the review backlog: idres report --out report.html",
        "the review page: idres users add NAME --role agent, then idres web",
    ]
    _say(
        "\n[bold]Where to look next[/] (run commands as `uv run idres ...` or `.venv/bin/idres ...`)\n"
        + "\n".join(f"  {line}" for line in next_steps)
    )
