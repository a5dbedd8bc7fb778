"""`idres export|anonymize request`, `requests list`, `export run` and `export decrypt` on a small store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.requests import request_export
from compliance.runner import run_exports
from domain.settings import Settings
from idres.cli.app import app
from store import open_store
from tests.compliance.builders import ALICE_EMAIL, compliance_settings, people_store
from tests.idres.cli.invoke import invoke


@pytest.fixture
def people(tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with people_store(tmp_path, settings, tmp_path_factory):
        pass
    return settings.store


def test_request_by_email_and_list_as_json(people: Path) -> None:
    out = invoke(["anonymize", "request", "--email", ALICE_EMAIL.upper(), "--requested-by", "dpo",
                   "--reason", "letter 12", "--store", str(people)])  # fmt: skip
    assert "request 1 queued: anonymize of customer(s) 1" in out
    invoke(["export", "request", "--customer", "3", "--requested-by", "dpo", "--store", str(people)])
    listed = json.loads(invoke(["requests", "list", "--store", str(people), "--format", "json"]))
    assert [(r["request_id"], r["kind"], r["status"]) for r in listed] == [(2, "export", "pending"),
                                                                            (1, "anonymize", "pending")]  # fmt: skip
    only = json.loads(
        invoke(["requests", "list", "--kind", "export", "--store", str(people), "--format", "json"])
    )
    assert [r["request_id"] for r in only] == [2]
    assert "dpo" in invoke(["requests", "list", "--store", str(people)])


def test_request_for_an_unknown_person_exits_non_zero_and_is_listed(people: Path) -> None:
    out = invoke(["export", "request", "--phone", "+447700999999", "--requested-by", "dpo", "--store",
                   str(people)], code=1)  # fmt: skip
    assert "not_found" in out and "nobody with that phone number" in out
    listed = json.loads(invoke(["requests", "list", "--status", "not_found", "--store", str(people), "--format",
                                 "json"]))  # fmt: skip
    assert len(listed) == 1
    invoke(["requests", "list", "--status", "lost", "--store", str(people)], code=1)


def test_decrypt_checks_and_unpacks_a_bundle(
    people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(people) as store:
        request_export(store, "dpo", customer_id=1)
        [bundle] = run_exports(store, compliance_settings(tmp_path, export_passphrase="pw 1"), "t")["bundles"]
    out = invoke(
        ["export", "decrypt", bundle["path"], "--out", str(tmp_path / "opened"), "--passphrase", "pw 1"]
    )
    assert "files checked" in out
    record = json.loads((tmp_path / "opened" / "record.json").read_text())
    assert record["customer_ids"] == [1, 2]
    wrong = invoke(
        ["export", "decrypt", bundle["path"], "--out", str(tmp_path / "x"), "--passphrase", "no"], 1
    )
    assert "wrong passphrase" in wrong


@pytest.mark.slow
def test_export_run_and_anonymize_run(people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      prefect_harness: None) -> None:  # fmt: skip
    monkeypatch.setenv("IDRES_COMPLIANCE__EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("IDRES_COMPLIANCE__ANONYMIZATION_KEY_FILE", str(tmp_path / "key"))
    invoke(["export", "request", "--customer", "1", "--requested-by", "dpo", "--store", str(people)])
    out = invoke(["export", "run", "--store", str(people)])
    assert "1 bundle(s) produced" in out and str(tmp_path / "exports") in out
    invoke(["anonymize", "request", "--customer", "1", "--requested-by", "dpo", "--store", str(people)])
    out = invoke(["anonymize", "run", "--store", str(people), "--format", "json"])
    assert json.loads(out)["done"] == [2]


def test_a_person_in_several_customers_is_shown_with_why_and_confirmed(people: Path) -> None:
    with open_store(people) as store:  # Brian's identity also carries Alice's address
        store.execute("UPDATE identities SET email_norm = ? WHERE customer_id = 3", [ALICE_EMAIL])
    out = invoke(
        ["anonymize", "request", "--email", ALICE_EMAIL, "--requested-by", "dpo", "--store", str(people)]
    )
    assert "2 customers may be this person" in out and "holds the e-mail address" in out
    assert "idres requests confirm 1" in out
    shown = json.loads(invoke(["requests", "show", "1", "--store", str(people), "--format", "json"]))
    assert [c["customer_id"] for c in shown["candidates"]] == [1, 3] and shown[
        "status"
    ] == "needs_confirmation"
    invoke(["requests", "confirm", "1", "--customers", "9", "--confirmed-by", "dpo", "--store", str(people)],
            code=1)  # fmt: skip
    out = invoke(["requests", "confirm", "1", "--customers", "1,3", "--confirmed-by", "dpo", "--store",
                   str(people)])  # fmt: skip
    assert "confirmed for customers 1, 3: pending" in out
    direct = json.loads(invoke(["export", "request", "--email", ALICE_EMAIL, "--requested-by", "dpo", "--yes",
                                 "--store", str(people), "--format", "json"]))  # fmt: skip
    assert direct["status"] == "pending" and direct["customer_ids"] == [1, 3]
    listed = invoke(["requests", "list", "--search", "#3", "--store", str(people)])
    assert "1, 3" in listed


@pytest.mark.slow
def test_a_failed_request_is_said_not_shown_as_a_bug(
    people: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    blocked = tmp_path / "exports"
    blocked.write_text("a file where the export folder should be", encoding="utf-8")
    monkeypatch.setenv("IDRES_COMPLIANCE__EXPORT_DIR", str(blocked))
    invoke(["export", "request", "--customer", "1", "--requested-by", "dpo", "--store", str(people)])
    result = CliRunner().invoke(app, ["export", "run", "--store", str(people)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, not a bug
    assert "error: export run failed: export request(s) 1 failed" in " ".join(result.stderr.split())
