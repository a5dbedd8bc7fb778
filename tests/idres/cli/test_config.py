"""`idres config check` and `idres config show`: effective values with their sources, and the store's columns."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.settings import Settings, load_settings
from idres.cli.app import app
from ingest.pipeline import ingest_file
from matching import MatchConfig
from store import open_store
from tests.helpers import write_csv
from tests.idres.conftest import WriteConfig

runner = CliRunner()
HEADER = ["channel", "external_id", "first_name", "last_name", "email", "soc_sec_id", "vip_no"]


@pytest.fixture
def ingested(tmp_path: Path, settings: Settings) -> Path:
    """A store of 12 identities with soc_sec_id for all and vip_no for one; returns its path."""
    rows = [
        [
            "email",
            f"p{i}@example.com",
            f"Ann{i}",
            "Lee",
            f"p{i}@example.com",
            f"55{i:05d}",
            "V1" if i == 0 else "",
        ]
        for i in range(12)
    ]
    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, rows), settings.ingest).ok
    return settings.store


def _rows(output: str) -> dict[str, dict[str, str]]:
    return {row["key"]: row for row in json.loads(output)["settings"]}


def test_check_prints_every_value_with_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    write_config(
        '[match]\nreview_threshold = 0.7\n[[match.comparisons]]\nname = "city"\nenabled = false\n',
    )
    monkeypatch.setenv("IDRES_INGEST__DEFAULT_REGION", "AU")
    store = tmp_path / "none.duckdb"
    result = runner.invoke(app, ["config", "check", "--store", str(store), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert rows["match.review_threshold"] == {
        "key": "match.review_threshold",
        "value": "0.7",
        "source": "file",
    }
    assert rows["ingest.default_region"]["value"] == "AU"
    assert rows["ingest.default_region"]["source"] == "environment"
    assert rows["store"]["source"] == "command line"
    assert rows["web.port"]["source"] == "default"
    assert rows["match.comparisons.city"]["source"] == "file"
    assert '"enabled": false' in rows["match.comparisons.city"]["value"]
    assert rows["match.comparisons.first_name"]["source"] == "default"
    report = json.loads(result.stdout)
    assert report["ok"] and "does not exist yet" in report["store"]["warnings"][0]
    text = runner.invoke(app, ["config", "check", "--store", str(store)])
    assert "match.review_threshold" in text.output and "environment" in text.output


def test_check_never_prints_secrets(tmp_path: Path, write_config: WriteConfig) -> None:
    write_config('[compliance]\nexport_passphrase = "hunter2-very-secret"\n')
    for args in (
        ["config", "check", "--format", "json"],
        ["config", "show"],
        ["config", "show", "--format", "json"],
    ):
        result = runner.invoke(app, [*args, "--store", str(tmp_path / "s.duckdb")])
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.output and "not shown" in result.output


def test_check_finds_a_misspelt_column_against_the_store(write_config: WriteConfig, ingested: Path) -> None:
    write_config(
        '[match]\n[[match.comparisons]]\nname = "ssn"\nkind = "exact"\ncolumn = "soc_secid"\n',
    )
    result = runner.invoke(app, ["config", "check", "--store", str(ingested), "--format", "json"])
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["store"]["errors"]
    assert "comparison 'ssn' reads column 'soc_secid', which no identity holds (0 of 12)" in errors[0]
    assert "did you mean 'soc_sec_id'?" in errors[0]
    assert "soc_sec_id (100%)" in errors[-1] and "first_name_key (100%)" in errors[-1]


def test_check_finds_a_misspelt_blocking_column(write_config: WriteConfig, ingested: Path) -> None:
    write_config('[match]\n[[match.blocking_rules]]\nname = "dob"\non = ["birth_date_nrom"]\n')
    result = runner.invoke(app, ["config", "check", "--store", str(ingested)])
    assert result.exit_code == 2
    assert "blocking rule 'dob' reads column 'birth_date_nrom'" in result.output
    assert "did you mean 'birth_date_norm'?" in result.output


def test_check_warns_about_a_sparse_extra_attribute(write_config: WriteConfig, ingested: Path) -> None:
    write_config(
        '[match]\n[[match.comparisons]]\nname = "vip"\nkind = "exact"\ncolumn = "vip_no"\n',
    )
    result = runner.invoke(app, ["config", "check", "--store", str(ingested), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["store"]["identities"] == 12
    assert report["store"]["warnings"] == [
        "sparse extra attribute 'vip_no' (comparison 'vip'): only 1 of 12 identities (8.3%) hold it"
    ]


def test_check_exits_2_on_unknown_keys(tmp_path: Path, write_config: WriteConfig) -> None:
    path = write_config("[match]\nreview_treshold = 0.5\n")
    result = runner.invoke(app, ["config", "check", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert str(path) in result.output and "did you mean 'review_threshold'" in result.output


def test_show_toml_reads_back_to_the_same_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    write_config(
        """[match]
