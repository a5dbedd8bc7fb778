from pathlib import Path

import pytest
from typer.testing import CliRunner

from idres.cli import demo as demo_module
from idres.cli.app import app
from store import open_store


@pytest.mark.slow
def test_demo_runs_every_flow_and_ends_with_a_bundle_and_an_erasure(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_module, "DATA_DIR", tmp_path / "data")
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("IDRES_COMPLIANCE__EXPORT_DIR", str(tmp_path / "exports"))
    store = tmp_path / "store.duckdb"
    result = CliRunner().invoke(app, ["demo", "--identities", "400", "--store", str(store)])
    assert result.exit_code == 0, result.output
    with open_store(store) as session:
        rows = session.rows("SELECT kind, status, bundle_path FROM compliance_requests ORDER BY request_id")
    # the merged customer's other candidates are confirmed away by the demo's officer: both run
    assert [(r["kind"], r["status"]) for r in rows] == [("export", "done"), ("anonymize", "done")]
    assert Path(rows[0]["bundle_path"]).exists()
