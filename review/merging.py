"""Merging customers: apply approved suggestions, merge by hand, undo a merge, and the merge log.

Every merge goes through `_absorb`: the survivor takes the absorbed customer's identities (their
conversations and messages follow) and comments, the absorbed id becomes a redirect, the survivor's
profile is rebuilt by survivorship, and a `merges` row plus an audit entry keep the before-image of
both customers. The survivor is always the lower customer id: ids are handed out in load order,
so that is the older customer, and the choice does not depend on the order approvals come in.

Approvals are applied in suggestion order, each through the redirects the earlier ones left, so
A-B then B-C ends as one customer (the store's `merged_into` is the union-find's parent pointer).
A pair that would join two customers an agent said are different (a cannot-link between any of
their members) is held back and flagged; so is a pair with a locked customer, until the unlock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.columns import PROFILE_FIELDS
from domain.settings import ReviewSettings
from domain.statuses import (
    APPLICABLE_SUGGESTIONS,
    OPEN_SUGGESTIONS,
    CustomerStatus,
    MergeStatus,
    SuggestionStatus,
)
from review.errors import ReviewError
from review.staleness import check_suggestion
from review.survivorship import build_profiles
from store import cannot_links, redirects, suggestions
from store import labels as label_sql
from store import merges as sql
from store.db import Store, utcnow

_PROFILE_FIELDS = PROFILE_FIELDS


def _step(name: str) -> None:
    """A named point between the steps of a merge or an apply run; tests inject failures here."""


def _agent_values(*rows: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The agent-edited values of these customer rows (the first row wins a field) and the field list."""
    values: dict[str, Any] = {}
    for row in rows:
        for field in row.get("agent_edited") or []:
            if field in _PROFILE_FIELDS and field not in values:
                values[field] = row.get(field)
    return values, list(values)


def rebuild_profile(
    store: Store, customer_id: int, review: ReviewSettings, now: datetime, *agent_rows: dict[str, Any]
) -> None:
    """Rebuild a customer's profile from its identities by survivorship, keeping agents' edits.

    `agent_rows` are customer rows whose edits count too, after the customer's own (as it is now,
    unless its row is passed first).
    """
    if not agent_rows or agent_rows[0].get("customer_id") != customer_id:
        row = sql.customer_row(store, customer_id)
        if row is None:
            raise ReviewError(f"no customer {customer_id}")
        agent_rows = (row, *agent_rows)
    agent_values, edited = _agent_values(*agent_rows)
    identities = sql.identity_profile_values(store, [customer_id])
    profiles = build_profiles(
        identities, {customer_id: agent_values}, review.survivorship, review.list_fields
    )
    profile, sources = profiles[customer_id]
    sql.write_profile(store, customer_id, profile, sources, edited, now)


def profile_rebuilder(review: ReviewSettings) -> Callable[[Store, list[int], datetime], None]:
    """What ingest calls to rebuild merged customers' profiles after their identities changed."""

    def rebuild(store: Store, customer_ids: list[int], now: datetime) -> None:
        for customer_id in customer_ids:
            rebuild_profile(store, customer_id, review, now)

    return rebuild


