"""store/cannot_links.py: one record per pair, two ways of writing it, checks across merged members."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.settings import Settings
from review import merging
from store import Store, cannot_links, open_store, utcnow
from tests.review.test_merging import REVIEW, world_template  # noqa: F401  (fixture)


@pytest.fixture
def world(world_template: Path, settings: Settings) -> Iterator[Store]:  # noqa: F811
    shutil.copyfile(world_template, settings.store)
    with open_store(settings.store) as store:
        yield store


def test_record_replaces_the_reason_and_record_if_absent_keeps_the_first(world: Store) -> None:
    with world.transaction():
        cannot_links.record(world, 5, 2, None, "kim", "twins", utcnow())
        cannot_links.record(world, 2, 5, 7, "lee", "not twins after all", utcnow())
        assert not cannot_links.record_if_absent(world, 5, 2, "max", utcnow(), reason="ignored")
        assert cannot_links.record_if_absent(world, 3, 1, "max", utcnow(), reason="undone")
    link = cannot_links.get(world, 5, 2)
    assert link is not None and (link["customer_id_a"], link["customer_id_b"]) == (2, 5)
    assert (link["suggestion_id"], link["created_by"], link["reason"]) == (7, "lee", "not twins after all")
    assert world.scalar("SELECT count(*) FROM cannot_links") == 2
    assert (cannot_links.get(world, 1, 3) or {})["created_by"] == "max"


def test_a_link_is_found_across_the_customers_merged_into_each_side(world: Store) -> None:
    with world.transaction():
        cannot_links.record(world, 5, 2, None, "kim", "twins", utcnow())
    merging.merge_customers(world, 1, 2, "ann", REVIEW)  # 2 -> 1
    merging.merge_customers(world, 5, 6, "ann", REVIEW)  # 6 -> 5
    for left, right in ((1, 5), (5, 1), (2, 5)):
        link = cannot_links.between(world, left, right)
        assert link is not None and (link["customer_id_a"], link["customer_id_b"]) == (2, 5)
    # members are those merged into a side: 6 absorbed nothing, so 1 and 6 alone hold no link
    assert cannot_links.between(world, 1, 6) is None
    assert cannot_links.between(world, 1, 3) is None
    lifted = cannot_links.by_survivors(world)
    assert list(lifted) == [(1, 5)] and lifted[(1, 5)]["created_by"] == "kim"
