"""Profile `run_match` on a quality-bench data set, ingested once and kept as Parquet; prints JSON.

    .venv/bin/python bench/match_profile.py build gen2-1m /tmp/prof/gen2-1m
    .venv/bin/python bench/match_profile.py run /tmp/prof/gen2-1m [--save OUT] [--profile N]

`build` generates the data set as bench/quality_bench.py does, ingests it into a fresh store in
that folder (IDRES_CONFIG/IDRES_STORE set as the bench sets them) and writes the match input the
bench hands `run_match` (identities.parquet, excluded.parquet). `run` reads it back and times
`run_match` (MatchResult.timings per step); `--save` writes the pairs and suggestions for an
equality check (`compare OUT_A OUT_B`), `--profile N` prints the N slowest functions (cProfile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(name: str, folder: Path, seed: int) -> dict[str, object]:
    """Generate, ingest and write the match input of data set `name` to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["IDRES_CONFIG"] = str(folder / "idres.toml")
    os.environ["IDRES_STORE"] = str(folder / "store.duckdb")
    os.environ["IDRES_INGEST__DATA_DOCS_DIR"] = str(folder / "gx_docs")
    import polars as pl

    from bench.quality_datasets import build as build_dataset

    began = time.perf_counter()
    dataset = build_dataset(name, seed, folder / "exports", None)
    (folder / "idres.toml").write_text(dataset.config)
    from domain.settings import load_settings
    from flows.match import extra_columns, match_columns
    from ingest.pipeline import ingest_file, order_inputs
    from matching import MatchConfig
    from review.merging import profile_rebuilder
    from store import match_runs, open_store

    settings = load_settings()
    files = order_inputs([p for p in dataset.files if p.name.startswith("identities")])
    with open_store(settings.store) as store:
        for path in files:
            ingest_file(store, path, settings.ingest, rebuild_profiles=profile_rebuilder(settings.review))
    config = MatchConfig.from_settings(settings.match)
    with open_store(settings.store) as store:
        identities, _, excluded = match_runs.load_match_input(
            store, extra_columns(config), match_columns(config)
        )
    identities.write_parquet(folder / "identities.parquet")
    pl.DataFrame({"customer_id": pl.Series(list(excluded), dtype=pl.Int64)}).write_parquet(
        folder / "excluded.parquet"
    )
    return {
        "identities": identities.height,
        "excluded": len(excluded),
        "build_s": time.perf_counter() - began,
    }


# functions timed by `run --steps`: module and the name it calls them by
STEPS = (
    "matching.engine:block",
    "matching.engine:build_frame",
    "matching.engine:train",
    "matching.engine:estimate_u",
    "matching.engine:fit",
    "matching.engine:match_weights",
    "matching.engine:solve_prior",
    "matching.engine:identifier_scale",
    "matching.engine:rule_pairs",
    "matching.engine:private_value_floor",
    "matching.engine:pairs_frame",
    "matching.engine:suggestion_rows",
    "matching.engine:evidence_columns",
    "matching.engine:evidence_json",
    "matching.engine:evidence_hashes",
    "matching.engine:_cluster_items",
    "matching.engine:conflict_changes",
    "matching.engine:widely_shared",
    "matching.clusters:pair_compatible",
    "matching.clusters:_raise",
    "matching.shared:pair_compatible",
)


def time_steps() -> dict[str, float]:
    """Wrap STEPS and every comparison with timers; the returned dict fills in as they run."""
    import functools
    import importlib

    spent: dict[str, float] = {}

    def timed(key: str, fn):  # type: ignore[no-untyped-def]
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                name = key if key != "compare" else f"compare:{args[0].name}:{len(args[2]) > 0}"
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    for step in (*STEPS, "matching.engine:compare"):
        module, attr = step.split(":")
        mod = importlib.import_module(module)
        setattr(mod, attr, timed(attr if attr == "compare" else step.split(".")[-1], getattr(mod, attr)))
    return spent


def run(folder: Path, save: Path | None, profile: int, steps: bool = False) -> dict[str, object]:
    """run_match on the folder's match input, as bench/quality_bench.py calls it."""
    os.environ["IDRES_CONFIG"] = str(folder / "idres.toml")
    import polars as pl

    from domain.settings import load_settings
    from matching import MatchConfig, run_match

    config = MatchConfig.from_settings(load_settings().match)
    spent = time_steps() if steps else None
    identities = pl.read_parquet(folder / "identities.parquet")
    excluded = pl.read_parquet(folder / "excluded.parquet").get_column("customer_id")
    began = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(run_match, identities, config, excluded_customer_ids=excluded)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(profile)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
    else:
        result = run_match(identities, config, excluded_customer_ids=excluded)
    took = time.perf_counter() - began
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        result.pairs.write_parquet(save / "pairs.parquet")
        result.suggestions.write_parquet(save / "suggestions.parquet")
    return {
        "match_s": round(took, 2),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
        "pairs": result.pairs.height,
        "suggestions": result.suggestions.height,
        "load": os.getloadavg()[0],
        **(
            {"steps": {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}}
            if spent
            else {}
        ),
    }


def compare(a: Path, b: Path) -> dict[str, object]:
    """Whether two saved runs have equal pairs and suggestions (floats within 1e-12)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    out: dict[str, object] = {}
    for name in ("pairs", "suggestions"):
        left, right = pl.read_parquet(a / f"{name}.parquet"), pl.read_parquet(b / f"{name}.parquet")
        try:
            assert_frame_equal(left, right, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
            out[name] = "equal"
        except AssertionError as exc:
            out[name] = str(exc)[:2000]
    return out


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dataset")
    b.add_argument("folder", type=Path)
    b.add_argument("--seed", type=int, default=7)
    r = sub.add_parser("run")
    r.add_argument("folder", type=Path)
    r.add_argument("--save", type=Path)
    r.add_argument("--profile", type=int, default=0)
    r.add_argument("--steps", action="store_true", help="time the main functions and each comparison")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.cmd == "build":
        out = build(args.dataset, args.folder, args.seed)
    elif args.cmd == "run":
        out = run(args.folder, args.save, args.profile, args.steps)
    else:
        out = compare(args.a, args.b)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
