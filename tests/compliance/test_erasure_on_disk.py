"""Erasure as an attacker with the files sees it: a store large enough for DuckDB to compress strings,
and real processes killed (kill -9) at every step of an anonymization run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from compliance import erasure_run
from compliance.requests import list_requests, request_anonymization
from compliance.runner import run_anonymizations
from domain.settings import Settings
from store import Store, open_store
from tests.compliance.builders import ALICE_EMAIL, people_store
from tests.compliance.erasure_files import (
    ALICE_SPELLINGS,
    BRIAN_EMAIL,
    erasure_settings,
    leftovers,
    owned_files_under,
    plant_copies,
)
from tests.compliance.test_erasure_run import STEPS

ROOT = Path(__file__).resolve().parents[2]
IDENTITIES = 100_000


def _bulk_people(store: Store, count: int) -> None:
    """`count` more customers with one identity each, written in bulk (ingest would take minutes)."""
    with store.transaction():
        store.execute(
            """INSERT INTO customers (customer_id, status, first_name, last_name, display_name, city, postcode,
                emails, phones, created_at, updated_at)
            SELECT 100 + i, 'active', 'First' || (i % 5000), 'Last' || (i % 7919), 'First' || i || ' Last' || i,
                   'Town' || (i % 300), 'PC' || (i % 9000), ['person' || i || '@example.net'],
                   ['+4477018' || lpad(CAST(i AS VARCHAR), 5, '0')], now(), now()
            FROM range(?) r(i)""",
            [count],
        )
        store.execute(
            """INSERT INTO identities (identity_id, customer_id, channel, external_id, first_name, last_name,
                email, phone, city, postcode, email_norm, email_key, email_valid, phone_e164, phone_valid,
                first_name_norm, last_name_norm, first_name_key, last_name_key, record_hash, batch_id,
                first_seen_at, changed_at, match_pending)
            SELECT 100 + i, 100 + i, 'email', 'person' || i || '@example.net', 'First' || (i % 5000),
                   'Last' || (i % 7919), 'person' || i || '@example.net',
                   '07701 8' || lpad(CAST(i AS VARCHAR), 5, '0'), 'Town' || (i % 300), 'PC' || (i % 9000),
                   'person' || i || '@example.net', 'person' || i || '@example.net', TRUE,
                   '+4477018' || lpad(CAST(i AS VARCHAR), 5, '0'), TRUE,
                   'first' || (i % 5000), 'last' || (i % 7919), 'first' || (i % 5000), 'last' || (i % 7919),
                   md5(CAST(i AS VARCHAR)), 1, now(), now(), FALSE
            FROM range(?) r(i)""",
            [count],
        )
    store.execute("CHECKPOINT")


@pytest.mark.slow
def test_erasure_on_a_compressed_store_leaves_no_byte_of_the_person_in_any_file(
    tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    compliance, ingest = erasure_settings(tmp_path)
    before_rewrite: list[tuple[str, str]] = []

    def look(step: str, request_id: int | None) -> None:
        if step == "rewrite:copied":  # what the old file still holds after the UPDATEs
            before_rewrite.extend(leftovers([settings.store], ALICE_SPELLINGS))

    with people_store(tmp_path, settings, tmp_path_factory) as store:
        _bulk_people(store, IDENTITIES)
        assert store.scalar("SELECT count(*) FROM identities") >= IDENTITIES
        copies = plant_copies(store, ingest)
        request = request_anonymization(store, "dpo", email=ALICE_EMAIL)
        erasure_run.STEP_HOOK = look
        try:
            summary = run_anonymizations(store, compliance, "anonymize-flow", ingest=ingest)
        finally:
            erasure_run.STEP_HOOK = None
        assert summary["failed"] == [] and summary["done"] == [request["request_id"]], summary["failed"]
        # someone else's values stay: in the store (read through SQL: DuckDB compresses them) and in the files
        assert (
            store.scalar("SELECT count(*) FROM identities WHERE email_norm = 'person77777@example.net'") == 1
        )
        assert store.scalar("SELECT count(*) FROM identities WHERE email_norm = ?", [BRIAN_EMAIL]) == 1
    assert before_rewrite, "the old store file held no plain copy: this test would prove nothing"
    files = owned_files_under(tmp_path)
    assert settings.store in files and copies["outbox"] in files and copies["csv"] in files
    assert leftovers(files, ALICE_SPELLINGS) == []
    assert leftovers([copies["csv"], copies["jsonl"]], [BRIAN_EMAIL]) != []


_KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from compliance import erasure_run
from compliance.runner import run_anonymizations
from domain.settings import ComplianceSettings, IngestSettings
from store import open_store

step, store_path, root = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])


def kill(at, request_id):
    if at == step:
        os.kill(os.getpid(), signal.SIGKILL)


erasure_run.STEP_HOOK = kill
compliance = ComplianceSettings(export_dir=root / "exports", anonymization_key_file=root / "anonymization.key")
ingest = IngestSettings(data_docs_dir=root / "gx_docs", landing_dir=root / "landing")
with open_store(store_path) as store:
    run_anonymizations(store, compliance, "anonymize-flow", ingest=ingest)
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_any_step_is_finished_and_verified_by_the_next_run(
    tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory, step: str
) -> None:
    compliance, ingest = erasure_settings(tmp_path)
    with people_store(tmp_path, settings, tmp_path_factory) as store:
        plant_copies(store, ingest)
        alice = request_anonymization(store, "dpo", customer_id=1)["request_id"]
        chloe = request_anonymization(store, "dpo", customer_id=4)["request_id"]
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, step, str(settings.store), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with open_store(settings.store) as store:
        statuses = {r["request_id"]: r["status"] for r in list_requests(store, kind="anonymize")}
        assert set(statuses.values()) <= {"pending", "erasing", "done"}, statuses  # never failed
        summary = run_anonymizations(store, compliance, "anonymize-flow", ingest=ingest)
        assert summary["failed"] == [], summary
        statuses = {r["request_id"]: r["status"] for r in list_requests(store, kind="anonymize")}
        assert statuses == {alice: "done", chloe: "done"}
    assert leftovers(owned_files_under(tmp_path), ALICE_SPELLINGS) == []
