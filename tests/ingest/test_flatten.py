"""Nested JSON records flattened to dotted column names that mappings can name."""

from __future__ import annotations

import json
from pathlib import Path

from domain.settings import ChannelSettings, IngestSettings
from ingest.flatten import flatten_record, is_nested
from ingest.pipeline import ingest_file
from store import Store


def test_objects_and_lists_of_objects_become_dotted_names() -> None:
    record = {
        "contact": {"wa_id": "4479", "profile": {"name": "Kerry"}},
        "messages": [{"id": "m1"}, {"id": "m2"}],
        "tags": ["a", "b"],
        "empty": {},
        "n": 1,
    }
    assert flatten_record(record) == {
        "contact.wa_id": "4479",
        "contact.profile.name": "Kerry",
        "messages.0.id": "m1",
        "messages.1.id": "m2",
        "tags": ["a", "b"],
        "empty": {},
        "n": 1,
    }
    assert is_nested(record) and not is_nested({"tags": ["a"], "n": 1})


def test_deep_records_do_not_exhaust_the_stack() -> None:
    record: dict[str, object] = {"leaf": "x"}
    for _ in range(5000):
        record = {"a": record}
    flat = flatten_record(record)
    assert list(flat.values()) == ["x"] and next(iter(flat)).count(".") == 5000


def test_a_mapping_names_a_nested_field(
    tmp_path: Path, store: Store, ingest_settings: IngestSettings
) -> None:
    # webhook-shaped rows failed "external_id is missing" before they were flattened
    settings = ingest_settings.model_copy(
        update={
            "channels": IngestSettings(
                channels={
                    "whatsapp": ChannelSettings(
                        columns={"contact.wa_id": "external_id", "contact.profile.name": "display_name"}
                    )
                }
            ).channels
        }
    )
    path = tmp_path / "identities_whatsapp.jsonl"
    rows = [
        {"contact": {"wa_id": "447700900123", "profile": {"name": "Kerry Fisher"}}, "meta": {"src": "hook"}}
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    report = ingest_file(store, path, settings)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 0), report.quarantine_reasons
    assert report.detected == "nested JSON flattened to dotted columns"
    row = store.rows("SELECT external_id, display_name, phone_e164, extra FROM identities")[0]
    assert (row["external_id"], row["display_name"]) == ("447700900123", "Kerry Fisher")
    assert json.loads(row["extra"]) == {"meta.src": "hook"}
