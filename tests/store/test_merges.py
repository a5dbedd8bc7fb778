"""store/merges.py: merges build the chains redirects follow, moving rows back, exact row restores, cannot-links, the queue."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.settings import Settings
from matching import MatchConfig, run_match
from review import merging
from store import Store, match_runs, open_store, redirects, suggestions, utcnow
from store import merges as sql
from tests.review.builders import add_suggestion, suggestion
from tests.review.test_merging import REVIEW, approve, world_template  # noqa: F401  (fixture)


@pytest.fixture
def world(world_template: Path, settings: Settings) -> Iterator[Store]:  # noqa: F811
    shutil.copyfile(world_template, settings.store)
    with open_store(settings.store) as store:
        yield store


def test_members_follow_chains_of_merges(world: Store) -> None:
    merging.merge_customers(world, 2, 5, "ann", REVIEW)
    merging.merge_customers(world, 1, 2, "ann", REVIEW)
    assert redirects.members(world, [1, 2, 3]) == {1: {1, 2, 5}, 2: {2, 5}, 3: {3}}


def test_take_back_moves_only_rows_the_holder_still_has(world: Store) -> None:
    with world.transaction():
        sql.move_identities(world, 2, 1)
        sql.move_identities(world, 3, 4)
        moved = sql.take_back(world, "identities", "identity_id", [2, 3], holder=1, owner=2)
    assert moved == 1  # identity 3 is with customer 4, not with the holder
    assert sql.identity_ids(world, 2) == [2] and sql.identity_ids(world, 4) == [3, 4]
    with pytest.raises(ValueError, match="not customers"):
        sql.take_back(world, "customers", "customer_id", [1], 1, 2)


def test_restore_customer_writes_a_row_back_exactly(world: Store) -> None:
    row = sql.customer_row(world, 1)
    assert row is not None
    with world.transaction():
        world.execute(
            "UPDATE customers SET locked = TRUE, locked_at = ?, lock_reason = 'x' WHERE customer_id = 1",
            [utcnow()],
        )
        sql.write_profile(world, 1, {"first_name": "Zed", "emails": ["z@z.com"]}, {"first_name": {"rule": "x"}},
                          ["first_name"], utcnow())  # fmt: skip
    assert sql.image_of(sql.customer_row(world, 1) or {}) != sql.image_of(row)
    with world.transaction():
        sql.restore_customer(world, sql.image_of(row))
    assert sql.customer_row(world, 1) == row


def test_repoint_pending_keeps_the_queue_right(world: Store) -> None:
    same = add_suggestion(world, 1, 2)
    moved = add_suggestion(world, 2, 3)
    twin = add_suggestion(world, 1, 4)
    dup = add_suggestion(world, 2, 4)
    with world.transaction():
        sql.move_identities(world, 2, 1)
        counts = suggestions.repoint_pending(world, 2, 1, merge_id=9, now=utcnow())
    assert counts == {"repointed": 1, "superseded": 2}
    assert (
        suggestion(world, same)["status"] == "superseded"
        and "merge 9" in suggestion(world, same)["status_reason"]
    )
    assert (suggestion(world, moved)["customer_id_l"], suggestion(world, moved)["customer_id_r"]) == (1, 3)
    assert suggestion(world, dup)["status_reason"] == f"after merge 9 it repeats suggestion {twin} (1 and 4)"


def test_an_approval_survives_a_full_match_run(world: Store) -> None:
    approved = approve(world, 3, 6)  # a pair the engine would never suggest
    started = utcnow()
    identities, _, excluded = match_runs.load_match_input(world)
    result = run_match(identities, MatchConfig.from_settings(None), excluded_customer_ids=excluded)
    match_runs.save_match_result(
        world, result, "full", started, utcnow(), identities.get_column("identity_id")
    )
    assert suggestion(world, approved)["status"] == "approved"
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 1 and suggestion(world, approved)["status"] == "applied"


def test_merge_rows_keep_the_before_image(world: Store) -> None:
    merge = merging.merge_customers(world, 2, 5, "ann", REVIEW, comment="same")
    row = sql.get_merge(world, merge["merge_id"])
    assert row is not None and row["comment"] == "same" and row["kind"] == "manual"
    image = row["before_image"]
    assert image["absorbed"]["customer_id"] == 5 and image["survivor"]["customer_id"] == 2
    assert image["absorbed_identity_ids"] == [5] and image["absorbed_comment_ids"] == [2]
    audit = world.rows("SELECT * FROM audit_log WHERE action = 'merge'")[0]
    assert (
        audit["actor"] == "ann"
        and json.loads(audit["details"])["before_image"]["absorbed"]["customer_id"] == 5
    )
    assert sql.list_merges(world, [5])[0]["merge_id"] == merge["merge_id"]
    assert sql.list_merges(world, [3]) == []
