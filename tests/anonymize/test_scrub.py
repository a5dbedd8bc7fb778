"""Pure replacement of one person's rows: free text, keyed hashes, tokens."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from anonymize import scrub

VALUES = scrub.PersonValues(
    identifiers={"zoe@example.com", "+447700900123", "zq-77", "ab"}, names={"Zoë Quartz", "Zoë"}
)


def test_free_text_loses_addresses_numbers_and_known_values() -> None:
    text = "Zoë Quartz (zq-77) wrote from ZOE@example.com and other@mail.org, call 07700 900123 or +44 (0)20 7946 0958"
    result = scrub.scrub_text(text, VALUES)
    assert result == (
        "[erased] ([erased]) wrote from [email erased] and [email erased], call [phone erased] or [phone erased]"
    )


def test_short_values_and_parts_of_words_are_left_alone() -> None:
    # "Zoë" inside "Zoëlle" is another word; short numbers are no phone numbers
    assert scrub.scrub_text("Zoëlle, order 12345", VALUES) == "Zoëlle, order 12345"
    assert scrub.scrub_text("sent on 2024-03-01, call 020 7946 0958", VALUES) == (
        "sent on 2024-03-01, call [phone erased]"
    )
    # store-wide searches skip values below the minimum length ("ab" would be found everywhere)
    assert VALUES.searchable() == ["zoe@example.com", "+447700900123", "zq-77"]


def test_keyed_hash_needs_the_key_and_separates_kinds() -> None:
    first = scrub.keyed_hash(b"k1", "email", "zoe@example.com")
    assert first == scrub.keyed_hash(b"k1", "email", "zoe@example.com")
    assert first != scrub.keyed_hash(b"k2", "email", "zoe@example.com")
    assert first != scrub.keyed_hash(b"k1", "phone", "zoe@example.com")
    import hashlib

    assert first != hashlib.sha256(b"zoe@example.com").hexdigest()


def test_identities_get_random_keys_and_keyed_hashes() -> None:
    identities = pl.DataFrame(
        {"identity_id": [1, 2], "channel": ["email", "sms"], "external_id": ["zoe@example.com", "+447700900123"],
         "email": ["zoe@example.com", None], "email_norm": ["zoe@example.com", None],
         "phone_e164": [None, "+447700900123"], "record_hash": ["h1", "h2"], "key_hash": [None, None],
         "anonymized": [False, False], "match_pending": [True, False]},
        schema_overrides={"key_hash": pl.String},
    )  # fmt: skip
    personal = {
        "external_id": "identifier",
        "email": "contact",
        "email_norm": "contact",
        "phone_e164": "contact",
    }
    erased, hashes = scrub.anonymize_identities(identities, personal, b"key")
    assert erased["email"].to_list() == [None, None] and erased["phone_e164"].null_count() == 2
    assert all(
        v.startswith("erased:") for v in erased["external_id"].to_list() + erased["record_hash"].to_list()
    )
    assert erased["anonymized"].all() and not erased["match_pending"].any()
    assert erased["key_hash"].to_list()[0] == scrub.identity_key_hash(b"key", "email", "zoe@example.com")
    assert sorted(hashes["key_kind"].to_list()) == ["email", "identity", "identity", "phone"]


def test_customer_messages_lose_content_agent_replies_are_scrubbed() -> None:
    messages = pl.DataFrame(
        {"message_id": [1, 2, 3], "author_kind": ["customer", "agent", "customer"], "agent_name": [None, "sam", None],
         "body": ["I am Zoë", "Hello Zoë, mail us", None], "record_hash": ["a", "b", "c"],
         "external_message_id": ["m1", "m2", "m3"],
         "anonymized": [False, False, False]}
    )  # fmt: skip
    result = scrub.anonymize_messages(messages, VALUES)
    assert result["body"].to_list() == [scrub.CONTENT_ERASED, "Hello [erased], mail us", None]
    assert result["agent_name"].to_list() == [None, "sam", None]
    assert all(v.startswith("erased:") for v in result["external_message_id"].to_list())


def test_customers_are_emptied_and_marked() -> None:
    now = datetime(2026, 1, 1)
    customers = pl.DataFrame(
        {"customer_id": [1], "first_name": ["Zoë"], "emails": [["zoe@example.com"]], "phones": [["+44"]],
         "agent_edited": [["first_name"]], "lock_reason": ["x"], "status": ["active"],
         "anonymized_at": [None], "updated_at": [now]},
        schema_overrides={"anonymized_at": pl.Datetime("us"), "updated_at": pl.Datetime("us")},
    )  # fmt: skip
    result = scrub.anonymize_customers(
        customers, {"first_name": "name", "emails": "contact", "phones": "contact"}, now
    )
    row = result.row(0, named=True)
    assert (row["first_name"], row["emails"], row["phones"], row["lock_reason"]) == (None, [], [], None)
    assert (row["status"], row["anonymized_at"]) == ("anonymized", now)


def test_json_is_scrubbed_leaf_by_leaf() -> None:
    document = '{"old": {"email": "zoe@example.com", "n": 3}, "names": ["Zoë Quartz", "Bob"]}'
    assert scrub.scrub_json(document, VALUES) == (
        '{"old": {"email": "[email erased]", "n": 3}, "names": ["[erased]", "Bob"]}'
    )
    assert scrub.scrub_json(document, VALUES, erase_strings=True) == (
        '{"old": {"email": "[erased]", "n": 3}, "names": ["[erased]", "[erased]"]}'
    )
