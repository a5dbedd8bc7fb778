"""The GX set-up is built once per process and folder; a run of many files builds its Data Docs once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.settings import IngestSettings
from ingest import validate as validation
from ingest.pipeline import data_docs_once
from ingest.validate import identity_rules, validate, validate_files
from tests.ingest.test_validate import CHANNELS, MAX_VALUE, identity, identity_frame


def _count_calls(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_the_gx_context_and_suite_are_built_once_per_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gx = validation._gx()
    contexts = _count_calls(monkeypatch, gx, "get_context")
    frame = identity_frame([identity(), identity(email_valid=False)])
    for number in range(3):
        outcome = validate(
            frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name=f"f{number}",
            data_docs_dir=tmp_path / "docs",
        )  # fmt: skip
        assert outcome.summary["counts_agree"]
    assert len(contexts) == 1
    validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE + 1), batch_name="other suite",
        data_docs_dir=tmp_path / "docs",
    )  # fmt: skip
    validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="x", data_docs_dir=tmp_path / "o"
    )
    assert len(contexts) == 3  # a changed suite or another folder gets its own set-up


def test_a_run_of_many_files_builds_the_data_docs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    frame = identity_frame([identity()])
    rules = identity_rules(CHANNELS, MAX_VALUE)
    validate(frame, "identities", rules, batch_name="warm-up", data_docs_dir=docs)  # the set-up, built
    setup = next(s for key, s in validation._SETUPS.items() if key[0] == str(docs))
    builds = _count_calls(monkeypatch, type(setup.context), "build_data_docs")
    with data_docs_once(IngestSettings(data_docs_dir=docs)):
        outcomes = [
            validate(frame, "identities", rules, batch_name=f"file{i}", data_docs_dir=docs) for i in range(3)
        ]
        assert not builds  # nothing rendered while the files are validated
    assert len(builds) == 1
    index = Path(str(outcomes[0].data_docs_path))
    assert index.is_file()
    pages = list((index.parent / "validations").rglob("*.html"))
    assert len(pages) == 4  # the warm-up and the three files of the run, each with its page


def test_pages_built_in_the_background_are_done_when_the_run_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    frame = identity_frame([identity()])
    rules = identity_rules(CHANNELS, MAX_VALUE)
    validate(frame, "identities", rules, batch_name="warm-up", data_docs_dir=docs)
    setup = next(s for key, s in validation._SETUPS.items() if key[0] == str(docs))
    builds = _count_calls(monkeypatch, type(setup.context), "build_data_docs")
    with data_docs_once(IngestSettings(data_docs_dir=docs)) as build_in_background:
        first = [
            validate(frame, "identities", rules, batch_name=f"file{i}", data_docs_dir=docs) for i in range(2)
        ]
        build_in_background()  # as a run does before it loads the group it validated
        validate(frame, "identities", rules, batch_name="file2", data_docs_dir=docs)
    assert len(builds) == 2  # the first two files' pages, then the third's
    pages = list((Path(str(first[0].data_docs_path)).parent / "validations").rglob("*.html"))
    assert len(pages) == 4


def test_a_background_build_that_fails_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    frame = identity_frame([identity()])
    rules = identity_rules(CHANNELS, MAX_VALUE)
    validate(frame, "identities", rules, batch_name="warm-up", data_docs_dir=docs)
    setup = next(s for key, s in validation._SETUPS.items() if key[0] == str(docs))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    with (
        pytest.raises(OSError, match="disk full"),
        data_docs_once(IngestSettings(data_docs_dir=docs)) as build,
    ):
        validate(frame, "identities", rules, batch_name="file0", data_docs_dir=docs)
        monkeypatch.setattr(type(setup.context), "build_data_docs", broken)
        build()


def test_files_validated_in_one_gx_run_get_the_outcomes_they_get_alone(tmp_path: Path) -> None:
    rules = identity_rules(CHANNELS, MAX_VALUE)
    files = [
        # a key repeated within a file is a duplicate; the same key in two files is not
        ("a.csv", identity_frame([identity(external_id="x"), identity(channel="fax"), identity(phone="1")])),
        ("b.csv", identity_frame([identity(external_id="x"), identity(external_id="x", first_name="B")])),
        # every phone invalid: this file fails the `mostly` rule, the others pass it
        ("c.csv", identity_frame([identity(phone="2", phone_valid=False), identity(email_valid=False)])),
    ]
    docs = tmp_path / "docs"
    together = validate_files(files, "identities", rules, run_name="landing run", data_docs_dir=docs)
    assert [o.summary["batch_name"] for o in together] == ["a.csv", "b.csv", "c.csv"]
    for (name, frame), outcome in zip(files, together, strict=True):
        alone = validate(frame, "identities", rules, batch_name=name, data_docs_dir=None)
        assert outcome.valid.equals(alone.valid), name
        assert outcome.quarantined.equals(alone.quarantined), name
        for key in ("rows", "valid_rows", "quarantined_rows", "warnings", "success", "counts_agree"):
            assert outcome.summary[key] == alone.summary[key], (name, key)
        assert outcome.summary["rules"] == alone.summary["rules"], name  # GX's verdicts and counts, per file
        assert outcome.summary["gx"]["files"] == 3
    assert together[1].quarantined.get_column("row_number").to_list() == [2]
    assert [o.summary["success"] for o in together] == [False, False, False]  # fax; duplicate; phones
    gx = together[0].summary["gx"]
    assert gx["rows"] == 7 and not gx["success"]
    assert together[0].summary["counts_agree"]
    assert sum(gx["unexpected_counts"].values()) == sum(
        item["unexpected_count"] for outcome in together for item in outcome.summary["rules"]
    )
    pages = list((docs / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations").rglob("*.html"))
    assert len(pages) == 1 and "landing run" in str(pages[0])  # one GX validation for the three files


def test_another_process_reuses_the_saved_set_up_without_rewriting_the_project(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    frame = identity_frame([identity(), identity(email_valid=False)])
    rules = identity_rules(CHANNELS, MAX_VALUE)
    first = validate(frame, "identities", rules, batch_name="first", data_docs_dir=docs)
    saved = validation._project_state(docs)
    validation._SETUPS.clear()  # another process (a command of its own, or the warm runner's child)
    again = validate(frame, "identities", rules, batch_name="again", data_docs_dir=docs)
    # nothing rewritten: the set-ups other processes cached (the warm runner's) stay fresh
    assert validation._project_state(docs) == saved
    assert again.summary["rules"] == first.summary["rules"] and again.summary["counts_agree"]
    assert again.valid.equals(first.valid) and again.quarantined.equals(first.quarantined)

    validation._SETUPS.clear()
    other = identity_rules(CHANNELS, MAX_VALUE + 1)
    validate(frame, "identities", other, batch_name="other suite", data_docs_dir=docs)
    assert validation._project_state(docs) != saved  # another suite is saved
    changed = validation._project_state(docs)
    suite = docs / "gx" / "expectations" / "idres_identities.json"
    suite.write_text(suite.read_text())  # the suite's file changed by something else: built anew
    validation._SETUPS.clear()
    outcome = validate(frame, "identities", other, batch_name="after an edit", data_docs_dir=docs)
    assert outcome.summary["counts_agree"] and validation._project_state(docs) != changed


def test_prepared_set_ups_are_what_the_next_validations_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.pipeline import _rules, prepare_validation

    settings = IngestSettings(data_docs_dir=tmp_path / "docs")
    prepare_validation(settings)  # the warm runner, before it forks

    def no_build(*args: Any) -> Any:
        raise AssertionError("the set-up was built again")

    monkeypatch.setattr(validation, "_build_setup", no_build)
    frame = identity_frame([identity()])
    outcome = validate(
        frame,
        "identities",
        _rules("identities", settings),
        batch_name="f",
        data_docs_dir=settings.data_docs_dir,
    )
    assert outcome.summary["rows"] == 1 and outcome.summary["counts_agree"]
    assert {key[1] for key in validation._SETUPS if key[0] == str(settings.data_docs_dir)} == {
        "identities",
        "messages",
    }