review_threshold = 0.7
link_type = "link_only"
composite_columns = { address = ["street_number", "address_1"] }
comparisons = [{ name = "address", kind = "address", column = "address" }, { name = "company", enabled = false }]
[ingest.channels.crm]
columns = { rec_id = "external_id", "given name" = "first_name" }
[schedules]
disabled = ["anonymize"]
""",
    )
    monkeypatch.setenv("IDRES_INGEST__DEFAULT_REGION", "AU")
    before = load_settings()
    result = runner.invoke(app, ["config", "show", "--format", "toml"])
    assert result.exit_code == 0, result.output
    shown = result.stdout
    tomllib.loads(shown)  # valid TOML
    assert 'link_type = "link_only"' in shown and "[ingest.channels.crm]" in shown
    marked = runner.invoke(app, ["config", "show", "--sources"]).stdout
    assert 'default_region = "AU"  # environment' in marked and "review_threshold = 0.7  # file" in marked
    assert "web.port" not in marked and "port = 8000\n" in marked  # defaults are not marked
    again = tmp_path / "shown.toml"
    again.write_text(shown, encoding="utf-8")
    monkeypatch.setenv("IDRES_CONFIG", str(again))
    monkeypatch.delenv("IDRES_INGEST__DEFAULT_REGION")
    after = load_settings()
    assert MatchConfig.from_settings(after.match) == MatchConfig.from_settings(before.match)
    assert after.model_dump(exclude={"match"}) == before.model_dump(exclude={"match"})


def test_show_json_is_the_effective_configuration(write_config: WriteConfig) -> None:
    write_config('[match]\nlink_type = "link_and_dedupe"\n')
    result = runner.invoke(app, ["config", "show", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["match"]["link_type"] == "link_and_dedupe"
    assert {c["name"] for c in data["match"]["comparisons"]} >= {"first_name", "email", "birth_date"}


def test_a_global_store_option_is_reported_as_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDRES_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["--store", str(tmp_path / "g.duckdb"), "config", "check", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    store = _rows(result.stdout)["store"]
    assert store["value"] == str(tmp_path / "g.duckdb") and store["source"] == "command line"


def test_a_global_config_option_is_the_file_idres_config_would_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`idres --config FILE ...` reads FILE (over IDRES_CONFIG and ./idres.toml) and reports it as the file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "idres.toml").write_text('[ingest]\ndefault_region = "DE"\n', encoding="utf-8")
    named = tmp_path / "other.toml"
    named.write_text('[ingest]\ndefault_region = "FR"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('[ingest]\ndefault_region = "IT"\n', encoding="utf-8")
    monkeypatch.setenv("IDRES_CONFIG", str(elsewhere))
    result = runner.invoke(app, ["--config", str(named), "config", "check", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["file"] == str(named)
    region = _rows(result.stdout)["ingest.default_region"]
    assert (region["value"], region["source"]) == ("FR", "file")
    shown = runner.invoke(app, ["--config", str(named), "config", "show", "--format", "json"])
    assert json.loads(shown.stdout)["ingest"]["default_region"] == "FR"
    missing = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "config", "show"])
    assert missing.exit_code == 2
    assert "nope.toml: configuration file not found (named by --config)" in missing.output
