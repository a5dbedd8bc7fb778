"""`idres match` (the `match` flow) and `idres evaluate` (scores against a ground truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape

from domain.errors import ConfigurationError
from idres.cli.common import (
    FormatOption,
    StoreOption,
    flow_settings,
    is_quiet,
    match_config_for,
    run_flow,
    settings_for,
    store_session,
)
from idres.output import OutputFormat, console, emit, err_console, fail, table
from store.views import exports


def match(
    ctx: typer.Context,
    full: Annotated[
        bool,
        typer.Option("--full", help="Rescore every identity and refit the model (default: changed only)."),
    ] = False,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Score the candidate-pair partitions on this Dask scheduler (tcp://HOST:PORT); "
            "default: the dask address setting (idres.toml), else in this process.",
        ),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Match identities into merge suggestions with the `match` flow."""
    settings = flow_settings(ctx, store)
    from flows.match import MatchConfigurationError, match_flow_on
    from flows.progress import cli_progress

    match_config_for(settings)  # a bad [match] is exit 2 before any work starts
    address = dask_address or settings.dask.address
    if address is not None and not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        fail(f"--dask-address {address!r} is not a scheduler address: give tcp://HOST:PORT")
    try:
        with cli_progress("match", enabled=not is_quiet(ctx) and fmt == OutputFormat.text):
            summary = run_flow(
                "match failed",
                settings,
                lambda: match_flow_on(address)(store=str(settings.store), full=full, settings=settings),
                passthrough=(MatchConfigurationError,),
                quiet=is_quiet(ctx),
            )
    except MatchConfigurationError as error:  # named with the file it came from
        raise ConfigurationError(f"{settings.origin.file or 'settings'}: {error}") from error
    for warning in summary.get("warnings", []):  # loud: on stderr, even with --quiet
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    emit(summary, fmt, _render_match)


def _render_match(s: dict[str, Any]) -> None:
    console.print(
        f"match run {s['run_id']} ({s['mode']}): {s['identities_total']} identities, "
        f"{s['identities_scored']} scored, {s['pairs_compared']} pairs; suggestions "
        f"{s['suggestions_new']} new, {s['suggestions_updated']} updated, {s['suggestions_reopened']} reopened"
        + (f"; configuration {s['config_id']}" if s.get("config_id") else ""),
        highlight=False,
    )
    if s.get("note"):
        console.print(s["note"], highlight=False)
    if s["band_counts"]:
        console.print(table("Suggestions per band", ["band", "count"], list(s["band_counts"].items())))
    for note in s.get("notes", []):
        console.print(f"note: {note}", highlight=False, markup=False)


def read_truth(path: Path) -> pl.DataFrame:
    """A truth file (CSV or Parquet) with channel, external_id, entity_id."""
    if not path.exists():
        fail(f"no truth file {path}", code=2)
    frame = (
        pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path, infer_schema=False)
    )
    missing = {"channel", "external_id", "entity_id"} - set(frame.columns)
    if missing:
        fail(f"truth file {path} lacks column(s) {sorted(missing)}", code=2)
    return frame.select(
        pl.col("channel").cast(pl.String),
        pl.col("external_id").cast(pl.String),
        pl.col("entity_id").cast(pl.String),
    )


def evaluate_store(
    keys: pl.DataFrame, suggestions: pl.DataFrame, truth: pl.DataFrame, review: float
) -> dict[str, Any]:
    """Pairwise and cluster scores of the store's customers plus suggestions against a truth."""
    from matching.evaluate import (
        calibration,
        cluster_scores,
        pairwise_scores,
        suggestion_clusters,
        threshold_sweep,
    )

    labelled = keys.join(truth, on=["channel", "external_id"], how="inner")
    ids = labelled.select("identity_id", "customer_id")
    # every truth record counts: one that was quarantined or never ingested is in no pair and no
    # cluster, so its pairs are misses (a negative stand-in id joins nothing in the store)
    absent = truth.join(keys, on=["channel", "external_id"], how="anti").select(
        (-pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("identity_id"), "entity_id"
    )
    truth_ids = pl.concat([labelled.select("identity_id", "entity_id"), absent])
    # identity pairs: within a customer (already together: probability 1) and across suggested customers
    within = ids.join(ids, on="customer_id", suffix="_r").filter(
        pl.col("identity_id") < pl.col("identity_id_r")
    )
    within = within.select(
        pl.col("identity_id").alias("identity_id_l"), "identity_id_r", pl.lit(1.0).alias("match_probability")
    )
    sugg = suggestions.filter(~pl.col("related_only")).select("customer_id_l", "customer_id_r", "probability")
    across = (
        sugg.join(
            ids.rename({"customer_id": "customer_id_l", "identity_id": "identity_id_l"}), on="customer_id_l"
        )
        .join(
            ids.rename({"customer_id": "customer_id_r", "identity_id": "identity_id_r"}), on="customer_id_r"
        )
        .select(
            pl.min_horizontal("identity_id_l", "identity_id_r").alias("identity_id_l"),
            pl.max_horizontal("identity_id_l", "identity_id_r").alias("identity_id_r"),
            pl.col("probability").alias("match_probability"),
        )
    )
    pairs = (
        pl.concat([within, across])
        .group_by("identity_id_l", "identity_id_r")
        .agg(pl.max("match_probability"))
    )
    sweep = threshold_sweep(pairs, truth_ids)
    best = sweep.sort("f1").tail(1).to_dicts()[0] if sweep.height else {}
    clusters = suggestion_clusters(ids, suggestions, review)
    return {
        "identities_in_truth": truth.height,
        "identities_matched_to_store": labelled.height,
        "truth_records_missing_from_store": absent.height,
        "suggestions": suggestions.height,
        "review_threshold": review,
        "pairwise_at_review": pairwise_scores(pairs, truth_ids, review),
        "pairwise_best": best,
        "clusters_at_review": cluster_scores(clusters, truth_ids),
        "clusters_current_customers": cluster_scores(ids, truth_ids),
        # the model's probabilities only: pairs already in one customer carry no score of their own
        "calibration": calibration(
            across.group_by("identity_id_l", "identity_id_r").agg(pl.max("match_probability")), truth_ids
        ),
    }


def evaluate(
    ctx: typer.Context,
    truth: Annotated[Path, typer.Option("--truth", help="CSV/Parquet with channel, external_id, entity_id.")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.json,
) -> None:
    """Precision, recall and F1 of the store's suggestions and customers against a ground truth."""
    settings = settings_for(ctx, store)
    truth_frame = read_truth(truth)
    with store_session(ctx, store) as session:
        keys = exports.identity_keys(session)
        suggestions = exports.suggestions_for_export(session)
    result = evaluate_store(keys, suggestions, truth_frame, settings.match.review_threshold)
    emit(result, fmt, lambda data: console.print_json(json.dumps(data, default=str)))