def _absorb(
    store: Store,
    survivor_id: int,
    absorbed_id: int,
    *,
    actor: str,
    requested_by: str,
    kind: str,
    review: ReviewSettings,
    now: datetime,
    suggestion_id: int | None = None,
    run_id: int | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Merge one customer into another, with before-image, merges row and audit entry."""
    survivor = sql.customer_row(store, survivor_id)
    absorbed = sql.customer_row(store, absorbed_id)
    assert survivor is not None and absorbed is not None  # callers resolved both just before
    identity_ids = sql.identity_ids(store, absorbed_id)
    comment_ids = sql.comment_ids(store, absorbed_id)
    sql.move_identities(store, absorbed_id, survivor_id)
    _step("identities_moved")
    sql.move_comments(store, absorbed_id, survivor_id)
    _step("comments_moved")
    sql.redirect(store, absorbed_id, survivor_id, now)
    _step("customer_redirected")
    rebuild_profile(store, survivor_id, review, now, survivor, absorbed)  # the moves left both rows as read
    _step("profile_rebuilt")
    after = sql.customer_row(store, survivor_id)
    assert after is not None
    before_image = {
        "survivor": sql.image_of(survivor),
        "absorbed": sql.image_of(absorbed),
        "absorbed_identity_ids": identity_ids,
        "absorbed_comment_ids": comment_ids,
        # the survivor as this merge left it: an undo restores the before-image only if it is unchanged
        "survivor_after": sql.image_of(after),
    }
    merge = {
        "survivor_id": survivor_id,
        "absorbed_id": absorbed_id,
        "suggestion_id": suggestion_id,
        "kind": kind,
        "requested_by": requested_by,
        "applied_by": actor,
        "apply_run_id": run_id,
        "applied_at": now,
        "comment": comment,
    }
    merge_id = sql.insert_merge(store, {**merge, "before_image": before_image})
    store.audit(
        actor, "merge", "customer", survivor_id, {"merge_id": merge_id, **merge, "before_image": before_image}
    )
    _step("merge_written")
    queue = suggestions.repoint_pending(store, absorbed_id, survivor_id, merge_id, now)
    _step("suggestions_repointed")
    return {
        "merge_id": merge_id,
        **merge,
        "identities_moved": len(identity_ids),
        "comments_moved": len(comment_ids),
        "pending_repointed": queue["repointed"],
        "pending_superseded": queue["superseded"],
    }


def _cannot_link_reason(store: Store, customer_l: int, customer_r: int) -> str | None:
    """Why two customers must not be joined (a cannot-link between their members), else None."""
    link = cannot_links.between(store, customer_l, customer_r)
    if link is None:
        return None
    source = f" (suggestion {link['suggestion_id']})" if link["suggestion_id"] is not None else ""
    return (
        f"it would join customers {link['customer_id_a']} and {link['customer_id_b']}, which "
        f"{link['created_by']} marked as different people{source}; reject this pair, or merge by hand "
        f"only if that decision was wrong"
    )


def merge_customers(
    store: Store,
    customer_a: int,
    customer_b: int,
    agent: str,
    review_settings: ReviewSettings,
    comment: str | None = None,
) -> dict[str, Any]:
    """Merge two customers now, as an agent does by hand (audited and undoable like any merge)."""
    if customer_a == customer_b:
        raise ReviewError(f"cannot merge customer {customer_a} with itself")
    now = utcnow()
    with store.transaction():
        check = check_suggestion(store, {"customer_id_l": customer_a, "customer_id_r": customer_b})
        if check.action in ("superseded", "blocked"):
            reason = check.reason or "the customers changed"
            if "no longer exists" in reason:
                missing = [c for c in (customer_a, customer_b) if sql.customer_row(store, c) is None]
                reason = f"no customer {missing[0]}" if missing else reason
            raise ReviewError(f"cannot merge {customer_a} and {customer_b}: {reason}")
        assert check.customer_l is not None and check.customer_r is not None
        conflict = _cannot_link_reason(store, check.customer_l, check.customer_r)
        if conflict:
            raise ReviewError(f"cannot merge {customer_a} and {customer_b}: {conflict}")
        existing = suggestions.for_pair(store, check.customer_l, check.customer_r, OPEN_SUGGESTIONS)
        identities_l = sql.identity_ids(store, check.customer_l)
        identities_r = sql.identity_ids(store, check.customer_r)
        merge = _absorb(
            store,
            check.customer_l,
            check.customer_r,
            actor=agent,
            requested_by=agent,
            kind="manual",
            review=review_settings,
            now=now,
            suggestion_id=existing["suggestion_id"] if existing else None,
            comment=comment,
        )
        if existing:
            reason = f"merged by hand by {agent} (merge {merge['merge_id']})"
            suggestions.move(
                store, existing["suggestion_id"], SuggestionStatus.APPLIED, reason, now, decided_by=agent
            )
        # a training label (matching/learning.py): the suggestion's pair, else the customers' pairs
        if existing:
            label_sql.record_for_suggestions(
                store, [existing["suggestion_id"]], label_sql.MANUAL_MERGE, agent, now, merge["merge_id"]
            )
        else:
            label_sql.record_for_customers(
                store, identities_l, identities_r, check.customer_l, check.customer_r,
                label_sql.MANUAL_MERGE, agent, now, merge["merge_id"],
            )  # fmt: skip
    if check.action == "repointed":
        merge["note"] = check.reason
    return merge


def _hold(store: Store, suggestion: dict[str, Any], reason: str, now: datetime) -> None:
    if suggestion["status"] != SuggestionStatus.HELD or suggestion["status_reason"] != reason:
        suggestions.move(store, suggestion["suggestion_id"], SuggestionStatus.HELD, reason, now)


def apply_approved(store: Store, actor: str, review_settings: ReviewSettings) -> dict[str, Any]:
    """Apply every approved (and previously held) suggestion in one transaction; returns the run's report.

    Set-based (`review.apply_run`): a few statements per run, the same outcome as one merge at a time.
    """
    from review.apply_run import apply_run

    return apply_run(store, actor, review_settings)


def merge_now(
    store: Store, suggestion_id: int, agent: str, review_settings: ReviewSettings
) -> dict[str, Any]:
    """Apply one approved suggestion at once, through the same audited apply run (instead of waiting)."""
    from review.apply_run import apply_run

    with store.transaction():
        row = suggestions.get(store, suggestion_id)
        if row is None:
            raise ReviewError(f"no suggestion {suggestion_id}")
        if row["status"] not in APPLICABLE_SUGGESTIONS:
            raise ReviewError(
                f"suggestion {suggestion_id} is {row['status']}: only an approved pair can be merged now "
                "(approve it first)"
            )
        report = apply_run(store, agent, review_settings, only=[suggestion_id])
    if not report["merges_applied"]:
        reasons = [h["reason"] for h in report["held_suggestions"] + report["superseded_suggestions"]]
        raise ReviewError(
            f"suggestion {suggestion_id} was not merged: {reasons[0] if reasons else 'nothing to do'}"
        )
    return report


def undo_merge(
    store: Store,
    merge_id: int,
    agent: str,
    comment: str | None = None,
    review_settings: ReviewSettings | None = None,
) -> dict[str, Any]:
    """Split a merged customer back exactly as it was; the pair becomes a cannot-link."""
    now = utcnow()
    review = review_settings or ReviewSettings()
    with store.transaction():
        merge = sql.get_merge(store, merge_id)
        if merge is None:
            raise ReviewError(f"no merge {merge_id} (see `idres merges log`)")
        if merge["status"] == MergeStatus.UNDONE:
            raise ReviewError(
                f"merge {merge_id} was already undone by {merge['undone_by']} at {merge['undone_at']}"
            )
        survivor_id, absorbed_id = int(merge["survivor_id"]), int(merge["absorbed_id"])
        image = merge["before_image"]
        holder_id = redirects.resolve_one(store, survivor_id).survivor
        holder = sql.customer_row(store, holder_id) if holder_id is not None else None
        absorbed = sql.customer_row(store, absorbed_id)
        if holder is None or absorbed is None:
            raise ReviewError(f"merge {merge_id} cannot be undone: a customer of it no longer exists")
        if holder["status"] == "anonymized" or holder["anonymized_at"] is not None:
            raise ReviewError(f"merge {merge_id} cannot be undone: customer {holder_id} was anonymized")
        if holder["locked"]:
            reason = holder["lock_reason"] or "no reason given"
            raise ReviewError(
                f"customer {holder_id} is locked (reason: {reason}) - unlock it first, then undo"
            )
        if absorbed["status"] != CustomerStatus.MERGED or absorbed["merged_into"] != survivor_id:
            raise ReviewError(
                f"merge {merge_id} cannot be undone: customer {absorbed_id} is no longer merged into {survivor_id}"
            )
        assert holder_id is not None
        identity_ids = [int(i) for i in image["absorbed_identity_ids"]]
        moved = sql.take_back(store, "identities", "identity_id", identity_ids, holder_id, absorbed_id)
        _step("undo_identities_moved")
        sql.take_back(store, "comments", "comment_id", image["absorbed_comment_ids"], holder_id, absorbed_id)
        _step("undo_comments_moved")
        sql.restore_customer(store, image["absorbed"])
        if set(sql.identity_ids(store, absorbed_id)) != set(identity_ids):
            # some of its identities left it since (an undo of an earlier merge into it): rebuild
            rebuild_profile(store, absorbed_id, review, now)
        current = sql.customer_row(store, survivor_id)
        if (
            holder_id == survivor_id
            and current is not None
            and sql.image_of(current) == image["survivor_after"]
        ):
            sql.restore_customer(store, image["survivor"])
            survivor_restored = "exactly, from the before-image"
        else:
            rebuild_profile(store, holder_id, review, now)
            survivor_restored = "rebuilt from its remaining identities (it changed after this merge)"
        _step("undo_customers_restored")
        sql.mark_undone(store, merge_id, agent, comment, now)
        if merge["suggestion_id"] is not None:
            reason = f"merge {merge_id} undone by {agent}"
            suggestions.move(
                store, merge["suggestion_id"], SuggestionStatus.REJECTED, reason, now, decided_by=agent
            )
        cannot_links.record_if_absent(
            store, survivor_id, absorbed_id, agent, now, merge["suggestion_id"],
            comment or f"merge {merge_id} undone",
        )  # fmt: skip
        _label_undo(store, merge, identity_ids, holder_id, agent, now)
        _step("undo_recorded")
        report = {
            "merge_id": merge_id,
            "survivor_id": survivor_id,
            "absorbed_id": absorbed_id,
            "holder_id": holder_id,
            "identities_returned": moved,
            "survivor_profile": survivor_restored,
            "undone_by": agent,
            "comment": comment,
        }
        store.audit(agent, "merge_undo", "customer", absorbed_id, report)
    return report


def _label_undo(
    store: Store, merge: dict[str, Any], absorbed_ids: list[int], holder_id: int, agent: str, now: datetime
) -> None:
    """An undo is a non-match label on the pairs the merge was labelled with (matching/learning.py)."""
    merge_id = int(merge["merge_id"])
    if merge["suggestion_id"] is not None:
        label_sql.record_for_suggestions(
            store, [int(merge["suggestion_id"])], label_sql.UNDO, agent, now, merge_id
        )
        return
    pairs = label_sql.labels_of_merge(store, merge_id)
    if pairs.height:  # the same identity pairs, so the undo's label replaces the merge's
        left = pairs.get_column("identity_id_l").to_list()
        right = pairs.get_column("identity_id_r").to_list()
        label_sql.record_pairs(store, left, right, label_sql.UNDO, agent, now, merge_id)
        return
    label_sql.record_for_customers(
        store, sql.identity_ids(store, holder_id), absorbed_ids, holder_id, int(merge["absorbed_id"]),
        label_sql.UNDO, agent, now, merge_id,
    )  # fmt: skip


def merge_log(store: Store, customer_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Merges newest first; with a customer id, those that built or split its current customer."""
    if customer_id is None:
        return sql.list_merges(store, None, limit)
    redirect = redirects.resolve_one(store, customer_id)
    root = redirect.survivor
    ids = {customer_id, *redirect.chain} | (
        redirects.members(store, [root])[root] if root is not None else set()
    )
    return sql.list_merges(store, ids, limit)
