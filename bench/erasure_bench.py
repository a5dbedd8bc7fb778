"""Erasure benchmark: one anonymization run on a store of N identities (default 1M); prints JSON.

The store is built in bulk with SQL (customers, one identity each, two messages each), then one
person is erased through the whole run: erase, outbox compaction, store rewrite (copy into a fresh
file, fsync, swap, zero the old file) and the verification (every text column, every owned file's
bytes). Reported: the rewrite's phases (`copy_s`, `swap_s`, `shred_s`), file sizes and the run's total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(store_path: Path, identities: int) -> float:
    """A store of `identities` customers with one identity and two messages each; returns seconds."""
    from store import open_store

    began = time.perf_counter()
    with open_store(store_path) as store, store.transaction():
        store.execute(
            """INSERT INTO customers (customer_id, status, first_name, last_name, display_name, city, postcode,
                emails, phones, created_at, updated_at)
            SELECT i, 'active', 'First' || (i % 5000), 'Last' || (i % 7919), 'First' || i || ' Last' || i,
                   'Town' || (i % 300), 'PC' || (i % 9000), ['person' || i || '@example.net'],
                   ['+4477' || lpad(CAST(i AS VARCHAR), 8, '0')], now(), now()
            FROM range(1, ? + 1) r(i)""",
            [identities],
        )
        store.execute(
            """INSERT INTO identities (identity_id, customer_id, channel, external_id, first_name, last_name,
                email, phone, city, postcode, email_norm, email_key, email_valid, phone_e164, phone_valid,
                first_name_norm, last_name_norm, first_name_key, last_name_key, record_hash, batch_id,
                first_seen_at, changed_at, match_pending)
            SELECT i, i, 'email', 'person' || i || '@example.net', 'First' || (i % 5000), 'Last' || (i % 7919),
                   'person' || i || '@example.net', '077 ' || lpad(CAST(i AS VARCHAR), 8, '0'), 'Town' || (i % 300),
                   'PC' || (i % 9000), 'person' || i || '@example.net', 'person' || i || '@example.net', TRUE,
                   '+4477' || lpad(CAST(i AS VARCHAR), 8, '0'), TRUE, 'first' || (i % 5000), 'last' || (i % 7919),
                   'first' || (i % 5000), 'last' || (i % 7919), md5(CAST(i AS VARCHAR)), 1, now(), now(), FALSE
            FROM range(1, ? + 1) r(i)""",
            [identities],
        )
        store.execute(
            """INSERT INTO conversations (conversation_id, identity_id, channel, thread_id, title, created_at,
                last_message_at, batch_id)
            SELECT i, i, 'email', 'th-' || i, NULL, now(), now(), 1 FROM range(1, ? + 1) r(i)""",
            [identities],
        )
        store.execute(
            """INSERT INTO messages (message_id, conversation_id, external_message_id, identity_id, author_kind,
                agent_name, body, created_at, record_hash, batch_id, anonymized)
            SELECT i, (i + 1) // 2, 'm-' || i, (i + 1) // 2, CASE WHEN i % 2 = 0 THEN 'agent' ELSE 'customer' END,
                   CASE WHEN i % 2 = 0 THEN 'sam' END, 'Message ' || i || ' about order ' || (i * 7919 % 100000),
                   now(), md5(CAST(i AS VARCHAR)), 1, FALSE
            FROM range(1, 2 * ? + 1) r(i)""",
            [identities],
        )
    return time.perf_counter() - began


def main() -> None:
    """Build the store, erase one person through a full run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to build the store (default: a temp dir)"
    )
    args = parser.parse_args()
    from compliance.requests import request_anonymization
    from compliance.runner import run_anonymizations
    from domain.settings import ComplianceSettings, IngestSettings
    from store import open_store

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        root = Path(folder)
        store_path = root / "store.duckdb"
        build_s = build(store_path, args.identities)
        compliance = ComplianceSettings(export_dir=root / "exports", anonymization_key_file=root / "key")
        ingest = IngestSettings(data_docs_dir=root / "gx_docs", landing_dir=root / "landing")
        with open_store(store_path) as store:
            request_anonymization(store, "bench", customer_id=args.identities // 2)
            began = time.perf_counter()
            summary = run_anonymizations(store, compliance, "bench", ingest=ingest)
            run_s = time.perf_counter() - began
        rewrite = summary["rewrite"] or {}
        print(
            json.dumps(
                {
                    "identities": args.identities,
                    "messages": 2 * args.identities,
                    "build_s": round(build_s, 2),
                    "run_s": round(run_s, 2),
                    "rewrite_s": round(
                        rewrite.get("copy_s", 0) + rewrite.get("swap_s", 0) + rewrite.get("shred_s", 0), 2
                    ),
                    "rewrite": rewrite,
                    "store_mb_before": round(rewrite.get("bytes_before", 0) / 2**20, 1),
                    "store_mb_after": round(rewrite.get("bytes_after", 0) / 2**20, 1),
                    "done": summary["done"],
                    "failed": summary["failed"],
                }
            )
        )


if __name__ == "__main__":
    main()
