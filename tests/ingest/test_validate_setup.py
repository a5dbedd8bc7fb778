"""The GX set-up is built once per process and folder; a run of many files builds its Data Docs once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.settings import IngestSettings
from ingest import validate as validation
from ingest.pipeline import data_docs_once
from ingest.validate import identity_rules, validate
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
