"""Applying approved merges, merging by hand, undo and the merge log, on small ingested stores."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from domain.settings import IngestSettings, ReviewSettings, Settings
from ingest.pipeline import ingest_file
from review import merging
from review.errors import ReviewError
from store import Store, open_store, redirects, utcnow
from store.views.record import customer_record
from tests.helpers import write_csv
from tests.review.builders import HEADER, add_suggestion, suggestion

REVIEW = ReviewSettings()
MESSAGE_HEADER = ["thread_id", "message_id", "channel", "external_id", "author_kind", "agent_name", "body",
                  "created_at"]  # fmt: skip
SNAPSHOT_TABLES = ("customers", "identities", "conversations", "messages", "comments")


PEOPLE = [
    ["email", "alice@example.com", "Alice", "Moss", "alice@example.com", "+447911123401", "Leeds", ""],
    ["chat", "c-alice", "Alice", "Moss", "", "07911 123402", "Leeds", ""],
    ["email", "brian.novak@example.org", "Brian", "Novak", "brian.novak@example.org", "", "York", ""],
    ["twitter", "tw-99", "Bryan", "Novak", "", "", "", "bnovak"],
    ["email", "chloe@ortiz.net", "Chloe", "Ortiz", "chloe@ortiz.net", "+447911123403", "Bath", ""],
    ["chat", "c-derek", "Derek", "Patel", "", "+447911123404", "Hull", ""],
]


def build_world(tmp_path: Path, settings: Settings, store: Store) -> None:
    """Six customers (ids 1..6, one per row of PEOPLE), conversations with messages, comments."""
    report = ingest_file(store, write_csv(tmp_path / "people.csv", HEADER, PEOPLE), settings.ingest)
    assert report.status == "loaded", report.error
    messages = [
        ["t1", "m1", "chat", "c-alice", "customer", "", "Hi, my order is late", "2024-02-01T10:00:00Z"],
        ["t1", "m2", "chat", "c-alice", "agent", "Sam", "Sorry Alice, checking", "2024-02-01T10:01:00Z"],
        ["t2", "m3", "email", "alice@example.com", "customer", "", "Invoice please", "2024-03-01T09:00:00Z"],
        ["t3", "m4", "email", "chloe@ortiz.net", "customer", "", "Hello", "2024-03-02T09:00:00Z"],
    ]
    report = ingest_file(
        store, write_csv(tmp_path / "messages_x.csv", MESSAGE_HEADER, messages), settings.ingest
    )
    assert report.status == "loaded", report.error
    add_comment(store, "Sam", "prefers chat", customer_id=2)
    add_comment(store, "Kim", "VIP", customer_id=5)
    add_comment(store, "Sam", "about the late order", conversation_id=1)


def add_comment(store: Store, agent: str, body: str, *, customer_id: int | None = None,
                conversation_id: int | None = None) -> int:  # fmt: skip
    """Insert one comment (the review page's add_comment does the same)."""
    with store.transaction():
        comment_id = store.next_id("comments", "comment_id")
        store.execute(
            "INSERT INTO comments VALUES (?, ?, ?, ?, ?, ?)",
            [comment_id, customer_id, conversation_id, agent, body, utcnow()],
        )
    return comment_id


def approve(store: Store, left: int, right: int, agent: str = "ann") -> int:
    """An approved suggestion for a pair, as review.decisions.approve leaves it."""
    suggestion_id = add_suggestion(store, left, right)
    with store.transaction():
        store.execute(
            "UPDATE suggestions SET status = 'approved', decided_by = ?, decided_at = ? WHERE suggestion_id = ?",
            [agent, utcnow(), suggestion_id],
        )
    return suggestion_id


def reject(store: Store, left: int, right: int, agent: str = "kim") -> int:
    """A rejected suggestion and its cannot-link, as review.decisions.reject leaves them."""
    suggestion_id = add_suggestion(store, left, right, status="rejected")
    with store.transaction():
        store.execute(
            "INSERT INTO cannot_links VALUES (?, ?, ?, ?, ?, 'different people')",
            [min(left, right), max(left, right), suggestion_id, agent, utcnow()],
        )
    return suggestion_id


def set_lock(store: Store, customer_id: int, locked: bool) -> None:
    """Lock or unlock a customer (review.customers.lock/unlock do this with an audit entry)."""
    with store.transaction():
        store.execute(
            "UPDATE customers SET locked = ?, lock_reason = ? WHERE customer_id = ?",
            [locked, "fraud check" if locked else None, customer_id],
        )


def snapshot(store: Store, tables: tuple[str, ...] = SNAPSHOT_TABLES) -> dict[str, list[str]]:
    """Every row of these tables, order-insensitive (rows as sorted JSON strings)."""
    return {
        table: sorted(
            json.dumps(row, default=str, sort_keys=True) for row in store.rows(f"SELECT * FROM {table}")
        )
        for table in tables
    }


def owner_of(store: Store, channel: str, external_id: str) -> int:
    return int(
        store.scalar(
            "SELECT customer_id FROM identities WHERE channel = ? AND external_id = ?", [channel, external_id]
        )
    )


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world built once (ingest is the slow part); each test gets a copy of the file."""
    folder = tmp_path_factory.mktemp("merge-world")
    settings = Settings(
        store=folder / "template.duckdb",
        ingest=IngestSettings(data_docs_dir=folder / "gx_docs", landing_dir=folder / "landing"),
    )
    with open_store(settings.store) as store:
        build_world(folder, settings, store)
    return settings.store


@pytest.fixture
def world(world_template: Path, settings: Settings) -> Iterator[Store]:
    """A fresh copy of the world store, open."""
    shutil.copyfile(world_template, settings.store)
    with open_store(settings.store) as store:
        yield store


def test_approved_merges_chain_transitively_into_the_oldest_customer(world: Store) -> None:
    s25 = approve(world, 2, 5)
    s12 = approve(world, 1, 2)
    s15 = approve(world, 1, 5)  # closes a cycle: already joined by the two above
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 2 and report["held_back"] == 0 and report["superseded"] == 0
    assert report["already_joined"] == [s15]
    for customer in (1, 2, 5):
        assert redirects.resolve_one(world, customer).survivor == 1
    assert world.scalar("SELECT count(*) FROM identities WHERE customer_id = 1") == 3
    assert world.rows(
        "SELECT customer_id, status, merged_into FROM customers WHERE customer_id IN (2, 5) ORDER BY 1"
    ) == [
        {"customer_id": 2, "status": "merged", "merged_into": 1},
        {"customer_id": 5, "status": "merged", "merged_into": 2},
    ]
    record = customer_record(world, 5)
    assert record is not None and record["customer_id"] == 1 and record["redirected_from"] == [5, 2]
    assert {c["conversation_id"] for c in record["conversations"]} == {1, 2, 3}
    assert {c["body"] for c in record["comments"]} == {"prefers chat", "VIP", "about the late order"}
    assert [suggestion(world, s)["status"] for s in (s25, s12, s15)] == ["applied"] * 3
    # a re-run finds nothing to do and changes nothing
    before = snapshot(world, (*SNAPSHOT_TABLES, "suggestions", "merges"))
    again = merging.apply_approved(world, "apply-merges", REVIEW)
    assert again["approved_seen"] == 0 and again["merges_applied"] == 0
    assert snapshot(world, (*SNAPSHOT_TABLES, "suggestions", "merges")) == before


def test_merged_profile_follows_survivorship_and_names_its_sources(world: Store) -> None:
    with world.transaction():  # an agent corrected customer 2's city
        world.execute(
            "UPDATE customers SET city = 'Wakefield', agent_edited = ['city'] WHERE customer_id = 2"
        )
    approve(world, 1, 2)
    merging.apply_approved(world, "apply-merges", REVIEW)
    profile = world.rows("SELECT * FROM customers WHERE customer_id = 1")[0]
    sources = json.loads(profile["profile_sources"])
    assert profile["city"] == "Wakefield" and sources["city"]["rule"] == "agent_edited"
    assert profile["agent_edited"] == ["city"]
    assert (profile["first_name"], profile["last_name"]) == ("Alice", "Moss")
    assert sources["first_name"]["identity_id"] in (1, 2) and sources["first_name"]["rule"]
    assert profile["emails"] == ["alice@example.com"]
    assert profile["phones"] == ["+447911123401", "+447911123402"]
    assert sources["phones"]["identity_ids"] == [1, 2]
    assert sources["emails"]["identity_ids"] == [1]


def test_a_cannot_link_holds_back_a_chain_that_would_join_different_people(world: Store) -> None:
    reject(world, 1, 5)
    s12 = approve(world, 1, 2)
    s25 = approve(world, 2, 5)
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 1 and report["held_back"] == 1
    held = suggestion(world, s25)
    assert held["status"] == "held" and "customers 1 and 5" in held["status_reason"]
    assert "kim" in held["status_reason"]
    assert suggestion(world, s12)["status"] == "applied"
    assert redirects.resolve_one(world, 5).survivor == 5
    # held stays held on later runs (flagged for an agent), without rewriting the row
    updated_at = held["updated_at"]
    assert merging.apply_approved(world, "apply-merges", REVIEW)["held_back"] == 1
    assert suggestion(world, s25)["updated_at"] == updated_at
    with pytest.raises(ReviewError, match="marked as different people"):
        merging.merge_customers(world, 5, 2, "ann", REVIEW)


def test_stale_suggestions_are_repointed_or_superseded_never_applied_blindly(world: Store) -> None:
    merging.merge_customers(world, 3, 4, "ann", REVIEW)  # 4 now redirects to 3
    s46 = approve(world, 4, 6)  # re-pointed to (3, 6)
    s34 = approve(world, 3, 4)  # both sides are customer 3 already
    with world.transaction():
        world.execute(
            "UPDATE customers SET status = 'anonymized', anonymized_at = now() WHERE customer_id = 5"
        )
    s15 = approve(world, 1, 5)
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 1 and report["superseded"] == 2
    assert suggestion(world, s46)["status"] == "applied"
    assert "customer 4 was merged into 3" in suggestion(world, s46)["status_reason"]
    assert redirects.resolve_one(world, 6).survivor == 3
    assert (
        suggestion(world, s34)["status"] == "superseded"
        and "already merged" in suggestion(world, s34)["status_reason"]
    )
    assert (
        suggestion(world, s15)["status"] == "superseded"
        and "anonymized" in suggestion(world, s15)["status_reason"]
    )
    assert redirects.resolve_one(world, 1).survivor == 1


def test_pending_suggestions_follow_the_survivor(world: Store) -> None:
    p26 = add_suggestion(world, 2, 6)
    p12 = add_suggestion(world, 1, 2)
    p16 = add_suggestion(world, 1, 6)
    p23 = add_suggestion(world, 2, 3)
    merging.merge_customers(world, 1, 2, "ann", REVIEW)
    assert suggestion(world, p12)["status"] == "applied"  # the agent's merge decided it
    assert (
        suggestion(world, p26)["status"] == "superseded"
        and f"repeats suggestion {p16}" in suggestion(world, p26)["status_reason"]
    )
    moved = suggestion(world, p23)
    assert (moved["status"], moved["customer_id_l"], moved["customer_id_r"]) == ("pending", 1, 3)


def test_locked_customers_are_never_merged_until_unlocked(world: Store) -> None:
    set_lock(world, 2, True)
    s12 = approve(world, 1, 2)
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 0 and report["held_back"] == 1
    assert suggestion(world, s12)["status"] == "held"
    assert "locked (reason: fraud check)" in suggestion(world, s12)["status_reason"]
    with pytest.raises(ReviewError, match="customer 2 is locked"):
        merging.merge_customers(world, 1, 2, "ann", REVIEW)
    set_lock(world, 2, False)
    assert (
        merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 1
    )  # the approval survived
    assert suggestion(world, s12)["status"] == "applied"
    merge_id = merging.merge_log(world, 2)[0]["merge_id"]
    set_lock(world, 1, True)
    with pytest.raises(ReviewError, match=r"customer 1 is locked .* unlock it first"):
        merging.undo_merge(world, merge_id, "ann")


def test_manual_merge_refuses_what_it_cannot_do(world: Store) -> None:
    with pytest.raises(ReviewError, match="with itself"):
        merging.merge_customers(world, 1, 1, "ann", REVIEW)
    with pytest.raises(ReviewError, match="no customer 99"):
        merging.merge_customers(world, 1, 99, "ann", REVIEW)
    merging.merge_customers(world, 1, 2, "ann", REVIEW)
    with pytest.raises(ReviewError, match="already merged"):
        merging.merge_customers(world, 2, 1, "ann", REVIEW)
    with world.transaction():
        world.execute(
            "UPDATE customers SET status = 'anonymized', anonymized_at = now() WHERE customer_id = 6"
        )
    with pytest.raises(ReviewError, match="anonymized"):
        merging.merge_customers(world, 3, 6, "ann", REVIEW)


def test_undo_puts_the_store_back_exactly(world: Store) -> None:
    before = snapshot(world)
    merge = merging.merge_customers(world, 2, 5, "ann", REVIEW, comment="same person")
    assert snapshot(world) != before
    undo = merging.undo_merge(world, merge["merge_id"], "kim", comment="not the same")
    assert undo["survivor_profile"].startswith("exactly")
    assert snapshot(world) == before
    log = merging.merge_log(world)
    assert log[0]["status"] == "undone" and log[0]["undone_by"] == "kim"
    assert (
        world.scalar("SELECT count(*) FROM cannot_links WHERE customer_id_a = 2 AND customer_id_b = 5") == 1
    )
    actions = [row["action"] for row in world.rows("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions[-2:] == ["merge", "merge_undo"]
    with pytest.raises(ReviewError, match="already undone by kim"):
        merging.undo_merge(world, merge["merge_id"], "kim")
    with pytest.raises(ReviewError, match="no merge 42"):
        merging.undo_merge(world, 42, "kim")


def test_undo_after_a_later_unrelated_merge(world: Store) -> None:
    before = snapshot(world)
    s12 = approve(world, 1, 2)
    merging.apply_approved(world, "apply-merges", REVIEW)
    first = merging.merge_log(world, 1)[0]["merge_id"]
    merging.merge_customers(world, 3, 4, "ann", REVIEW)  # unrelated
    merging.undo_merge(world, first, "kim")
    restored = snapshot(world)
    other = {3, 4}

    def rows_of(snap: dict[str, list[str]], table: str) -> list[str]:
        return [r for r in snap[table] if json.loads(r)["customer_id"] not in other]

    for table in ("customers", "identities", "comments"):
        assert rows_of(restored, table) == rows_of(before, table), table
    assert restored["conversations"] == before["conversations"] and restored["messages"] == before["messages"]
    status = suggestion(world, s12)
    assert (status["status"], status["status_reason"]) == ("rejected", f"merge {first} undone by kim")
    merging.undo_merge(world, merging.merge_log(world, 3)[0]["merge_id"], "kim")
    assert snapshot(world) == before


def test_undo_of_the_outer_merge_of_a_chain_keeps_the_inner_one(world: Store) -> None:
    merging.merge_customers(world, 2, 5, "ann", REVIEW)  # 5 into 2
    between = snapshot(world)
    outer = merging.merge_customers(world, 1, 2, "ann", REVIEW)  # 2 (holding 5) into 1
    assert owner_of(world, "email", "chloe@ortiz.net") == 1
    merging.undo_merge(world, outer["merge_id"], "kim")
    assert snapshot(world) == between
    assert redirects.resolve_one(world, 5).survivor == 2


def test_undo_of_the_inner_merge_after_the_outer_one(world: Store) -> None:
    before = snapshot(world)
    inner = merging.merge_customers(world, 2, 5, "ann", REVIEW)
    outer = merging.merge_customers(world, 1, 2, "ann", REVIEW)
    undo = merging.undo_merge(world, inner["merge_id"], "kim")
    assert undo["holder_id"] == 1 and undo["survivor_profile"].startswith("rebuilt")
    assert owner_of(world, "email", "chloe@ortiz.net") == 5 and owner_of(world, "chat", "c-alice") == 1
    assert world.rows("SELECT status, merged_into FROM customers WHERE customer_id = 5") == [
        {"status": "active", "merged_into": None}
    ]
    assert world.scalar("SELECT customer_id FROM comments WHERE body = 'VIP'") == 5
    profile = world.rows("SELECT emails FROM customers WHERE customer_id = 1")[0]
    assert profile["emails"] == ["alice@example.com"]  # chloe's address left with her
    merging.undo_merge(world, outer["merge_id"], "kim")
    assert snapshot(world, ("identities", "conversations", "messages", "comments")) == {
        table: before[table] for table in ("identities", "conversations", "messages", "comments")
    }


def test_merge_log_of_a_customer(world: Store) -> None:
    merging.merge_customers(world, 2, 5, "ann", REVIEW)
    merging.merge_customers(world, 1, 2, "ann", REVIEW)
    merging.merge_customers(world, 3, 4, "ann", REVIEW)
    assert len(merging.merge_log(world)) == 3
    log = merging.merge_log(world, 5)
    assert [(m["survivor_id"], m["absorbed_id"]) for m in log] == [(1, 2), (2, 5)]
    assert merging.merge_log(world, 1, limit=1)[0]["absorbed_id"] == 2


STEPS = ("run_started", "identities_moved", "comments_moved", "customer_redirected", "profile_rebuilt",
         "merge_written", "suggestions_repointed", "suggestion_marked", "run_recorded")  # fmt: skip
ALL_TABLES = (*SNAPSHOT_TABLES, "suggestions", "merges", "merge_runs", "cannot_links", "audit_log")


class Injected(RuntimeError):
    pass


def _fail_at(step: str, seen: dict[str, int]) -> Callable[[str], None]:
    def fail_at(name: str) -> None:
        seen[name] = seen.get(name, 0) + 1
        if name == step:
            raise Injected(name)

    return fail_at


def test_a_run_goes_through_every_step_once_however_many_merges(
    world: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve(world, 2, 5)
    approve(world, 1, 2)
    seen: dict[str, int] = {}
    monkeypatch.setattr(merging, "_step", lambda name: seen.__setitem__(name, seen.get(name, 0) + 1))
    assert merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 2
    assert seen == dict.fromkeys(STEPS, 1)  # set-based: a step per run, not per merge


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_of_apply_leaves_the_store_unchanged(
    world: Store, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    approve(world, 2, 5)
    approve(world, 1, 2)
    add_suggestion(world, 5, 6)  # pending: re-pointed by the merge
    before = snapshot(world, ALL_TABLES)
    seen: dict[str, int] = {}
    monkeypatch.setattr(merging, "_step", _fail_at(step, seen))
    with pytest.raises(Injected):
        merging.apply_approved(world, "apply-merges", REVIEW)
    assert seen[step] == 1
    assert snapshot(world, ALL_TABLES) == before
    monkeypatch.setattr(merging, "_step", lambda name: None)
    assert merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 2
    done = snapshot(world, ALL_TABLES)
    assert merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 0
    again = snapshot(world, ALL_TABLES)
    assert {t: again[t] for t in (*SNAPSHOT_TABLES, "suggestions", "merges")} == {
        t: done[t] for t in (*SNAPSHOT_TABLES, "suggestions", "merges")
    }


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_in_a_later_run_keeps_what_the_earlier_run_applied(
    world: Store, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    approve(world, 2, 5)
    assert merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 1
    approve(world, 1, 2)
    before = snapshot(world, ALL_TABLES)
    seen: dict[str, int] = {}
    monkeypatch.setattr(merging, "_step", _fail_at(step, seen))
    with pytest.raises(Injected):
        merging.apply_approved(world, "apply-merges", REVIEW)
    assert seen[step] == 1
    assert snapshot(world, ALL_TABLES) == before  # the first run's merge stays, the second left nothing
    monkeypatch.setattr(merging, "_step", lambda name: None)
    assert merging.apply_approved(world, "apply-merges", REVIEW)["merges_applied"] == 1
    assert world.scalar("SELECT count(*) FROM merges WHERE undone_at IS NULL") == 2


@pytest.mark.parametrize("step", ["undo_identities_moved", "undo_comments_moved", "undo_customers_restored",
                                  "undo_recorded"])  # fmt: skip
def test_a_failure_during_undo_leaves_the_merge_in_place(
    world: Store, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    merge = merging.merge_customers(world, 2, 5, "ann", REVIEW)
    before = snapshot(world, ALL_TABLES)

    def fail_at(name: str) -> None:
        if name == step:
            raise Injected(name)

    monkeypatch.setattr(merging, "_step", fail_at)
    with pytest.raises(Injected):
        merging.undo_merge(world, merge["merge_id"], "kim")
    assert snapshot(world, ALL_TABLES) == before


def test_interrupting_a_run_with_ctrl_c_rolls_it_back(world: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    approve(world, 1, 2)
    before = snapshot(world, ALL_TABLES)

    def interrupt(name: str) -> None:
        if name == "merge_written":
            raise KeyboardInterrupt

    monkeypatch.setattr(merging, "_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        merging.apply_approved(world, "apply-merges", REVIEW)
    assert snapshot(world, ALL_TABLES) == before


def test_manual_merge_of_a_merged_away_id_merges_its_survivor(world: Store) -> None:
    merging.merge_customers(world, 2, 5, "ann", REVIEW)
    merge = merging.merge_customers(world, 5, 3, "ann", REVIEW)
    assert (merge["survivor_id"], merge["absorbed_id"]) == (2, 3)
    assert merge["note"] == "customer 5 was merged into 2"


def test_survivorship_rules_come_from_the_review_settings(world: Store) -> None:
    with world.transaction():  # the newer identity of customer 2 spells the name differently
        world.execute(
            "UPDATE identities SET first_name = 'Ally', updated_at = '2024-05-01' WHERE identity_id = 2"
        )
        world.execute("UPDATE identities SET updated_at = '2024-01-01' WHERE identity_id = 1")
    merging.merge_customers(world, 1, 2, "ann", ReviewSettings(survivorship=["most_recent"]))
    sources = json.loads(world.scalar("SELECT profile_sources FROM customers WHERE customer_id = 1"))
    assert world.scalar("SELECT first_name FROM customers WHERE customer_id = 1") == "Ally"
    assert sources["first_name"] == {"identity_id": 2, "channel": "chat", "rule": "most_recent"}
    merging.undo_merge(world, 1, "kim")
    with world.transaction():
        world.execute("DELETE FROM cannot_links")
    merging.merge_customers(world, 1, 2, "ann", ReviewSettings(survivorship=["most_frequent"]))
    sources = json.loads(world.scalar("SELECT profile_sources FROM customers WHERE customer_id = 1"))
    # a one-to-one tie: no rule decides, the oldest identity's value is kept
    assert world.scalar("SELECT first_name FROM customers WHERE customer_id = 1") == "Alice"
    assert sources["first_name"]["rule"] == "oldest"


@pytest.mark.slow
def test_generated_sample_merge_everything_then_undo_in_any_order(
    tmp_path: Path, settings: Settings, store: Store
) -> None:
    import random

    from data.generator import generate, write_sample
    from matching import MatchConfig, run_match
    from store import match_runs

    files = write_sample(generate(1500, seed=3), tmp_path / "sample")
    for path in sorted((f for f in files if "truth" not in str(f)), key=lambda p: "messages" in p.name):
        assert ingest_file(store, path, settings.ingest).ok
    identities, _, excluded = match_runs.load_match_input(store)
    result = run_match(identities, MatchConfig.from_settings(None), excluded_customer_ids=excluded)
    match_runs.save_match_result(
        store, result, "full", utcnow(), utcnow(), identities.get_column("identity_id")
    )
    before = snapshot(store)
    with store.transaction():
        store.execute(
            "UPDATE suggestions SET status = 'approved' WHERE band <> 'related' AND probability >= 0.9"
        )
    report = merging.apply_approved(store, "apply-merges", REVIEW)
    assert report["merges_applied"] > 10

    def orphans() -> int:
        return int(
            store.scalar(
                """SELECT count(*) FROM identities i JOIN customers c USING (customer_id)
                WHERE c.status = 'merged'"""
            )
        )

    assert orphans() == 0
    merges = merging.merge_log(store, limit=100_000)
    random.Random(1).shuffle(merges)
    for merge in merges:
        merging.undo_merge(store, merge["merge_id"], "kim")
    assert orphans() == 0
    after = snapshot(store)
    for table in ("identities", "conversations", "messages", "comments"):
        assert after[table] == before[table], table
    profile = "customer_id, status, merged_into, first_name, last_name, display_name, city, emails, phones"
    # out of order, a survivor's profile is rebuilt (new updated_at and per-field sources), same values
    assert store.rows(f"SELECT {profile} FROM customers ORDER BY 1") == [
        {column: row[column] for column in profile.split(", ")}
        for row in sorted((json.loads(r) for r in before["customers"]), key=lambda r: r["customer_id"])
    ]


def test_an_apply_run_audits_each_merge_as_its_merges_row(world: Store) -> None:
    approve(world, 2, 5)
    approve(world, 1, 2, agent="bo")
    approve(world, 3, 4)
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert report["merges_applied"] == 3
    fields = "merge_id, survivor_id, absorbed_id, suggestion_id, kind, requested_by, applied_by, apply_run_id, applied_at, comment"
    merges = world.rows(f"SELECT {fields}, before_image FROM merges ORDER BY merge_id")
    entries = world.rows("SELECT subject_id, details FROM audit_log WHERE action = 'merge' ORDER BY audit_id")
    assert len(entries) == len(merges) == 3
    for merge, entry in zip(merges, entries, strict=True):
        image = json.loads(merge.pop("before_image"))
        # the entry's text is the merges row as json.dumps writes it (the before-image is kept once, in merges)
        assert entry == {"subject_id": str(merge["survivor_id"]), "details": json.dumps(merge, default=str)}
        assert image["survivor"]["customer_id"] == merge["survivor_id"]
        assert image["absorbed"]["customer_id"] == merge["absorbed_id"]
        assert image["absorbed_identity_ids"] == sorted(image["absorbed_identity_ids"])
    assert [m["requested_by"] for m in merges] == ["ann", "bo", "ann"]
    two = json.loads(world.scalar("SELECT before_image FROM merges WHERE absorbed_id = 2"))
    # 5 was merged into 2 first: 2 took its identities and comments with it into 1
    assert (two["absorbed_identity_ids"], two["absorbed_comment_ids"]) == ([2, 5], [1, 2])


def test_a_cannot_link_travels_with_the_absorbed_customer_within_a_run(world: Store) -> None:
    reject(world, 4, 5)
    s35 = approve(world, 3, 5)  # 3 has no cannot-link of its own: it takes 5's
    s34 = approve(world, 3, 4)  # would join 4 and 5 through 3
    s46 = approve(world, 4, 6)  # 4 is still free to join others
    report = merging.apply_approved(world, "apply-merges", REVIEW)
    assert (report["merges_applied"], report["held_back"]) == (2, 1)
    assert [suggestion(world, s)["status"] for s in (s35, s34, s46)] == ["applied", "held", "applied"]
    assert "customers 4 and 5" in suggestion(world, s34)["status_reason"]
    assert redirects.resolve_one(world, 5).survivor == 3 and redirects.resolve_one(world, 6).survivor == 4
