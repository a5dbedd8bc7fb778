"""Matching benchmark: idres vs Splink on the same generated, normalized identities; prints JSON.

    .venv/bin/python bench/match_bench.py [--sizes 10000,100000] [--seed 7] [--no-splink]

Per size: generate(n, seed), normalize_identities, one customer per identity, then
(a) idres `run_match` (full run, default MatchConfig) in a child process reading the frame from
    Parquet: time, peak RSS (sampled every 20 ms by a thread; also ru_maxrss), suggestions at or above the review threshold (not related-only)
    scored pairwise and as clusters (connected components) against the truth with
    matching/evaluate.py; identity pairs at the same threshold are scored too;
(b) Splink (DuckDB) on the same frame, in a child process with its own venv bench/.venv-splink
    (created on first use with `uv venv` + `uv pip install splink polars pyarrow psutil`; Splink
    is not a dependency of idres), exchanging Parquet in a temp dir; predictions at 0.8 and
    Splink's own clusters at 0.8, scored with the same helpers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peak_rss import PeakRss  # noqa: E402

SPLINK_VENV = ROOT / "bench" / ".venv-splink"
SPLINK_PY = SPLINK_VENV / "bin" / "python"
THRESHOLD = 0.8


def ensure_splink_venv() -> None:
    """bench/.venv-splink with splink, polars, pyarrow and psutil (git-ignored)."""
    if SPLINK_PY.exists():
        probe = subprocess.run([str(SPLINK_PY), "-c", "import splink, psutil, pyarrow"], capture_output=True)
        if probe.returncode == 0:
            return
    uv = [sys.executable, "-m", "uv"]
    probe = subprocess.run([*uv, "--version"], capture_output=True)
    if probe.returncode != 0:
        uv = ["python3", "-m", "uv"]
    subprocess.run([*uv, "venv", str(SPLINK_VENV), "--python", sys.executable], check=True, stdout=sys.stderr)
    # --python pins the target: without it uv may pick another active environment
    subprocess.run(
        [*uv, "pip", "install", "--python", str(SPLINK_PY), "splink", "polars", "pyarrow", "psutil"],
        check=True,
        stdout=sys.stderr,
    )


def prepare(n: int, seed: int):  # type: ignore[no-untyped-def]
    """Normalized identities (identity_id = customer_id = row number) and truth identity_id -> entity."""
    import polars as pl

    from data.generator import generate
    from domain.settings import IngestSettings
    from ingest.normalize import normalize_identities
    from ingest.read import attributes_from_external_id

    began = time.perf_counter()
    sample = generate(n, seed)
    generated = time.perf_counter()
    # as ingest does: an SMS id is the phone number, an email id the address
    raw = sample.identities.with_columns(attributes_from_external_id(IngestSettings()))
    frame = normalize_identities(raw)
    normalized = time.perf_counter()
    frame = frame.with_row_index("identity_id", offset=1).with_columns(
        pl.col("identity_id").cast(pl.Int64), pl.col("identity_id").cast(pl.Int64).alias("customer_id")
    )
    truth = frame.select("identity_id", "channel", "external_id").join(
        sample.truth.select("channel", "external_id", "entity_id"), on=["channel", "external_id"], how="left"
    )
    # an identity without a truth row (none expected) is its own entity
    truth = truth.select(
        "identity_id",
        pl.col("entity_id").fill_null(pl.format("none-{}", pl.col("identity_id"))).alias("entity"),
    )
    times = {"generate_s": round(generated - began, 2), "normalize_s": round(normalized - generated, 2)}
    return frame, truth, times


def quality(pairs, clusters, truth) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Pairwise P/R/F1 of `pairs` (identity_id_l, identity_id_r, match_probability) and cluster scores."""
    from matching.evaluate import cluster_scores, pairwise_scores

    pw = pairwise_scores(pairs, truth, THRESHOLD)
    cs = cluster_scores(clusters, truth)
    return {
        "pairwise": {k: round(v, 4) for k, v in pw.items() if k != "threshold"},
        "cluster": {k: round(v, 4) for k, v in cs.items()},
    }


