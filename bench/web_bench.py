"""Web page benchmark: render times of the review queue and customer panels on a large store; prints JSON.

Builds (or, with --reuse, reuses) a store of N generated identities with their messages, matched once
so the queue has suggestions, then renders pages through the real app (TestClient: routing, session,
store connection per request, SQL, templates) and reports p50/p95/max in milliseconds.
Target (issue 15): with 1,000,000 identities, queue and panel p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_STORE = Path(__file__).resolve().parent / "out" / "web_bench" / "store.duckdb"
PASSWORD = "bench-password"


def build(store_path: Path, identities: int, seed: int) -> dict[str, Any]:
    """Generate, ingest and fully match a store; returns the build times."""
    from data.generator import generate
    from domain.settings import IngestSettings, MatchSettings
    from ingest.pipeline import ingest_file
    from matching import MatchConfig, run_match
    from store import match_runs, open_store, utcnow

    for stale in store_path.parent.glob(store_path.name + "*"):
        stale.unlink()
    store_path.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    data = generate(identities, seed=seed, messages_per_identity=1.0)
    data.identities.write_parquet(store_path.parent / "identities.parquet")
    data.messages.write_parquet(store_path.parent / "messages.parquet")
    generated = time.perf_counter()
    settings = IngestSettings(data_docs_dir=store_path.parent / "docs")
    with open_store(store_path) as store:
        for name, kind in (("identities.parquet", "identities"), ("messages.parquet", "messages")):
            report = ingest_file(store, store_path.parent / name, settings, kind=kind)
            if report.status != "loaded":
                raise SystemExit(f"ingest of {name} failed: {report.error}")
    ingested = time.perf_counter()
    started = utcnow()
    with open_store(store_path) as store:
        frame, _changed, excluded = match_runs.load_match_input(store)
    result = run_match(frame, MatchConfig.from_settings(MatchSettings()), excluded_customer_ids=excluded)
    with open_store(store_path) as store:
        match_runs.save_match_result(
            store,
            result,
            "full",
            started,
            utcnow(),
            scored_ids=frame["identity_id"],
            identities_total=frame.height,
        )
    matched = time.perf_counter()
    return {
        "generate_s": round(generated - began, 1),
        "ingest_s": round(ingested - generated, 1),
        "match_s": round(matched - ingested, 1),
    }


def _ensure_user(store_path: Path) -> None:
    from store import open_store
    from store import users as store_users
    from web.auth import hash_password

    with open_store(store_path) as store:
        if store_users.get_user(store, "bench") is None:
            store_users.add_user(store, "bench", "admin", hash_password(PASSWORD), created_by="bench")


def _timed(client: Any, urls: list[str]) -> dict[str, float]:
    times = []
    for url in urls:
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200 or "The store is busy" in response.text or "Log in" in response.text:
            raise SystemExit(f"{url} answered {response.status_code}")
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(0.95 * len(times)) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def measure(store_path: Path, samples: int, seed: int) -> dict[str, Any]:
    """Render the queue (pages, filters) and random customers' panels; returns the timings."""
    from fastapi.testclient import TestClient

    from domain.settings import Settings
    from store import open_store
    from web.app import create_app

    _ensure_user(store_path)
    with open_store(store_path) as store:
        counts = {
            "identities": store.scalar("SELECT count(*) FROM identities"),
            "customers": store.scalar("SELECT count(*) FROM customers"),
            "messages": store.scalar("SELECT count(*) FROM messages"),
            "pending_suggestions": store.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'"),
        }
        customer_ids = [
            r["customer_id"]
            for r in store.rows(
                f"SELECT customer_id FROM customers WHERE status = 'active' "
                f"USING SAMPLE reservoir({int(samples)} ROWS) REPEATABLE ({int(seed)})"
            )
        ]
        channels = [r["channel"] for r in store.rows("SELECT DISTINCT channel FROM identities")]
    rng = random.Random(seed)
    settings = Settings(store=store_path)
    with TestClient(create_app(settings, drain=False)) as client:
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        form = {"username": "bench", "password": PASSWORD, "login_token": token.group(1) if token else ""}
        if "Review queue" not in client.post("/login", data=form).text:
            raise SystemExit("could not log in as the bench user")
        per_kind = max(10, samples // 4)
        by_kind = {
            "first_page": ["/queue"] * per_kind,
            "page_2": ["/queue?page=2"] * per_kind,
            "band": ["/queue?band=review"] * per_kind,
            "channel": [f"/queue?channel={rng.choice(channels)}" for _ in range(per_kind)],
        }
        queue_urls = [url for urls in by_kind.values() for url in urls]
        rng.shuffle(queue_urls)
        tabs = ["summary", "profile", "conversations", "messages", "identities", "actions"]
        _timed(client, queue_urls[:10] + [f"/customers/{c}/summary" for c in customer_ids[:10]])  # warm up
        figures = {
            "queue": _timed(client, queue_urls),
            "queue_by_kind": {kind: _timed(client, urls) for kind, urls in by_kind.items()},
            "panel_summary": _timed(client, [f"/customers/{c}/summary" for c in customer_ids]),
            "panel_any_tab": _timed(client, [f"/customers/{c}/{rng.choice(tabs)}" for c in customer_ids]),
            "search": _timed(
                client,
                [
                    f"/search?q={rng.choice(['smith', 'jones', '@gmail.com', '447700'])}"
                    for _ in range(max(10, samples // 10))
                ],
            ),
        }
    return {**counts, **figures}


def main() -> None:
    """Build or reuse the store, then print the render figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--reuse", action="store_true", help="Reuse the store at --store when it exists.")
    parser.add_argument("--samples", type=int, default=200, help="Pages rendered per measurement.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    built = None
    if not (args.reuse and args.store.exists()):
        built = build(args.store, args.identities, args.seed)
    figures = measure(args.store, args.samples, args.seed)
    print(json.dumps({"store": str(args.store), "build": built, **figures}, indent=2))


if __name__ == "__main__":
    main()
