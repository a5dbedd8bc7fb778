"""Apply-merges and bulk-approve benchmark on a large store; prints JSON.

Builds (or, with --reuse, reuses) a store of N identities, one customer each, written directly with
SQL (names, e-mails, phones, cities; a share with agent edits and comments), plus M pending
suggestions over random customer pairs (chains and repeats included, as match runs leave them) and
a few cannot-links and locked customers. Then it times, end to end through the service functions:
  1. bulk approve of every pending suggestion at >= 0.5 (`review.decisions.bulk_approve`);
  2. the apply-merges run over all of them (`review.merging.apply_approved`);
  3. undo of a sample of merges, checking each restores the store exactly (identities back, the
     absorbed customer's row as its before-image, the survivor's as before when it was unchanged).
Targets (issue 15): 100,000 approvals applied on a 1,000,000-identity store in under 60 s; bulk
approve of 100,000 in under 10 s; undo exact.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_STORE = Path(__file__).resolve().parent / "out" / "apply_bench" / "store.duckdb"


def build(path: Path, identities: int, suggestions: int, seed: int) -> dict[str, Any]:
    """A store of `identities` one-identity customers and `suggestions` pending pairs (SQL-generated)."""
    import polars as pl

    from store import open_store

    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with open_store(path) as store, store.transaction():
        store.execute(
            f"""INSERT INTO identities (identity_id, customer_id, channel, external_id, first_name, last_name,
                display_name, email, phone, city, country, email_norm, email_valid, email_key, phone_e164,
                phone_valid, first_name_norm, last_name_norm, display_name_norm, first_name_key, last_name_key,
                city_norm, country_norm, record_hash, batch_id, first_seen_at, changed_at, updated_at,
                match_pending, anonymized)
            SELECT i, i, ['email', 'chat', 'sms', 'twitter'][1 + i % 4], 'ext-' || i,
                ['Ann', 'Bob', 'Cara', 'Dev', 'Eli'][1 + i % 5], 'Name' || (i % 50000),
                ['Ann', 'Bob', 'Cara', 'Dev', 'Eli'][1 + i % 5] || ' Name' || (i % 50000),
                'user' || i || '@example.com', '+4477009' || lpad(CAST(i % 100000 AS VARCHAR), 5, '0'),
                ['Leeds', 'York', 'Bath'][1 + i % 3], 'GB',
                'user' || i || '@example.com', TRUE, 'user' || i || '@example.com',
                '+4477009' || lpad(CAST(i % 100000 AS VARCHAR), 5, '0'), TRUE,
                lower(['Ann', 'Bob', 'Cara', 'Dev', 'Eli'][1 + i % 5]), 'name' || (i % 50000), NULL,
                lower(['Ann', 'Bob', 'Cara', 'Dev', 'Eli'][1 + i % 5]), 'name' || (i % 50000),
                lower(['Leeds', 'York', 'Bath'][1 + i % 3]), 'GB', md5(CAST(i AS VARCHAR)), 1,
                TIMESTAMP '2024-01-01' + INTERVAL (i % 1000) MINUTE, TIMESTAMP '2024-01-01',
                TIMESTAMP '2024-01-01' + INTERVAL (i % 5000) MINUTE, FALSE, FALSE
            FROM range(1, {identities + 1}) t(i)"""
        )
        store.execute(
            """INSERT INTO customers (customer_id, status, first_name, last_name, display_name, city, country,
                emails, phones, profile_sources, agent_edited, locked, created_at, updated_at)
            SELECT customer_id, 'active', first_name, last_name, display_name, city, country, [email_norm],
                [phone_e164], '{}', CASE WHEN identity_id % 97 = 0 THEN ['city'] ELSE [] END, FALSE,
                first_seen_at, first_seen_at FROM identities"""
        )
        store.execute(
            f"""INSERT INTO comments (comment_id, customer_id, conversation_id, agent, body, created_at)
            SELECT i, i * 7, NULL, 'bench', 'called back', TIMESTAMP '2024-02-01' FROM range(1, {identities // 7}) t(i)"""
        )
        rng = random.Random(seed)
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < suggestions:
            a = rng.randint(1, identities)
            # a third of the pairs chain onto an earlier customer (A-B, B-C), as a person's several ids do
            b = a + rng.randint(1, 3) if rng.random() < 0.33 else rng.randint(1, identities)
            if a != b and b <= identities:
                pairs.add((min(a, b), max(a, b)))
        ordered = sorted(pairs, key=lambda _: rng.random())
        frame = pl.DataFrame(
            {
                "suggestion_id": list(range(1, len(ordered) + 1)),
                "customer_id_l": [p[0] for p in ordered],
                "customer_id_r": [p[1] for p in ordered],
                "probability": [round(0.5 + 0.4999 * rng.random(), 4) for _ in ordered],
            }
        )
        with store.registered("bench_pairs", frame):
            store.execute(
                """INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, identity_id_l, identity_id_r,
                    probability, match_weight, band, status, related_only, evidence, evidence_hash, created_at,
                    updated_at)
                SELECT suggestion_id, customer_id_l, customer_id_r, customer_id_l, customer_id_r, probability, 9.5,
                    'review', 'pending', FALSE, '[{"field": "last_name", "level": "exact", "weight": 4.0}]', 'h',
                    now(), now() FROM bench_pairs"""
            )
        # a few agent decisions the run must respect
        for left, right in ordered[:: max(1, len(ordered) // 200)][:200]:
            store.execute(
                "INSERT INTO cannot_links VALUES (?, ?, NULL, 'bench', now(), 'different people') ON CONFLICT DO NOTHING",
                [left, right + 1 if right + 1 <= identities else right - 1],
            )
        store.execute(
            "UPDATE customers SET locked = TRUE, lock_reason = 'bench', locked_by = 'bench', locked_at = now() "
            "WHERE customer_id % 5003 = 0"
        )
    return {"build_s": round(time.perf_counter() - began, 1)}


def run(path: Path, undo_sample: int, seed: int) -> dict[str, Any]:
    """Bulk approve, apply, then undo a sample of merges; times and checks."""
    from domain.settings import ReviewSettings
    from review import decisions, merging
    from store import open_store

    review = ReviewSettings()
    figures: dict[str, Any] = {}
    with open_store(path) as store:
        figures["identities"] = int(store.scalar("SELECT count(*) FROM identities"))
        figures["pending"] = int(store.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'"))
        began = time.perf_counter()
        approved = decisions.bulk_approve(store, "bench", 0.5)
        figures["bulk_approve_s"] = round(time.perf_counter() - began, 2)
        figures["approved"] = sum(1 for r in approved if r["outcome"] == "approved")
        figures["bulk_skipped"] = sum(1 for r in approved if r["outcome"] != "approved")
        before = _snapshot(store)
        began = time.perf_counter()
        report = merging.apply_approved(store, "bench", review)
        figures["apply_s"] = round(time.perf_counter() - began, 2)
        for key in ("approved_seen", "merges_applied", "held_back", "superseded"):
            figures[key] = report[key]
        figures["already_joined"] = len(report["already_joined"])
        orphans = store.scalar(
            "SELECT count(*) FROM identities i JOIN customers c USING (customer_id) WHERE c.status = 'merged'"
        )
        figures["orphan_identities"] = int(orphans)
        # undo merges of plain pairs (neither customer in another merge of the run): the store must be
        # exactly as before the run for both customers
        seen: dict[int, int] = {}
        for m in report["merges"]:
            for c in (m["survivor_id"], m["absorbed_id"]):
                seen[c] = seen.get(c, 0) + 1
        plain = [m for m in report["merges"] if seen[m["survivor_id"]] == seen[m["absorbed_id"]] == 1]
        merges = random.Random(seed).sample(plain, min(undo_sample, len(plain)))
        began = time.perf_counter()
        exact = 0
        for merge in merges:
            undone = merging.undo_merge(store, merge["merge_id"], "bench", review_settings=review)
            exact += undone["survivor_profile"].startswith("exactly")
        figures["undo_s_each"] = round((time.perf_counter() - began) / max(1, len(merges)), 3)
        figures["undone"] = len(merges)
        figures["undo_survivor_exact"] = exact
        after = _snapshot(store, [c for m in merges for c in (m["survivor_id"], m["absorbed_id"])])
        wanted = {c: before[c] for c in after}
        figures["undo_exact"] = after == wanted
    return figures


def _snapshot(store: Any, only: list[int] | None = None) -> dict[int, Any]:
    """Each customer's profile columns and identity ids (for the undo check)."""
    where = f"WHERE c.customer_id IN ({', '.join(map(str, only))})" if only else ""
    rows = store.rows(
        f"""SELECT c.customer_id, c.status, c.merged_into, c.first_name, c.last_name, c.city, c.emails, c.phones,
               c.agent_edited, list(i.identity_id ORDER BY i.identity_id) AS identities
        FROM customers c LEFT JOIN identities i USING (customer_id) {where} GROUP BY ALL"""
    )
    return {int(r["customer_id"]): r for r in rows}


def main() -> None:
    """Parse arguments, build or reuse the store, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--suggestions", type=int, default=100_000)
    parser.add_argument("--undo-sample", type=int, default=200)
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--reuse", action="store_true", help="reuse a store built before (copy it first)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.reuse:
        figures |= build(args.store, args.identities, args.suggestions, args.seed)
    figures |= run(args.store, args.undo_sample, args.seed)
    figures["targets"] = {"apply_s": 60, "bulk_approve_s": 10}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
