"""The review queue's SQL (store.views.web_page.queue_page): filters, orders and counts on a small store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.settings import Settings
from store import Store, open_store
from store.views import web_page
from tests.review.builders import add_suggestion, people_store, simulate_merge

# tests.review.builders.PEOPLE: customers 1 email, 2 chat, 3 email, 4 twitter, 5 email, 6 chat


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def _ids(rows: list[dict]) -> list[int]:
    return [int(r["suggestion_id"]) for r in rows]


def test_queue_pages_keep_the_order_and_carry_the_whole_rows(people: Store) -> None:
    made = {p: add_suggestion(people, left, right, probability=p) for p, (left, right) in
            zip((0.91, 0.99, 0.95, 0.93), ((1, 2), (3, 4), (5, 6), (1, 3)), strict=True)}  # fmt: skip
    by_probability = [made[p] for p in sorted(made, reverse=True)]
    first, total = web_page.queue_page(people, limit=3)
    second, _ = web_page.queue_page(people, limit=3, offset=3)
    assert total == 4 and _ids(first) + _ids(second) == by_probability
    assert [r["probability"] for r in first] == [0.99, 0.95, 0.93]
    assert first[0]["customer_id_l"] == 3 and first[0]["evidence"] == [] and first[0]["band"] == "review"
    skipped, _ = web_page.queue_page(people, limit=4, skipped=[made[0.99]])
    assert _ids(skipped) == [*by_probability[1:], made[0.99]]  # a skipped pair comes last


def test_the_channel_filter_lists_pairs_with_either_customer_on_the_channel(people: Store) -> None:
    email_email = add_suggestion(people, 1, 3, probability=0.99)
    chat_twitter = add_suggestion(people, 2, 4, probability=0.98)
    email_chat = add_suggestion(people, 5, 6, probability=0.97)
    add_suggestion(people, 2, 6, probability=0.96, status="rejected")  # not pending: never listed
    chat = [chat_twitter, email_chat]
    rows, total = web_page.queue_page(people, channel="chat", limit=10)
    assert (_ids(rows), total) == (chat, 2)
    rows, total = web_page.queue_page(people, channel="email", limit=1, offset=1)
    assert (_ids(rows), total) == ([email_chat], 2)  # the count is of the filter, not of the page
    rows, total = web_page.queue_page(people, channel="twitter", limit=10)
    assert (_ids(rows), total) == ([chat_twitter], 1)
    assert web_page.queue_page(people, channel="sms", limit=10) == ([], 0)
    assert web_page.bulk_count(people, 0.5, None, "chat") == 2
    simulate_merge(people, 4, 3)  # customer 3 now holds the twitter identity too
    rows, total = web_page.queue_page(people, channel="twitter", limit=10)
    assert (_ids(rows), total) == ([email_email], 1)
    informative, total = web_page.queue_page(people, channel="chat", limit=10, order="informative")
    assert sorted(_ids(informative)) == sorted(chat) and total == 2