def idres_child(src: Path, out: Path) -> dict[str, object]:
    """run_match on the Parquet frame in a fresh process, so that peak RSS is the match's own."""
    import polars as pl

    from matching import MatchConfig, run_match

    frame = pl.read_parquet(src)
    config = MatchConfig()
    with PeakRss() as rss:
        began = time.perf_counter()
        result = run_match(frame, config)
        took = time.perf_counter() - began
    result.suggestions.select(
        "customer_id_l", "customer_id_r", "probability", "band", "related_only"
    ).write_parquet(out / "suggestions.parquet")
    result.pairs.select("identity_id_l", "identity_id_r", "match_probability", "related_only").write_parquet(
        out / "pairs.parquet"
    )
    timings = result.timings if isinstance(result.timings, dict) else {}
    return {
        "run_match_s": round(took, 2),
        "peak_rss_mb": round(rss.peak / 2**20),
        "rss_before_mb": round(rss.start / 2**20),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "scored_pairs": result.pairs.height,
        "review_threshold": config.review_threshold,
        "lambda": result.model.lambda_,
        "timings": {k: round(float(v), 2) for k, v in timings.items()},
    }


def bench_idres(frame, truth, tmp: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import polars as pl

    from matching.evaluate import clusters_from_pairs, suggestion_clusters

    src = tmp / "idres_identities.parquet"
    frame.write_parquet(src)
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--idres-child", str(src), str(tmp)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(wall, 2)
    suggestions = pl.read_parquet(tmp / "suggestions.parquet")
    sugg = suggestions.filter(pl.col("band").is_in(["review", "auto_approve"]) & ~pl.col("related_only"))
    out["suggestions_review_or_above"] = sugg.height
    # one customer per identity, so customer pairs are identity pairs
    sugg_pairs = sugg.select(
        pl.col("customer_id_l").alias("identity_id_l"),
        pl.col("customer_id_r").alias("identity_id_r"),
        pl.col("probability").alias("match_probability"),
    )
    out["suggestions"] = quality(sugg_pairs, suggestion_clusters(frame, suggestions, THRESHOLD), truth)
    ids = frame.get_column("identity_id")
    pairs = pl.read_parquet(tmp / "pairs.parquet").filter(~pl.col("related_only"))
    out["identity_pairs"] = quality(pairs, clusters_from_pairs(ids, pairs, THRESHOLD), truth)
    return out


SPLINK_COLUMNS = ("email_norm", "email_key", "phone_e164", "first_name_norm", "last_name_norm", "first_name_key",
                  "last_name_key", "screen_name_norm", "company_norm", "city_norm", "postcode_norm",
                  "country_norm", "birth_date_norm")  # fmt: skip


def bench_splink(frame, truth, tmp: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import polars as pl

    src = tmp / "identities.parquet"
    frame.select(pl.col("identity_id").alias("unique_id"), *SPLINK_COLUMNS).write_parquet(src)
    began = time.perf_counter()
    proc = subprocess.run(
        [str(SPLINK_PY), str(ROOT / "bench" / "splink_runner.py"), str(src), str(tmp)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(wall, 2)
    pairs = pl.read_parquet(tmp / "predictions.parquet").select(
        pl.col("unique_id_l").cast(pl.Int64).alias("identity_id_l"),
        pl.col("unique_id_r").cast(pl.Int64).alias("identity_id_r"),
        "match_probability",
    )
    clusters = pl.read_parquet(tmp / "clusters.parquet").select(
        pl.col("unique_id").cast(pl.Int64).alias("identity_id"), pl.col("cluster_id").cast(pl.String)
    )
    out.update(quality(pairs, clusters, truth))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated identity counts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-splink", action="store_true", help="run the idres side only")
    parser.add_argument("--idres-child", nargs=2, metavar=("IN", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.idres_child:
        print(json.dumps(idres_child(*(Path(p) for p in args.idres_child))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not args.no_splink:
        ensure_splink_venv()
    from matching.evaluate import true_pair_count

    report = []
    for n in sizes:
        frame, truth, times = prepare(n, args.seed)
        entry: dict[str, object] = {
            "n": n,
            "rows": frame.height,
            "entities": truth.get_column("entity").n_unique(),
            "true_pairs": true_pair_count(truth),
            **times,
        }
        with tempfile.TemporaryDirectory(prefix="match_bench_") as tmp:
            entry["idres"] = bench_idres(frame, truth, Path(tmp))
            if not args.no_splink:
                entry["splink"] = bench_splink(frame, truth, Path(tmp))
        report.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)  # progress
    print(json.dumps({"seed": args.seed, "threshold": THRESHOLD, "sizes": report}, indent=2))


if __name__ == "__main__":
    main()
