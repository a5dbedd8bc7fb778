"""Helpers for erasure tests: a store with every kind of copy idres keeps, and a byte search of them all."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from domain.settings import ComplianceSettings, IngestSettings
from store import Store, utcnow
from tests.compliance.builders import ALICE_EMAIL, ALICE_PHONE, compliance_settings

# every spelling of Alice's identifiers and name that must be gone from every file
ALICE_SPELLINGS = (
    ALICE_EMAIL, ALICE_PHONE, ALICE_PHONE.lstrip("+"), "07700 900001", "07700900001", "+44 7700 900001",
    "c-alice-77", "alice moss", "alicemoss",
)  # fmt: skip
BRIAN_EMAIL = "brian.novak@example.org"


def erasure_settings(tmp_path: Path) -> tuple[ComplianceSettings, IngestSettings]:
    """Compliance and ingest settings with every folder under tmp_path."""
    return compliance_settings(tmp_path), IngestSettings(
        data_docs_dir=tmp_path / "gx_docs", landing_dir=tmp_path / "landing"
    )


def plant_copies(store: Store, ingest: IngestSettings) -> dict[str, Path]:
    """Kept landing copies (CSV, JSON Lines, Parquet) and queued web actions holding Alice and Brian."""
    from web.gate import Outbox

    day = ingest.landing_dir / "processed" / "2024-03-01"
    day.mkdir(parents=True)
    csv = day / "identities.csv"
    csv.write_text(
        "channel,external_id,first_name,last_name,email,phone,note\n"
        f'email,{ALICE_EMAIL},Alice,Moss,{ALICE_EMAIL},{ALICE_PHONE},"two\nlines"\n'
        f"email,{BRIAN_EMAIL},Brian,Novak,{BRIAN_EMAIL},,\n"
        'chat,c-alice-77,Alice,Moss,,07700 900001,""\n',
        encoding="utf-8",
    )
    jsonl = day / "messages.jsonl"
    jsonl.write_text(
        json.dumps({"external_id": ALICE_EMAIL, "body": "hi"}) + "\n"
        + json.dumps({"external_id": BRIAN_EMAIL, "body": "hello"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    parquet = day / "more.parquet"
    pl.DataFrame({"external_id": ["c-alice-77", BRIAN_EMAIL], "phone": ["07700 900001", None]}).write_parquet(
        parquet
    )
    outbox = Outbox(store.path.with_name(store.path.name + ".outbox.sqlite"))
    outbox.add("sam", "comment", {"customer_id": 1, "text": f"Alice Moss: {ALICE_EMAIL}, {ALICE_PHONE}"})
    outbox.add("sam", "comment", {"customer_id": 3, "text": "Brian says Alice rang from 07700 900001"})
    with store.transaction():  # another customer's note with Alice's number in national format
        store.execute(
            "INSERT INTO comments VALUES (7, 3, NULL, 'sam', ?, ?)", ["Alice is on 07700 900001", utcnow()]
        )
    return {"csv": csv, "jsonl": jsonl, "parquet": parquet, "outbox": outbox.path}


def owned_files_under(root: Path) -> list[Path]:
    """Every file under tmp_path idres may have written (the test's own inputs are elsewhere)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("input-"))


def leftovers(paths: Iterable[Path], values: Iterable[str]) -> list[tuple[str, str]]:
    """(file, value) for every value found, case-folded, in the raw bytes of the files."""
    found = []
    forms = [value.lower().encode() for value in values]
    for path in paths:
        data = path.read_bytes().lower()
        found += [(str(path), form.decode()) for form in forms if form in data]
    return found


def modes(paths: Iterable[Path]) -> dict[str, int]:
    """The permission bits of files."""
    return {str(path): os.stat(path).st_mode & 0o777 for path in paths}
