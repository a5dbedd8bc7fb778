"""The `export` and `anonymize` flows end to end on a tiny store, under a temporary Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.requests import get_request, request_anonymization, request_export
from domain.settings import Settings
from flows.anonymize import anonymize_flow
from flows.export import export_flow
from store import open_store, utcnow
from tests.compliance.builders import ALICE_EMAIL, people_store


@pytest.fixture
def people(tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory,
           monkeypatch: pytest.MonkeyPatch) -> Settings:  # fmt: skip
    with people_store(tmp_path, settings, tmp_path_factory):
        pass
    monkeypatch.setenv("IDRES_COMPLIANCE__EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("IDRES_COMPLIANCE__ANONYMIZATION_KEY_FILE", str(tmp_path / "anonymization.key"))
    return settings


@pytest.mark.slow
def test_export_then_anonymize_flows(people: Settings, prefect_harness: None) -> None:
    from prefect.artifacts import Artifact

    with open_store(people.store) as store:
        exported = request_export(store, "dpo", customer_id=1)
        erased = request_anonymization(store, "dpo", email=ALICE_EMAIL)
    summary = export_flow(store=str(people.store))
    [bundle] = summary["bundles"]
    assert Path(bundle["path"]).exists()
    assert bundle["path"] in str(getattr(Artifact.get("export-summary"), "data", ""))
    summary = anonymize_flow(store=str(people.store))
    assert summary["done"] == [erased["request_id"]] and not Path(bundle["path"]).exists()
    report = str(getattr(Artifact.get("anonymize-summary"), "data", ""))
    assert "1 request(s) done" in report and "alice" not in report.lower()
    with open_store(people.store) as store:
        assert (get_request(store, exported["request_id"]) or {})[
            "status"
        ] == "deleted"  # its bundle went with the erasure
        assert (get_request(store, erased["request_id"]) or {})["status"] == "done"


@pytest.mark.slow
def test_anonymize_flow_fails_loudly_when_the_verification_finds_a_leftover(
    people: Settings, prefect_harness: None
) -> None:
    with open_store(people.store) as store:
        with store.transaction():
            store.execute(  # a note on a merge of other people: erasure does not scrub those, verification finds it
                """INSERT INTO merges (merge_id, survivor_id, absorbed_id, kind, requested_by, applied_by,
                    applied_at, before_image, comment) VALUES (9, 3, 4, 'manual', 'sam', 'sam', ?, '{}', ?)""",
                [utcnow(), ALICE_EMAIL],
            )
        request = request_anonymization(store, "dpo", customer_id=1)
    with pytest.raises(RuntimeError, match=f"request\\(s\\) {request['request_id']} failed"):
        anonymize_flow(store=str(people.store))
    with open_store(people.store) as store:
        assert (get_request(store, request["request_id"]) or {})["status"] == "incomplete"


@pytest.mark.slow
def test_anonymize_flow_artifacts_and_logs_carry_no_personal_data(
    people: Settings, prefect_harness: None, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.artifacts import Artifact

    from tests.compliance.erasure_files import ALICE_SPELLINGS

    with open_store(people.store) as store:
        with store.transaction():  # a locked customer whose lock reason names Alice: the request waits
            store.execute(
                "UPDATE customers SET locked = TRUE, lock_reason = ?, locked_by = 'sam' WHERE customer_id = 3",
                [f"Brian asked about {ALICE_EMAIL}"],
            )
        request_anonymization(store, "dpo", email=ALICE_EMAIL)
        request_anonymization(store, "dpo", customer_id=3)
    caplog.set_level("INFO")
    summary = anonymize_flow(store=str(people.store))
    assert len(summary["done"]) == 1 and len(summary["waiting"]) == 1
    published = " ".join(
        str(getattr(Artifact.get(key), "data", "")) for key in ("anonymize-summary", "anonymize-requests")
    ).lower()
    assert "waiting" in published and "anonymized and verified" in caplog.text
    for value in ALICE_SPELLINGS:
        assert value.lower() not in published and value.lower() not in caplog.text.lower(), value
