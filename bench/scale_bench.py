"""Scale benchmark: how match time and peak memory grow with the store, and local vs Dask scoring; prints JSON.

    .venv/bin/python bench/scale_bench.py [--sizes 100000,1000000,3000000] [--runner-size 1000000]
                                          [--partitions 8] [--workers 2] [--skip-growth] [--skip-runners]

Growth: per size, generate(n) and normalize as match_bench.py does, then a full `run_match` in
a child process (time, step timings, candidate pairs, peak RSS sampled every 20 ms).
Runners: a store of `--runner-size` identities (ingested), copied; the `match` flow (full run)
on one copy with the local task runner and on the other with a LocalCluster of `--workers`
single-threaded worker processes (prefect-dask); wall time of the flow call, its step
timings, and whether both stores hold the same suggestions. A temporary Prefect server serves
both runs. A size that fails (memory, time) is reported with its error; the rest go on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peak_rss import PeakRss  # noqa: E402


def growth_child(src: Path) -> dict[str, object]:
    """Full run_match over the Parquet frame in this (fresh) process."""
    import polars as pl

    from matching import MatchConfig, run_match

    frame = pl.read_parquet(src)
    with PeakRss() as rss:
        began = time.perf_counter()
        result = run_match(frame, MatchConfig())
        took = time.perf_counter() - began
    return {
        "run_match_s": round(took, 2),
        "timings": {k: round(float(v), 2) for k, v in result.timings.items()},
        "candidate_pairs": result.pairs.height,
        "suggestions": result.suggestions.height,
        "em_iterations": result.model.iterations,
        "peak_rss_mb": round(rss.peak / 2**20),
        "frame_rss_mb": round(rss.start / 2**20),
    }


def growth(n: int, seed: int, tmp: Path) -> dict[str, object]:
    """Generate n identities, then time a full match on them in a child process."""
    from match_bench import prepare

    began = time.perf_counter()
    frame, _truth, times = prepare(n, seed)
    src = tmp / f"identities_{n}.parquet"
    frame.write_parquet(src)
    rows = frame.height
    del frame, _truth
    out: dict[str, object] = {
        "n": n,
        "rows": rows,
        **times,
        "prepare_wall_s": round(time.perf_counter() - began, 2),
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--growth-child", str(src)],
        capture_output=True,
        text=True,
    )
    src.unlink()
    if proc.returncode != 0:
        out["error"] = f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    else:
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def _suggestions(path: Path) -> list[tuple[object, ...]]:
    from store import open_store

    with open_store(path) as store:
        rows = store.rows(
            """SELECT customer_id_l, customer_id_r, identity_id_l, identity_id_r, round(probability, 9) AS p,
            band, CAST(evidence AS VARCHAR) AS e FROM suggestions ORDER BY customer_id_l, customer_id_r"""
        )
    return [tuple(r.values()) for r in rows]


def runners(n: int, seed: int, partitions: int, workers: int, tmp: Path) -> dict[str, object]:
    """The match flow on a store of n identities: local task runner vs a local Dask cluster."""
    from match_store_bench import _ingest

    from data.generator import generate

    store_a, store_b = tmp / "local.duckdb", tmp / "dask.duckdb"
    ingest_s = _ingest(
        store_a, generate(n, seed=seed, messages_per_identity=0).identities, "ids.parquet", tmp / "docs"
    )
    shutil.copy(store_a, store_b)
    os.environ["IDRES_DASK__PARTITIONS"] = str(partitions)
    out: dict[str, object] = {"n": n, "ingest_s": round(ingest_s, 2), "partitions": partitions}
    from distributed import LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from flows.match import match_flow_on

    with prefect_test_harness(server_startup_timeout=180):
        for label, store in (("local", store_a), ("dask", store_b)):
            try:
                if label == "local":
                    began = time.perf_counter()
                    summary = match_flow_on(None)(store=str(store), full=True)
                else:
                    with LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                    ) as cluster:
                        began = time.perf_counter()
                        summary = match_flow_on(cluster.scheduler_address)(store=str(store), full=True)
                out[label] = {
                    "flow_s": round(time.perf_counter() - began, 2),
                    "timings": {k: round(float(v), 2) for k, v in summary["timings"].items()},
                    "pairs_compared": summary["pairs_compared"],
                    "suggestions_new": summary["suggestions_new"],
                }
            except Exception as error:  # report and go on: a failed runner is a finding
                out[label] = {"error": f"{type(error).__name__}: {error}"[:2000]}
    if "error" not in out["local"] and "error" not in out["dask"]:  # type: ignore[operator]
        out["identical_suggestions"] = _suggestions(store_a) == _suggestions(store_b)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000,3000000")
    parser.add_argument("--runner-size", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--skip-runners", action="store_true")
    parser.add_argument("--growth-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.growth_child:
        print(json.dumps(growth_child(Path(args.growth_child))))
        return
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    report: dict[str, object] = {"seed": args.seed, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_growth:
            report["growth"] = []
            for n in (int(x) for x in args.sizes.split(",")):
                entry = growth(n, args.seed, Path(tmp))
                report["growth"].append(entry)  # type: ignore[attr-defined]
                print(json.dumps(entry), file=sys.stderr, flush=True)
        if not args.skip_runners:
            report["runners"] = runners(args.runner_size, args.seed, args.partitions, args.workers, Path(tmp))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
