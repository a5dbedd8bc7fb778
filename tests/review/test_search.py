"""The page's search: what the agent typed read as an id, an email, a phone, a handle or a name, ranked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.settings import Settings
from review.search import search_customers, search_terms
from store import Store, open_store
from tests.review.builders import people_store


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


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


def _ids(results: list[dict]) -> list[int]:
    return [int(row["customer_id"]) for row in results]


def test_a_typo_after_the_first_letters_still_finds_the_customer(people: Store) -> None:
    assert 3 in _ids(search_customers(people, "brain novack"))  # Brian Novak, typos in both names
    assert 5 in _ids(search_customers(people, "chloe ortz"))
    assert search_customers(people, "zebedee quux") == []


def test_the_best_match_comes_first_not_the_lowest_id(people: Store) -> None:
    # "Bryan Novak" (customer 4) is typed exactly; "Brian Novak" (3) is one letter off and has the lower id
    results = search_customers(people, "bryan novak")
    assert _ids(results)[0] == 4 and 3 in _ids(results)
    assert results[0]["score"] > results[_ids(results).index(3)]["score"]
    assert [row["score"] for row in results] == sorted((row["score"] for row in results), reverse=True)


def test_an_id_or_a_phone_typed_whole_is_a_full_match(people: Store) -> None:
    [row] = search_customers(people, "#6")
    assert row["customer_id"] == 6 and row["score"] == 100.0
    results = search_customers(people, "07911 123403")
    assert _ids(results)[0] == 5 and results[0]["score"] == 100.0
