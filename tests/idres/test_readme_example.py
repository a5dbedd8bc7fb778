"""The README's "Configuring matching" worked example runs as written: two Febrl CRMs, link_only."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.settings import PROJECT_ROOT
from idres.cli.app import app
from store import open_store

runner = CliRunner()
SECTION = "### A worked example: two CRMs (Febrl)"


def _blocks() -> tuple[str, list[str]]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :]
    section = section[: section.index("\n## ")]
    toml = re.search(r"```toml\n(.*?)```", section, re.S)
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    assert toml and shell
    return toml.group(1), [line.strip() for line in shell.group(1).splitlines() if line.strip()]


def test_the_readme_configuration_is_the_shipped_file() -> None:
    toml, _ = _blocks()
    assert toml == (PROJECT_ROOT / "data/examples/febrl/idres.toml").read_text(encoding="utf-8")


def _run(lines: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    outputs = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            monkeypatch.setenv(name, value)
            continue
        assert words[0] == "idres", line
        result = runner.invoke(app, words[1:])
        assert result.exit_code == 0, f"{line}\n{result.output}"
        outputs.append(result.output)
    return outputs


@pytest.mark.slow
def test_the_crm_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    _, lines = _blocks()
    # the commands' relative paths resolve in a scratch folder holding the shipped example data
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "examples").symlink_to(PROJECT_ROOT / "data" / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "gx_docs"))  # keep GX docs here
    outputs = _run(lines, monkeypatch)
    assert "configuration OK" in outputs[0] and "configuration OK" in outputs[3]
    assert (tmp_path / "data/reports/crm.html").is_file()

    with open_store(tmp_path / "data/store/crm.duckdb", read_only=True) as store:
        rows = store.rows(
            """SELECT s.band, l.channel AS channel_l, l.external_id AS id_l, r.channel AS channel_r,
                      r.external_id AS id_r
            FROM suggestions s JOIN identities l ON l.identity_id = s.identity_id_l
            JOIN identities r ON r.identity_id = s.identity_id_r"""
        )
        config_id, config = store.rows("SELECT config_id, CAST(config AS VARCHAR) AS c FROM match_runs")[
            0
        ].values()
    # link_only: no suggestion (and so no scored pair behind it) joins two records of one CRM
    assert rows and all(r["channel_l"] != r["channel_r"] for r in rows)
    person = lambda external_id: external_id.split("-")[1]  # noqa: E731
    merged = [r for r in rows if r["band"] in ("review", "auto_approve")]
    true = [r for r in merged if person(r["id_l"]) == person(r["id_r"])]
    assert len(true) >= 36, f"found {len(true)} of the 40 people in both CRMs"
    assert len(true) >= 0.95 * len(merged), f"{len(merged) - len(true)} wrong suggestions"
    assert config_id and '"link_type": "link_only"' in config and "idres.toml" in config

    report = runner.invoke(app, ["report", "--out", "data/reports/crm.html", "--format", "json"])
    assert f'"config_id": "{config_id}"' in report.stdout

    # the README's misspelt column, through the same store
    bad = tmp_path / "bad.toml"
    text = (PROJECT_ROOT / "data/examples/febrl/idres.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace('column = "soc_sec_id"', 'column = "soc_secid"'), encoding="utf-8")
    monkeypatch.setenv("IDRES_CONFIG", str(bad))
    check = runner.invoke(app, ["config", "check"])
    assert check.exit_code == 2
    assert (
        "comparison 'soc_sec_id' reads column 'soc_secid', which no identity holds (0 of 100); did you mean "
        "'soc_sec_id'?" in " ".join(check.output.split())
    )
    match = runner.invoke(app, ["match", "--full"])
    assert match.exit_code == 2 and "soc_secid" in match.output and "available columns" in match.output
