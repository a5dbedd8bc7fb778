"""Cluster-level evidence: a contact value private to a few customers, rated on the data itself."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from matching import MatchConfig, run_match
from tests.matching.idframes import filler, make_identities

FIRSTS = ["olivia", "noah", "amelia", "oscar", "isla", "arthur", "ava", "leo", "mia", "harry"]


def _holders(n: int, same_person: bool) -> list[dict[str, Any]]:
    """n phones each held by two named identities: one person's (same name) or two people's."""
    rows = []
    for i in range(n):
        phone = f"+44771{i:07d}"
        last = f"family{i}x"
        other = (FIRSTS[i % 10], last) if same_person else (FIRSTS[(i + 5) % 10], f"other{i}y")
        rows.append({"first_name_norm": FIRSTS[i % 10], "last_name_norm": last, "phone_e164": phone,
                     "channel": "whatsapp"})  # fmt: skip
        rows.append({"first_name_norm": other[0], "last_name_norm": other[1], "phone_e164": phone,
                     "channel": "sms"})  # fmt: skip
    return rows


TARGET = "+447720000001"


def _run(calibration: list[dict[str, Any]], target: list[dict[str, Any]], **config: Any) -> pl.DataFrame:
    rows = filler(150) + calibration + target
    for i, row in enumerate(rows, start=1):
        row["identity_id"] = row["customer_id"] = i
    frame = make_identities(rows)
    ids = frame.filter(pl.col("phone_e164") == TARGET).get_column("identity_id").to_list()
    res = run_match(frame, MatchConfig(**config))
    return res.suggestions.filter((pl.col("customer_id_l") == ids[0]) & (pl.col("customer_id_r") == ids[1]))


def _private(suggestion: pl.DataFrame) -> dict[str, Any] | None:
    items = json.loads(suggestion.get_column("evidence")[0]) if suggestion.height else []
    return next((item for item in items if item["field"] == "private_value"), None)


ANONYMOUS = [{"phone_e164": TARGET, "channel": "sms"}, {"phone_e164": TARGET, "channel": "whatsapp"}]


def test_a_private_phone_is_one_persons_when_the_data_shows_such_phones_are() -> None:
    raised = _run(_holders(40, same_person=True), ANONYMOUS)
    assert raised.get_column("probability")[0] >= 0.8
    assert raised.get_column("band")[0] == "review"
    item = _private(raised)
    assert item is not None and item["value_l"] == TARGET and "held by 2 customers" in item["level"]
    # the same data without the cluster evidence: nothing of it in the evidence (whether the lone
    # phone clears review then is the model's term frequency, matching/model.py)
    plain = _run(_holders(40, same_person=True), ANONYMOUS, private_value_max_customers=0)
    assert plain.height == 0 or _private(plain) is None


def test_a_private_phone_is_not_raised_where_such_phones_are_households() -> None:
    households = _run(_holders(40, same_person=False), ANONYMOUS)
    assert _private(households) is None


def test_a_private_value_held_by_clearly_different_people_is_not_raised() -> None:
    named = [
        {"phone_e164": TARGET, "channel": "sms", "first_name_norm": "derek", "last_name_norm": "stone"},
        {"phone_e164": TARGET, "channel": "whatsapp", "first_name_norm": "mia", "last_name_norm": "rowe"},
    ]
    assert _private(_run(_holders(40, same_person=True), named)) is None


def test_disagreeing_fields_still_count_against_a_private_value() -> None:
    agreeing = _private(_run(_holders(40, same_person=True), ANONYMOUS))
    emails = [
        {**ANONYMOUS[0], "email_norm": "a.first@mail.com"},
        {**ANONYMOUS[1], "email_norm": "zed.other@post.org"},
    ]
    disagreeing = _private(_run(_holders(40, same_person=True), emails))
    assert agreeing is not None
    assert disagreeing is None or disagreeing["weight"] < agreeing["weight"]


def test_an_initial_the_levels_call_different_does_not_count_against_a_private_phone() -> None:
    initial = [
        {**ANONYMOUS[0], "first_name_norm": "amanda", "last_name_norm": "mason"},
        {**ANONYMOUS[1], "first_name_norm": "amanda", "last_name_norm": "m"},
    ]
    raised = _run(_holders(40, same_person=True), initial)
    assert raised.get_column("probability")[0] >= 0.8
    assert _private(raised) is not None


def test_json_quoted_and_json_strings_write_what_json_dumps_writes() -> None:
    from matching.clusters import json_quoted, json_strings

    values = ["ann lee", 'o"neil', "back\\slash", "zoë müller", "tab\there", "", "~!#[]", "None None"]
    want = [json.dumps(v) for v in values]
    assert json_quoted(pl.Series(values, dtype=pl.String)).to_list() == want
    assert json_strings(values) == want
