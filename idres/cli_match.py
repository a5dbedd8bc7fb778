"""`idres match`, `idres suggestions ...`, `idres customers export` and `idres evaluate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape

# defined before importing idres.cli: importing this module first runs idres.cli, whose
# registrations import idres.cli_review, which needs suggestions_app from here
suggestions_app = typer.Typer(help="Merge suggestions produced by `idres match`.", no_args_is_help=True)
customers_app = typer.Typer(help="All customers at once (exports).", no_args_is_help=True)

from idres.cli import app  # noqa: E402
from idres.cli_common import (  # noqa: E402
    FormatOption,
    StoreOption,
    flow_settings,
    is_quiet,
    match_config_for,
    run_flow,
    settings_for,
    store_session,
)
from idres.output import OutputFormat, console, emit, err_console, fail, table  # noqa: E402
from store import suggestions as store_suggestions  # noqa: E402

app.add_typer(suggestions_app, name="suggestions")
app.add_typer(customers_app, name="customers")

OutOption = Annotated[Path, typer.Option("--out", help="Output file: .parquet, .csv or .jsonl.")]


@app.command()
def match(
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
    settings = flow_settings(store)
    from flows.match import MatchConfigurationError, match_flow_on
    from idres.progress import cli_progress
    from idres.settings import config_file

    match_config_for(settings)  # a bad [match] is exit 2 before any work starts
    address = dask_address or settings.dask.address
    if address is not None and not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        fail(f"--dask-address {address!r} is not a scheduler address: give tcp://HOST:PORT")
    try:
        with cli_progress("match", enabled=not is_quiet() and fmt == OutputFormat.text):
            summary = run_flow(
                "match failed",
                settings,
                lambda: match_flow_on(address)(store=str(settings.store), full=full),
                passthrough=(MatchConfigurationError,),
            )
    except MatchConfigurationError as error:
        fail(f"{config_file() or 'settings'}: {error}", code=2)
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


@suggestions_app.command("list")
def suggestions_list(
    status: Annotated[
        str | None, typer.Option(help="pending, approved, rejected, applied, superseded.")
    ] = None,
    band: Annotated[
        str | None,
        typer.Option(
            help="review, auto_approve, related or possible (below review: listed only when asked for)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many suggestions.")] = 50,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Suggestions, most probable first."""
    with store_session(store) as session:
        rows = store_suggestions.list_suggestions(session, status=status, band=band, limit=limit)
    emit(
        rows,
        fmt,
        lambda data: console.print(
            table(
                "Suggestions",
                ["id", "customers", "probability", "band", "status", "reason"],
                [
                    [
                        r["suggestion_id"],
                        f"{r['customer_id_l']} + {r['customer_id_r']}",
                        f"{r['probability']:.3f}",
                        r["band"],
                        r["status"],
                        r["reason"],
                    ]
                    for r in data
                ],
            )
        ),
    )


@suggestions_app.command("show")
def suggestions_show(
    suggestion_id: Annotated[int, typer.Argument(help="Suggestion id.")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """One suggestion: scores, evidence per field and both customers' identities."""
    with store_session(store) as session:
        record = store_suggestions.get_suggestion(session, suggestion_id)
    if record is None:
        fail(f"no suggestion {suggestion_id}")
    emit(record, fmt, _render_suggestion)


def _render_suggestion(r: dict[str, Any]) -> None:
    console.print(
        f"suggestion {r['suggestion_id']}: customers {r['customer_id_l']} + {r['customer_id_r']}, "
        f"probability {r['probability']:.3f} (weight {r['match_weight']:.2f}), band {r['band']}, "
        f"status {r['status']}",
        highlight=False,
        markup=False,
    )
    for label in ("reason", "status_reason"):
        if r.get(label):
            console.print(f"{label}: {r[label]}", highlight=False, markup=False)
    console.print(
        table(
            "Evidence",
            ["field", "value_l", "value_r", "level", "weight"],
            [
                [
                    e.get("field"),
                    e.get("value_l"),
                    e.get("value_r"),
                    e.get("level"),
                    f"{e.get('weight', 0):.2f}",
                ]
                for e in r["evidence"]
            ],
        )
    )
    for side in ("l", "r"):
        console.print(
            table(
                f"Customer {r[f'customer_id_{side}']}",
                ["id", "channel", "external id", "name", "email", "phone"],
                [
                    [
                        i["identity_id"],
                        i["channel"],
                        i["external_id"],
                        i["display_name"] or " ".join(filter(None, [i["first_name"], i["last_name"]])),
                        i["email"],
                        i["phone"],
                    ]
                    for i in r[f"identities_{side}"]
                ],
            )
        )


def write_frame(frame: pl.DataFrame, out: Path) -> None:
    """Write a frame by the file's extension; CSV gets list columns joined with ';'."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.write_parquet(out)
    elif suffix == ".jsonl":
        frame.write_ndjson(out)
    elif suffix == ".csv":
        lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
        frame.with_columns(pl.col(name).list.join(";") for name in lists).write_csv(out)
    else:
        fail(f"unknown output format {out.suffix!r}: use .parquet, .csv or .jsonl", code=2)


@suggestions_app.command("export")
def suggestions_export(out: OutOption, store: StoreOption = None) -> None:
    """Every suggestion with both customers' identities (channel:external_id)."""
    with store_session(store) as session:
        frame = store_suggestions.suggestions_for_export(session)
    write_frame(frame, out)
    console.print(f"wrote {frame.height} suggestions to {out}", highlight=False)


@customers_app.command("export")
def customers_export(out: OutOption, store: StoreOption = None) -> None:
    """Every customer with its identities (channel:external_id)."""
    with store_session(store) as session:
        frame = store_suggestions.customers_for_export(session)
    write_frame(frame, out)
    console.print(f"wrote {frame.height} customers to {out}", highlight=False)


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
    from matching.evaluate import cluster_scores, pairwise_scores, suggestion_clusters, threshold_sweep

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
    }


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="CSV/Parquet with channel, external_id, entity_id.")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.json,
) -> None:
    """Precision, recall and F1 of the store's suggestions and customers against a ground truth."""
    settings = settings_for(store)
    truth_frame = read_truth(truth)
    with store_session(store) as session:
        keys = store_suggestions.identity_keys(session)
        suggestions = store_suggestions.suggestions_for_export(session)
    result = evaluate_store(keys, suggestions, truth_frame, settings.match.review_threshold)
    emit(result, fmt, lambda data: console.print_json(json.dumps(data, default=str)))
