"""GX suites and quarantine: each rule catches its rows, and GX counts what polars quarantines."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from domain.columns import CANONICAL_IDENTITY_COLUMNS, CANONICAL_MESSAGE_COLUMNS
from ingest.validate import (
    FILE_COLUMN,
    ValidationOutcome,
    identity_rules,
    message_rules,
    rule_key,
    validate,
)

CHANNELS = ["chat", "email", "sms", "whatsapp"]
MAX_VALUE = 40
MAX_BODY = 300

IDENTITY_SCHEMA: dict[str, Any] = {
    "row_number": pl.Int64,
    **{column: pl.Utf8 for column in CANONICAL_IDENTITY_COLUMNS},
    "extra": pl.Utf8,
    "email_norm": pl.Utf8,
    "email_valid": pl.Boolean,
    "phone_e164": pl.Utf8,
    "phone_valid": pl.Boolean,
    "birth_date_norm": pl.Date,
    "created_at_bad": pl.Boolean,
    "updated_at_bad": pl.Boolean,
}
MESSAGE_SCHEMA: dict[str, Any] = {
    "row_number": pl.Int64,
    **{column: pl.Utf8 for column in CANONICAL_MESSAGE_COLUMNS},
    "created_at_ts": pl.Datetime("us"),
    "created_at_bad": pl.Boolean,
}


def identity(**values: Any) -> dict[str, Any]:
    """A valid normalized identity row, with `values` on top."""
    row: dict[str, Any] = {
        "channel": "email",
        "email": "someone@example.com",
        "email_norm": "someone@example.com",
        "email_valid": True,
        "first_name": "Zoë",
        "created_at": "2024-05-01T10:00:00",
        "created_at_bad": False,
        "updated_at_bad": False,
    }
    row.update(values)
    return row


def identity_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows (missing columns null) numbered from 1, with unique external ids unless given."""
    full = []
    for number, row in enumerate(rows, start=1):
        values = {"external_id": f"id-{number}", **row, "row_number": number}
        full.append({column: values.get(column) for column in IDENTITY_SCHEMA})
    return pl.DataFrame(full, schema=IDENTITY_SCHEMA)


def message(**values: Any) -> dict[str, Any]:
    """A valid normalized customer message, with `values` on top."""
    row: dict[str, Any] = {
        "thread_id": "t-1",
        "channel": "chat",
        "external_id": "visitor-1",
        "author_kind": "customer",
        "body": "Hello, my parcel has not arrived.",
        "created_at": "2024-05-01 10:00",
        "created_at_ts": datetime(2024, 5, 1, 10, 0),
        "created_at_bad": False,
    }
    row.update(values)
    return row


