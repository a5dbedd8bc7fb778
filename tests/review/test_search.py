"""The page's search terms: what the agent typed read as an id, an email, a phone, a handle or a name."""

from __future__ import annotations

from review.search import search_terms


def test_a_national_phone_is_its_e164_and_its_tail() -> None:
    terms = search_terms("07491 614434", "GB")
    assert terms == {"phone_e164": "+447491614434", "phone_tail": "7491614434"[-9:]}


def test_a_customer_id_an_email_and_a_bare_number() -> None:
    assert search_terms("# 42") == {"customer_ids": [42]}
    assert search_terms("Jane.Doe@") == {"email_prefix": "jane.doe@"}
    terms = search_terms("123456")
    assert terms["customer_ids"] == [123456] and terms["phone_tail"] == "123456"


def test_names_and_handles_are_folded_to_keys() -> None:
    terms = search_terms("  @Stanisławek   Nowak ")
    assert terms["handle"] == "stanisławek nowak"
    assert terms["name_keys"] == ["stanislawek", "nowak"]
    assert terms["display_text"] == "@stanisławek nowak"
    assert search_terms("   ") == {}
