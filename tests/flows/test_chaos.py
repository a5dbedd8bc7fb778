"""The chaos suite, bounded: every flow killed (SIGKILL or SIGINT) at a random point while the page is
used, re-run, and checked (tests/chaos_harness.py; `bench/chaos_bench.py` runs many more iterations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.settings import IngestSettings, Settings
from tests.chaos_harness import FLOWS, Chaos, iterate
from web.app import create_app

# every flow once, anonymize twice (killed with SIGKILL, then SIGINT: its re-run finishes and verifies)
KILLED = [*FLOWS, "anonymize"]


@pytest.mark.slow
def test_every_flow_killed_at_a_random_point_loses_and_duplicates_nothing(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL

    chaos = Chaos(tmp_path, seed=14, identities_per_file=60)
    chaos.env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # the session's test server
    chaos.setup_store()
    chaos.drop_file()
    for name in ("ingest", "match"):  # a store with customers and suggestions, and each flow's usual time
        rc, _, errors = chaos.run_flow(name)
        assert rc == 0, errors
    settings = Settings(
        store=chaos.store,
        ingest=IngestSettings(data_docs_dir=tmp_path / "web-docs", landing_dir=chaos.landing),
    )
    settings.compliance.export_dir = chaos.exports
    settings.web.read_wait_s = settings.web.write_wait_s = 0.3  # wait little: overlap shows as busy/queued
    with TestClient(create_app(settings), follow_redirects=True) as client:
        iterations = iterate(chaos, client, iterations=len(KILLED), flows=KILLED)

    assert [i.flow for i in iterations] == KILLED
    assert {i.signal for i in iterations} == {"SIGKILL", "SIGINT"}
    assert sum(i.page_actions for i in iterations) > 0
    assert [(i.flow, i.problems) for i in iterations if i.problems] == []