def message_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Message rows numbered from 1, with unique message ids unless given."""
    full = []
    for number, row in enumerate(rows, start=1):
        values = {"message_id": f"m-{number}", **row, "row_number": number}
        full.append({column: values.get(column) for column in MESSAGE_SCHEMA})
    return pl.DataFrame(full, schema=MESSAGE_SCHEMA)


# row -> (expected quarantine reasons, in rule order) ; None = the row stays valid
IDENTITY_CASES: list[tuple[str, dict[str, Any], list[str] | None]] = [
    ("valid", identity(), None),
    ("valid, email missing", identity(email=None, email_norm=None, email_valid=None), None),
    ("channel missing", identity(channel=None), ["channel is missing"]),
    ("channel blank", identity(channel=" \t"), ["channel is blank", "channel is not a configured channel"]),
    ("external_id missing", identity(external_id=None), ["external_id is missing"]),
    ("external_id empty", identity(external_id=""), ["external_id is blank"]),
    ("unknown channel", identity(channel="fax"), ["channel is not a configured channel"]),
    # bad optional values are warnings: the row is loaded (see test_bad_optional_values_are_warnings)
    ("bad email", identity(email="not-an-address", email_valid=False), None),
    ("invalid phone is only flagged", identity(phone="12", phone_valid=False), None),
    ("valid phone", identity(phone="07700 900123", phone_e164="+447700900123", phone_valid=True), None),
    ("long city", identity(city="x" * (MAX_VALUE + 1)), [f"city is longer than {MAX_VALUE} characters"]),
    ("city at the limit", identity(city="é" * MAX_VALUE), None),
    (
        "bad created_at",
        identity(created_at="yesterday", created_at_bad=True),
        None,
    ),
    (
        "bad updated_at",
        identity(updated_at="13/13/13", updated_at_bad=True),
        None,
    ),
    ("bad birth_date", identity(birth_date="31/02/1990"), None),
    ("good birth_date", identity(birth_date="1990-02-28", birth_date_norm=date(1990, 2, 28)), None),
    ("blank birth_date", identity(birth_date=" \u00a0"), None),
    (
        "several failures",
        identity(channel="fax", external_id=None, email_valid=False, created_at_bad=True),
        ["external_id is missing", "channel is not a configured channel"],
    ),
]


@pytest.fixture(scope="module")
def identity_outcome() -> tuple[pl.DataFrame, ValidationOutcome]:
    frame = identity_frame([row for _, row, _ in IDENTITY_CASES])
    rules = identity_rules(CHANNELS, MAX_VALUE, min_valid_phone_share=0.4)
    return frame, validate(frame, "identities", rules, batch_name="cases", data_docs_dir=None)


def reasons_by_row(outcome: ValidationOutcome) -> dict[int, list[str]]:
    """row_number -> its quarantine reasons."""
    return {row["row_number"]: row["reason"].split("; ") for row in outcome.quarantined.to_dicts()}


@pytest.mark.parametrize("index", range(len(IDENTITY_CASES)), ids=[case[0] for case in IDENTITY_CASES])
def test_each_identity_rule_quarantines_its_rows(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome], index: int
) -> None:
    _, outcome = identity_outcome
    expected = IDENTITY_CASES[index][2]
    assert reasons_by_row(outcome).get(index + 1) == expected


def test_bad_optional_values_are_warnings_counted_per_field(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    _, outcome = identity_outcome
    # the rows with a bad email, timestamp or birth date are loaded, and counted per field
    loaded = set(outcome.valid.get_column("row_number"))
    for name in ("bad email", "bad created_at", "bad updated_at", "bad birth_date"):
        assert [case[0] for case in IDENTITY_CASES].index(name) + 1 in loaded
    assert outcome.summary["warnings"] == {
        "email": 2,  # "bad email" and "several failures"
        "phone": 1,
        "created_at": 2,
        "updated_at": 1,
        "birth_date": 1,
    }
    warns = {item["column"] for item in outcome.summary["rules"] if item["warns"]}
    assert warns == {"email", "phone", "created_at", "updated_at", "birth_date"}


def test_quarantine_rows_name_expectations_and_columns(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    _, outcome = identity_outcome
    assert outcome.quarantined.columns == ["row_number", "expectation", "column", "reason"]
    rows = {row["row_number"]: row for row in outcome.quarantined.to_dicts()}
    several = rows[len(IDENTITY_CASES)]
    assert several["expectation"] == "expect_column_values_to_not_be_null; expect_column_values_to_be_in_set"
    assert several["column"] == "external_id; channel"
    assert rows[3] == {
        "row_number": 3,
        "expectation": "expect_column_values_to_not_be_null",
        "column": "channel",
        "reason": "channel is missing",
    }
    # one quarantine row per input row, however many rules it fails
    assert outcome.quarantined.get_column("row_number").is_unique().all()


def test_valid_and_quarantined_partition_the_batch(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    frame, outcome = identity_outcome
    assert outcome.valid.height + outcome.quarantined.height == frame.height
    assert outcome.valid.columns == frame.columns  # helper columns are not returned
    expected_valid = {number for number, case in enumerate(IDENTITY_CASES, start=1) if case[2] is None}
    assert set(outcome.valid.get_column("row_number")) == expected_valid
    assert outcome.summary["valid_rows"] == len(expected_valid)
    assert outcome.data_docs_path is None


def test_gx_counts_equal_polars_counts_for_every_rule(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    frame, outcome = identity_outcome
    rules = identity_rules(CHANNELS, MAX_VALUE, min_valid_phone_share=0.4)
    work = frame.with_columns(pl.lit(0).alias(FILE_COLUMN), *[h for rule in rules for h in rule.derive])
    summary = {item["rule"]: item for item in outcome.summary["rules"]}
    assert len(summary) == len(rules)
    for index, rule in enumerate(rules):
        item = summary[rule_key(index, rule)]
        polars_count = work.select(rule.fails.fill_null(False).sum()).item()
        assert item["unexpected_count"] == polars_count == item["polars_unexpected_count"], item
    assert outcome.summary["counts_agree"]
    # every rule had something to catch in this batch, except the length rules of untouched columns
    failing = {item["column"] for item in outcome.summary["rules"] if item["unexpected_count"]}
    assert {
        "channel",
        "external_id",
        "email",
        "phone",
        "city",
        "created_at",
        "updated_at",
        "birth_date",
    } <= failing


def test_invalid_phones_are_reported_not_quarantined(
    identity_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    _, outcome = identity_outcome
    phone = next(item for item in outcome.summary["rules"] if item["column"] == "phone")
    assert phone["unexpected_count"] == 1
    assert phone["quarantined"] == 0
    assert phone["success"]  # 1 of 2 phones valid >= mostly 0.4

    frame = identity_frame([identity(phone="1", phone_valid=False), identity(phone="2", phone_valid=False)])
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="p", data_docs_dir=None
    )
    assert outcome.quarantined.is_empty()
    assert outcome.valid.height == 2
    assert not outcome.summary["success"]  # too few valid phones fails the suite


def test_duplicates_keep_the_first_occurrence() -> None:
    frame = identity_frame(
        [
            identity(external_id="a"),
            identity(external_id="b"),
            identity(external_id="a", first_name="second"),
            identity(external_id="a", first_name="third"),
            identity(channel="sms", external_id="a"),  # same id on another channel is another identity
            identity(external_id=None),
            identity(external_id=None),  # missing keys are not duplicates of each other
        ]
    )
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="d", data_docs_dir=None
    )
    duplicate = "duplicate (channel, external_id) in the batch (the first occurrence is kept)"
    assert reasons_by_row(outcome) == {
        3: [duplicate],
        4: [duplicate],
        6: ["external_id is missing"],
        7: ["external_id is missing"],
    }
    assert outcome.valid.get_column("row_number").to_list() == [1, 2, 5]
    rule = next(
        item
        for item in outcome.summary["rules"]
        if item["expectation"] == "expect_compound_columns_to_be_unique"
    )
    # GX counts every row of a repeated key; quarantine spares the first one
    assert rule["unexpected_count"] == rule["polars_unexpected_count"] == 3
    assert rule["quarantined"] == 2


def test_blank_means_the_same_to_gx_and_polars() -> None:
    values = ["", " ", "\t\r\n ", "\u00a0", "a", " a ", "ü", "\x0b"]
    frame = identity_frame([identity(external_id=value) for value in values])
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="b", data_docs_dir=None
    )
    blank = next(item for item in outcome.summary["rules"] if item["reason"] == "external_id is blank")
    assert blank["unexpected_count"] == blank["polars_unexpected_count"] == 3
    assert sorted(reasons_by_row(outcome)) == [1, 2, 3]


def test_an_all_valid_batch_passes() -> None:
    frame = identity_frame(
        [
            identity(),
            identity(channel="sms", external_id="+447700900123", phone="07700 900123", phone_valid=True),
            identity(
                email=None,
                email_norm=None,
                email_valid=None,
                birth_date="2001-01-01",
                birth_date_norm=date(2001, 1, 1),
            ),
        ]
    )
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="ok", data_docs_dir=None
    )
    assert outcome.summary["success"]
    assert outcome.quarantined.is_empty()
    assert outcome.valid.equals(frame)
    assert all(item["unexpected_count"] == 0 for item in outcome.summary["rules"])
    statistics = outcome.summary["gx_statistics"]
    assert statistics["unsuccessful_expectations"] == 0
    assert statistics["evaluated_expectations"] == len(outcome.summary["rules"])


def test_summary_is_json() -> None:
    frame = identity_frame([identity(), identity(channel="fax")])
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="j", data_docs_dir=None
    )
    summary = json.loads(json.dumps(outcome.summary))
    assert summary["rows"] == 2
    assert summary["quarantined_rows"] == 1
    assert not summary["success"]
    assert summary["kind"] == "identities"
    assert summary["batch_name"] == "j"
    assert set(summary["rules"][0]) >= {"expectation", "column", "unexpected_count", "success"}


def test_an_empty_batch_validates() -> None:
    frame = identity_frame([])
    outcome = validate(
        frame, "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="e", data_docs_dir=None
    )
    assert outcome.valid.is_empty()
    assert outcome.quarantined.is_empty()
    assert outcome.summary["counts_agree"]


def test_data_docs_are_written_when_asked(tmp_path: Path) -> None:
    frame = identity_frame([identity(), identity(email="secret.person@example.org", email_valid=False)])
    rules = identity_rules(CHANNELS, MAX_VALUE)
    docs_dir = tmp_path / "gx_docs"
    outcome = validate(frame, "identities", rules, batch_name="batch-1", data_docs_dir=docs_dir)
    assert outcome.data_docs_path is not None
    index = Path(outcome.data_docs_path)
    assert index.name == "index.html"
    assert index.is_file()
    assert docs_dir in index.parents
    pages = list(index.parent.glob("validations/**/*.html"))
    assert pages, "no validation page"
    assert "batch-1" in str(pages[0])
    # the docs show counts, not values: no personal data in the HTML
    assert all("secret.person" not in page.read_text() for page in pages)
    assert outcome.quarantined.height == 0  # a bad email is a warning
    assert outcome.summary["warnings"] == {"email": 1}
    assert any("warning: email is not a valid address" in page.read_text() for page in pages)

    # the same folder takes the next batch, and the other kind
    again = validate(frame, "identities", rules, batch_name="batch-2", data_docs_dir=docs_dir)
    messages = message_frame([message()])
    other = validate(
        messages,
        "messages",
        message_rules(CHANNELS, MAX_VALUE, MAX_BODY),
        batch_name="m-1",
        data_docs_dir=docs_dir,
    )
    assert again.data_docs_path == other.data_docs_path == outcome.data_docs_path
    assert len(list(index.parent.glob("validations/**/*.html"))) == 3


MESSAGE_CASES: list[tuple[str, dict[str, Any], list[str] | None]] = [
    ("customer message", message(), None),
    ("agent reply", message(author_kind="agent", agent_name="Priya"), None),
    ("customer message, empty body", message(body=None), None),
    ("thread missing", message(thread_id=None), ["thread_id is missing"]),
    ("channel missing", message(channel=None), ["channel is missing"]),
    ("external_id blank", message(external_id=" "), ["external_id is blank"]),
    # the reader's normalize_messages makes a message without author_kind the customer's
    ("author_kind missing", message(author_kind=None), None),
    ("author_kind unknown", message(author_kind="bot"), ["author_kind is neither 'customer' nor 'agent'"]),
    (
        "agent without name",
        message(author_kind="agent"),
        ["agent_name is missing when author_kind is 'agent'"],
    ),
    (
        "agent with blank name",
        message(author_kind="agent", agent_name=""),
        ["agent_name is blank when author_kind is 'agent'"],
    ),
    ("customer with blank agent_name", message(agent_name=""), None),
    (
        "created_at missing",
        message(created_at=None, created_at_ts=None),
        ["created_at is missing"],
    ),
    (
        "created_at bad",
        message(created_at="soon", created_at_ts=None, created_at_bad=True),
        ["created_at is not a valid timestamp"],
    ),
    ("unknown channel", message(channel="pigeon"), ["channel is not a configured channel"]),
    ("body too long", message(body="b" * (MAX_BODY + 1)), [f"body is longer than {MAX_BODY} characters"]),
    ("long body within limit", message(body="b" * MAX_BODY), None),
    (
        "title too long",
        message(title="t" * (MAX_VALUE + 1)),
        [f"title is longer than {MAX_VALUE} characters"],
    ),
    ("first of a message id", message(message_id="dup"), None),
    (
        "repeated message id",
        message(message_id="dup"),
        ["duplicate (channel, message_id) in the batch (the first occurrence is kept)"],
    ),
    ("same id on another channel", message(message_id="dup", channel="sms"), None),
    ("no message id", message(message_id=None), None),
    ("no message id again", message(message_id=None), None),
]


@pytest.fixture(scope="module")
def message_outcome() -> tuple[pl.DataFrame, ValidationOutcome]:
    frame = message_frame([row for _, row, _ in MESSAGE_CASES])
    rules = message_rules(CHANNELS, MAX_VALUE, MAX_BODY)
    return frame, validate(frame, "messages", rules, batch_name="messages", data_docs_dir=None)


@pytest.mark.parametrize("index", range(len(MESSAGE_CASES)), ids=[case[0] for case in MESSAGE_CASES])
def test_each_message_rule_quarantines_its_rows(
    message_outcome: tuple[pl.DataFrame, ValidationOutcome], index: int
) -> None:
    _, outcome = message_outcome
    assert reasons_by_row(outcome).get(index + 1) == MESSAGE_CASES[index][2]


def test_message_batch_counts_agree_and_partition(
    message_outcome: tuple[pl.DataFrame, ValidationOutcome],
) -> None:
    frame, outcome = message_outcome
    assert outcome.valid.height + outcome.quarantined.height == frame.height
    assert outcome.valid.columns == frame.columns
    assert outcome.summary["counts_agree"]
    for item in outcome.summary["rules"]:
        assert item["unexpected_count"] == item["polars_unexpected_count"], item
    assert not outcome.summary["success"]
    agent = next(
        item for item in outcome.summary["rules"] if item["reason"].startswith("agent_name is missing")
    )
    assert agent["unexpected_count"] == 1  # the row condition limits GX to agent messages


def test_rules_pair_a_registered_expectation_with_a_polars_expression() -> None:
    from ingest.validate import _gx

    _gx()
    from great_expectations.expectations.registry import get_expectation_impl

    rules = identity_rules(CHANNELS, MAX_VALUE) + message_rules(CHANNELS, MAX_VALUE, MAX_BODY)
    for rule in rules:
        assert get_expectation_impl(rule.name) is not None
        assert isinstance(rule.fails, pl.Expr)
        assert rule.reason
        assert "; " not in rule.reason  # the separator of joined reasons in quarantine
    # one length rule per canonical string column
    lengths = [rule.column for rule in identity_rules(CHANNELS, MAX_VALUE) if "longer than" in rule.reason]
    assert lengths == list(CANONICAL_IDENTITY_COLUMNS)


def test_preload_imports_gx_in_the_background() -> None:
    from ingest.validate import preload_gx

    preload_gx().join(timeout=60)
    assert "great_expectations" in sys.modules


def test_validate_rejects_bad_calls() -> None:
    frame = identity_frame([identity()])
    with pytest.raises(ValueError, match="unknown input kind"):
        validate(frame, "people", identity_rules(CHANNELS, MAX_VALUE), batch_name="x", data_docs_dir=None)
    with pytest.raises(ValueError, match="row_number"):
        validate(frame.drop("row_number"), "identities", identity_rules(CHANNELS, MAX_VALUE), batch_name="x")
