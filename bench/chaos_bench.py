"""Chaos bench: many rounds of killing flows (SIGKILL, SIGINT) at random points with the page in use; prints JSON.

Each round drops a file or queues requests, kills one flow (in turn: ingest, match, apply-merges, export,
anonymize) after a random part of its usual run time, re-runs it to the end and checks that the store
opens, counts add up, nothing is duplicated or lost and every page action took effect exactly once
(see tests/chaos_harness.py). Starts Prefect's test server for the child flows (no network needed).

    python bench/chaos_bench.py --iterations 50 [--seed 1] [--max-minutes 60] [--out bench/out/chaos]

--max-minutes bounds the run on a shared machine: no round starts after it (the one under way ends).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--identities-per-file", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=None, help="start no round after this")
    parser.add_argument("--out", type=Path, default=None, help="keep the store and folders here")
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from domain.settings import IngestSettings, Settings
    from tests.chaos_harness import Chaos, Iteration, iterate
    from web.app import create_app

    folder = args.out or Path(tempfile.mkdtemp(prefix="idres-chaos-"))
    if folder.exists() and args.out:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with prefect_test_harness(server_startup_timeout=300):  # a loaded 2-core machine took over 120 s
        chaos = Chaos(folder, seed=args.seed, identities_per_file=args.identities_per_file)
        chaos.env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        chaos.setup_store()
        chaos.drop_file()
        for name in ("ingest", "match"):
            rc, _, errors = chaos.run_flow(name)
            if rc:
                print(json.dumps({"error": f"{name} failed before the chaos started", "detail": errors}))
                return 1
        settings = Settings(store=chaos.store, ingest=IngestSettings(data_docs_dir=folder / "web-docs"))
        settings.compliance.export_dir = chaos.exports
        settings.web.read_wait_s = settings.web.write_wait_s = 0.3

        def progress(iteration: Iteration) -> None:
            state = "ok" if not iteration.problems else f"PROBLEMS {iteration.problems}"
            print(f"# {iteration.number} {iteration.flow} {iteration.signal} after {iteration.killed_after_s}s: {state}",
                  file=sys.stderr, flush=True)  # fmt: skip

        with TestClient(create_app(settings), follow_redirects=True) as client:
            deadline = began + args.max_minutes * 60 if args.max_minutes else None
            rounds = iterate(chaos, client, args.iterations, report=progress, deadline=deadline)
    failed = [r for r in rounds if r.problems]
    print(
        json.dumps(
            {
                "iterations": len(rounds),
                "iterations_asked": args.iterations,
                "per_flow": Counter(r.flow for r in rounds),
                "per_signal": Counter(r.signal for r in rounds),
                "killed_before_the_end": sum(1 for r in rounds if r.killed_rc not in (0, None)),
                "page_actions": sum(r.page_actions for r in rounds),
                "page_outcomes": Counter(chaos.page_outcomes.values()),
                "failed_iterations": [asdict(r) for r in failed],
                "seconds": round(time.monotonic() - began, 1),
                "folder": str(folder),
            },
            indent=2,
        )
    )
    if not args.out:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
