"""Match through the store: N identities matched from scratch, then 10k new ones incrementally; prints JSON.

Unlike match_bench.py (the engine alone, against Splink), this times what `idres match` does:
read eligible identities from DuckDB, block, score, fit, and write suggestions back in one
transaction. Targets (issue 3): 1M from scratch < 20 s; 10k new against 1M < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _ingest(store_path: Path, identities: object, name: str, docs: Path) -> float:
    from domain.settings import IngestSettings
    from ingest.pipeline import ingest_file
    from store import open_store

    path = store_path.parent / name
    identities.write_parquet(path)  # type: ignore[attr-defined]
    began = time.perf_counter()
    with open_store(store_path) as store:
        ingest_file(store, path, IngestSettings(data_docs_dir=docs))
    return time.perf_counter() - began


def _match(store_path: Path, full: bool) -> dict[str, object]:
    from domain.settings import MatchSettings
    from flows.match import match_columns
    from matching import MatchConfig, ModelParameters, run_match
    from store import match_runs, open_store, utcnow

    began = time.perf_counter()
    started = utcnow()
    config = MatchConfig.from_settings(MatchSettings())
    with open_store(store_path) as store:
        # the columns the match flow reads (not all 31)
        identities, changed, excluded = match_runs.load_match_input(store, (), match_columns(config))
        stored = None if full else match_runs.latest_model(store).model
    loaded = time.perf_counter()
    result = run_match(
        identities,
        config,
        changed_ids=None if full else changed,
        model=ModelParameters.from_dict(stored) if stored else None,
        excluded_customer_ids=excluded,
    )
    matched = time.perf_counter()
    with open_store(store_path) as store:
        summary = match_runs.save_match_result(
            store,
            result,
            "full" if full else "incremental",
            started,
            utcnow(),
            scored_ids=identities["identity_id"] if full else changed,
            identities_total=identities.height,
        )
    saved = time.perf_counter()
    return {
        "identities": identities.height,
        "changed": int(changed.len()),
        "load_s": round(loaded - began, 2),
        "match_s": round(matched - loaded, 2),
        "save_s": round(saved - matched, 2),
        "total_s": round(saved - began, 2),
        "pairs_compared": summary.get("pairs_compared"),
        "suggestions_new": summary.get("suggestions_new"),
        "bands": summary.get("band_counts"),
    }


def main() -> None:
    """Build a store of N identities, match it fully, add 10k identities, match incrementally."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from data.generator import generate

    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "bench.duckdb"
        docs = Path(tmp) / "docs"
        ingest_s = _ingest(
            store_path,
            generate(args.identities, seed=args.seed, messages_per_identity=0).identities,
            "identities_base.parquet",
            docs,
        )
        full = _match(store_path, full=True)
        new = generate(args.new, seed=args.seed + 1000, messages_per_identity=0).identities
        ingest_new_s = _ingest(store_path, new, "identities_new.parquet", docs)
        incremental = _match(store_path, full=False)
    print(
        json.dumps(
            {
                "identities": args.identities,
                "ingest_s": round(ingest_s, 2),
                "full": full,
                "new_identities": args.new,
                "ingest_new_s": round(ingest_new_s, 2),
                "incremental": incremental,
                "peak_rss_mb_whole_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
