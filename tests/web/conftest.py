"""Fixtures for the web page: one small matched store built per session, copied per test; accounts; a client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.generator import generate
from domain.settings import IngestSettings, Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from store import match_runs, open_store, utcnow
from store import users as store_users
from tests.web.pages import PASSWORD
from web.app import create_app
from web.auth import hash_password

ACCOUNTS = {"alice": "agent", "carol": "compliance", "adam": "admin"}


@pytest.fixture(scope="session")
def matched_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 400 generated identities with messages, matched once, with three accounts."""
    folder = tmp_path_factory.mktemp("web-template")
    data = generate(400, seed=11, messages_per_identity=1.5)
    data.identities.write_parquet(folder / "identities.parquet")
    data.messages.write_parquet(folder / "messages.parquet")
    ingest = IngestSettings(data_docs_dir=folder / "docs", landing_dir=folder / "landing")
    path = folder / "store.duckdb"
    with open_store(path) as store:
        for name, kind in (("identities.parquet", "identities"), ("messages.parquet", "messages")):
            report = ingest_file(store, folder / name, ingest, kind=kind)
            assert report.status == "loaded", report.error
        started = utcnow()
        identities, _changed, excluded = match_runs.load_match_input(store)
        result = run_match(
            identities, MatchConfig.from_settings(Settings().match), excluded_customer_ids=excluded
        )
        match_runs.save_match_result(
            store, result, "full", started, utcnow(), scored_ids=identities["identity_id"],
            identities_total=identities.height,
        )  # fmt: skip
        assert store.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'") >= 3
        for name, role in ACCOUNTS.items():
            store_users.add_user(store, name, role, hash_password(PASSWORD), created_by="test")
    return path


@pytest.fixture
def web_settings(tmp_path: Path, matched_store_template: Path) -> Settings:
    """Settings over a private copy of the matched store, with short waits."""
    path = tmp_path / "store.duckdb"
    shutil.copy(matched_store_template, path)
    settings = Settings(store=path, ingest=IngestSettings(data_docs_dir=tmp_path / "docs"))
    settings.web.read_wait_s = 0.5
    settings.web.write_wait_s = 0.5
    settings.compliance.export_dir = tmp_path / "exports"
    return settings


@pytest.fixture
def client(web_settings: Settings) -> Iterator[TestClient]:
    """A client of the app (outbox thread off: tests drain it themselves)."""
    with TestClient(create_app(web_settings, drain=False), follow_redirects=True) as test_client:
        yield test_client
