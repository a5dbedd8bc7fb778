"""Ingest benchmark: generate N identities, then time read + normalize + validate + load; prints JSON.

The generation runs in this process; the ingest runs in a child process so that its peak memory
(ru_maxrss) is the ingest's own. Target (issue 2): 1,000,000 identities in < 30 s, < 4 GB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run_ingest(path: Path, store: Path, docs: Path) -> dict[str, object]:
    """Ingest one file into a new store and report times (runs in the child process)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    began = time.perf_counter()
    from domain.settings import IngestSettings
    from ingest.pipeline import ingest_file
    from ingest.validate import preload_gx
    from store import open_store

    preload_gx()  # the GX import overlaps reading and normalizing, as in the flow
    imported = time.perf_counter()
    with open_store(store) as session:
        report = ingest_file(session, path, IngestSettings(data_docs_dir=docs))
    done = time.perf_counter()
    rows = report.rows_read
    with open_store(store) as session:
        in_store = int(session.scalar("SELECT count(*) FROM identities"))
    # quarantine reasons about an optional field would be identities lost to a bad optional value
    optional = ("email", "phone", "birth_date", "created_at", "updated_at", "first_name", "last_name")
    lost = sum(
        count
        for reason, count in report.quarantine_reasons.items()
        if reason.split(" ")[0] in optional and "longer than" not in reason
    )
    return {
        "rows_read": rows,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "read_equals_loaded_plus_quarantined": rows == report.rows_loaded + report.rows_quarantined,
        "identities_in_store": in_store,
        "warnings": report.warnings,
        "quarantine_reasons": report.quarantine_reasons,
        "identities_lost_to_an_optional_field": lost,
        "status": report.status,
        "import_s": round(imported - began, 2),
        "ingest_s": round(done - imported, 2),
        "total_s": round(done - began, 2),
        "rows_per_s": round(rows / (done - imported)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    """Generate, then ingest in a child process, then print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=3, metavar=("FILE", "STORE", "DOCS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_ingest(*(Path(p) for p in args.child))))
        return
    from data.generator import generate

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        data = generate(args.identities, seed=args.seed, messages_per_identity=0)
        path = Path(tmp) / "identities.parquet"
        data.identities.write_parquet(path)
        generated = time.perf_counter() - began
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(path),
                str(Path(tmp) / "bench.duckdb"),
                str(Path(tmp) / "docs"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps({"identities": args.identities, "generate_s": round(generated, 2), **figures}, indent=2))


if __name__ == "__main__":
    main()
