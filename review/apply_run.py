"""The apply-merges run, set-based: plan every merge of the run in memory, write it in a few statements.

Same outcome as merging approved pairs one by one (suggestion order, each through the redirects the
earlier ones left, survivor = the lower customer id, stale pairs superseded or re-pointed, locked
and cannot-linked pairs held), with the same guarantees: every merge keeps its before-image (the
survivor and absorbed rows as they stood just before it, what moved, the survivor after it), so
any merge can be undone; the run is one transaction, so a crash at any step leaves the store as it
was. Profiles are rebuilt by survivorship once per "round" (merges whose inputs are ready), not
once per merge.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from domain.columns import PROFILE_FIELDS
from domain.settings import ReviewSettings
from domain.statuses import CustomerStatus, SuggestionStatus
from review.survivorship import build_profiles
from store import bulk_merges as bulk
from store import cannot_links, redirects, suggestions
from store import merges as sql
from store.db import Store, utcnow

_S = SuggestionStatus


def _step(name: str) -> None:
    """A named point between the steps of an apply run; tests inject failures here."""
    from review import merging

    merging._step(name)


@dataclass
class _Plan:
    """What the run will do: merges in order, suggestion outcomes, the union-find over customers."""

    run_id: int
    pointers: dict[int, int]
    parent: dict[int, int] = field(default_factory=dict)
    merges: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    superseded: list[dict[str, Any]] = field(default_factory=list)
    already_joined: list[int] = field(default_factory=list)

    def stored_root(self, customer_id: int) -> int:
        """Where a customer stood before the run (following the store's merge redirects)."""
        return redirects.follow(self.pointers, customer_id)

    def find(self, customer_id: int) -> int:
        """The customer's root now, in this run (stored redirects, then this run's merges)."""
        root = self.stored_root(customer_id)
        path = []
        while self.parent.get(root, root) != root:
            path.append(root)
            root = self.parent[root]
        for node in path:
            self.parent[node] = root
        return root


def _cannot_link_index(
    store: Store, plan: _Plan
) -> tuple[dict[int, set[int]], dict[tuple[int, int], dict[str, Any]]]:
    """Cannot-links lifted to the customers' stored roots (root -> roots it must not join) and their rows."""
    by_root: dict[int, set[int]] = defaultdict(set)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for link in cannot_links.everything(store):
        a, b = plan.stored_root(int(link["customer_id_a"])), plan.stored_root(int(link["customer_id_b"]))
        by_root[a].add(b)
        by_root[b].add(a)
        rows.setdefault((min(a, b), max(a, b)), link)
    return by_root, rows


def plan_run(store: Store, run_id: int, runnable: list[dict[str, Any]]) -> _Plan:
    """Decide each runnable suggestion in order (the one-by-one semantics), without writing anything."""
    plan = _Plan(run_id, redirects.pointers(store))
    involved = {c for s in runnable for c in (int(s["customer_id_l"]), int(s["customer_id_r"]))}
    roots = {plan.stored_root(c) for c in involved}
    states = bulk.customer_states(store, sorted(roots))
    links, link_rows = _cannot_link_index(store, plan)
    # stored roots in each run component, and the roots it must not join: made when first needed
    # (a root absent from `members` is alone, one absent from `forbidden` has no cannot-link); a run
    # involves a few hundred thousand roots, most in one merge and without links
    members: dict[int, set[int]] = {}
    forbidden: dict[int, set[int]] = {root: set(links[root]) for root in roots if root in links}
    for suggestion in runnable:
        sid = int(suggestion["suggestion_id"])
        original = (int(suggestion["customer_id_l"]), int(suggestion["customer_id_r"]))
        pair = {"suggestion_id": sid, "customer_id_l": original[0], "customer_id_r": original[1]}
        before = [plan.stored_root(c) for c in original]
        now_roots = [plan.find(c) for c in original]
        missing = [c for c, root in zip(original, before, strict=True) if root not in states]
        if missing:
            reason = f"customer {missing[0]} no longer exists"
            plan.outcomes.append({"suggestion_id": sid, "status": _S.SUPERSEDED, "status_reason": reason})
            plan.superseded.append({**pair, "reason": reason})
            continue
        left, right = sorted(now_roots)
        if left == right:
            if before[0] != before[1]:
                reason = f"already joined by other approvals in apply run {run_id}"
                plan.outcomes.append({"suggestion_id": sid, "status": _S.APPLIED, "status_reason": reason})
                plan.already_joined.append(sid)
            else:
                reason = f"customers {original[0]} and {original[1]} are already merged into {left}"
                plan.outcomes.append({"suggestion_id": sid, "status": _S.SUPERSEDED, "status_reason": reason})
                plan.superseded.append({**pair, "reason": reason})
            continue
        stale = next((states[r] for r in (left, right) if states[r]["status"] == "anonymized"
                      or states[r]["anonymized"]), None)  # fmt: skip
        if stale is not None:
            reason = f"customer {stale['customer_id']} was anonymized"
            plan.outcomes.append({"suggestion_id": sid, "status": _S.SUPERSEDED, "status_reason": reason})
            plan.superseded.append({**pair, "reason": reason})
            continue
        locked = next((states[r] for r in (left, right) if states[r]["locked"]), None)
        if locked is not None:
            why = (
                f"customer {locked['customer_id']} is locked (reason: {locked['lock_reason'] or 'no reason given'}) "
                "- unlock it first"
            )
            reason = f"held back: {why}; the approval is kept and applied after the unlock"
            _hold(plan, suggestion, pair, reason)
            continue
        clash = forbidden[left] & members.get(right, {right}) if left in forbidden else set()
        if clash:
            other = min(clash)
            mine = next(m for m in sorted(members.get(left, {left})) if other in links.get(m, ()))
            link = link_rows[(min(mine, other), max(mine, other))]
            source = f" (suggestion {link['suggestion_id']})" if link["suggestion_id"] is not None else ""
            conflict = (
                f"it would join customers {link['customer_id_a']} and {link['customer_id_b']}, which "
                f"{link['created_by']} marked as different people{source}; reject this pair, or merge by hand "
                f"only if that decision was wrong"
            )
            _hold(plan, suggestion, pair, f"held back for an agent: {conflict}")
            continue
        plan.parent[right] = left
        members.setdefault(left, {left}).update(members.pop(right, {right}))
        if right in forbidden:
            forbidden.setdefault(left, set()).update(forbidden.pop(right))
        moved = [
            f"customer {c} was merged into {r}" for c, r in zip(original, now_roots, strict=True) if r != c
        ]
        plan.merges.append({"suggestion_id": sid, "survivor_id": left, "absorbed_id": right,
                            "requested_by": suggestion["decided_by"], "note": "; ".join(moved) or None})  # fmt: skip
    return plan


def _hold(plan: _Plan, suggestion: dict[str, Any], pair: dict[str, Any], reason: str) -> None:
    if suggestion["status"] != _S.HELD or suggestion["status_reason"] != reason:
        plan.outcomes.append(
            {"suggestion_id": pair["suggestion_id"], "status": _S.HELD, "status_reason": reason}
        )
    plan.held.append({**pair, "reason": reason})


def _agent_values(*rows: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    for row in rows:
        for name in row.get("agent_edited") or []:
            if name in PROFILE_FIELDS and name not in values:
                values[name] = row.get(name)
    return values, list(values)


def build_rows(
    store: Store, plan: _Plan, review: ReviewSettings, now: datetime
) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """Simulate the merges round by round: every merge's before/after images and what moved with it.

    Returns each survivor's rebuilt profile (by customer: the profile fields, profile_sources and
    agent_edited as its last merge left them) and the merges with their images. An image is the
    row's JSON text, or the row itself when the run changed it (written as JSON with the merges).
    A customer in one merge only (most of them) is never turned into Python values: its before
    image is the stored row's text and its after image is read back once the run has written it.
    """
    merges = plan.merges
    counts: dict[int, int] = defaultdict(int)
    for merge in merges:
        counts[merge["survivor_id"]] += 1
        counts[merge["absorbed_id"]] += 1
    customers = sorted(counts)
    current, rows = bulk.customer_images(store, customers, {c for c, n in counts.items() if n > 1})
    image: dict[int, Any] = dict(current)  # customer -> its image now (text, or the row the run made)
    stamp = bulk.stamp_text(now)
    values = bulk.identity_values(store, customers)
    identities: dict[int, list[int]] = defaultdict(list)
    for customer_id, identity_id in values.select("customer_id", "identity_id").iter_rows():
        identities[int(customer_id)].append(int(identity_id))
    comments: dict[int, list[int]] = defaultdict(list)
    for comment_id, customer_id in bulk.comment_owners(store, customers).iter_rows():
        comments[int(customer_id)].append(int(comment_id))
    held: dict[int, list[int]] = {c: [c] for c in customers}  # run root -> the stored customers it holds now
    ready: dict[int, int] = defaultdict(int)  # customer -> the round after which its row is final so far
    rounds: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for merge in merges:
        number = max(ready[merge["survivor_id"]], ready[merge["absorbed_id"]]) + 1
        ready[merge["survivor_id"]] = ready[merge["absorbed_id"]] = number
        rounds[number].append(merge)
    profiles_out: dict[int, dict[str, Any]] = {}
    no_row: dict[str, Any] = {}
    for number in sorted(rounds):
        batch = rounds[number]
        target = {m["absorbed_id"]: m["survivor_id"] for m in batch}
        for merge in batch:
            merge["before_survivor"] = image[merge["survivor_id"]]
            merge["before_absorbed"] = image[merge["absorbed_id"]]
            merge["absorbed_identity_ids"] = sorted(identities[merge["absorbed_id"]])
            merge["absorbed_comment_ids"] = sorted(comments[merge["absorbed_id"]])
        for absorbed, survivor in target.items():
            held[survivor] += held.pop(absorbed)
        # only this round's survivors are rebuilt: their stored customers, not every customer of the run
        survivors = sorted({m["survivor_id"] for m in batch})
        mapping = pl.DataFrame(
            {"customer_id": [c for s in survivors for c in held[s]],
             "root": [s for s in survivors for _ in held[s]]},
            schema={"customer_id": pl.Int64, "root": pl.Int64},
        )  # fmt: skip
        frame = (
            values.join(mapping, on="customer_id")
            .with_columns(pl.col("root").alias("customer_id"))
            .drop("root")
        )
        agent: dict[int, dict[str, Any]] = {}
        edited: dict[int, list[str]] = {}
        for merge in batch:  # rows not loaded have no agent edits
            pair = (rows.get(merge["survivor_id"]), rows.get(merge["absorbed_id"]))
            agent[merge["survivor_id"]], edited[merge["survivor_id"]] = (
                _agent_values(*(row or no_row for row in pair)) if pair != (None, None) else ({}, [])
            )
        profiles = build_profiles(frame, agent, review.survivorship, review.list_fields)
        for merge in batch:
            survivor, absorbed = merge["survivor_id"], merge["absorbed_id"]
            profile, sources = profiles[survivor]
            rebuilt = {**profile, "profile_sources": json.dumps(sources, sort_keys=True),
                       "agent_edited": edited[survivor]}  # fmt: skip
            profiles_out[survivor] = {"customer_id": survivor, **rebuilt}
            merge["after_survivor"] = None  # the final survivors' after images are read back after the write
            if survivor in rows:  # the row as this merge leaves it: a later merge's before-image
                rows[survivor] = {**rows[survivor], **rebuilt, "updated_at": stamp}
                image[survivor] = merge["after_survivor"] = rows[survivor]
            if absorbed in rows:
                rows[absorbed] = {**rows[absorbed], "status": CustomerStatus.MERGED.value, "merged_into": survivor,
                                  "updated_at": stamp}  # fmt: skip
                image[absorbed] = rows[absorbed]
            identities[survivor] += identities.pop(absorbed, [])
            comments[survivor] += comments.pop(absorbed, [])
    return profiles_out, merges


def apply_run(
    store: Store, actor: str, review: ReviewSettings, only: list[int] | None = None
) -> dict[str, Any]:
    """Apply every approved (and previously held) suggestion, set-based, in one transaction.

    `only`: just these suggestions (an agent's "merge now" from the page: the same audited run).
    """
    now = utcnow()
    with store.transaction():
        run_id = sql.insert_run(store, actor, now)
        _step("run_started")
        runnable = suggestions.runnable(store)
        if only is not None:
            runnable = [s for s in runnable if int(s["suggestion_id"]) in set(only)]
        plan = plan_run(store, run_id, runnable)
        profiles, merges = build_rows(store, plan, review, now)
        first_merge = store.next_id("merges", "merge_id")
        for offset, merge in enumerate(merges):
            merge["merge_id"] = first_merge + offset
        final_root = {m["absorbed_id"]: plan.find(m["absorbed_id"]) for m in merges}
        moves = pl.DataFrame({"customer_id": list(final_root), "root": list(final_root.values())},
                             schema={"customer_id": pl.Int64, "root": pl.Int64})  # fmt: skip
        bulk.move_to_roots(store, "identities", moves)
        _step("identities_moved")
        bulk.move_to_roots(store, "comments", moves)
        _step("comments_moved")
        redirects = pl.DataFrame(
            {
                "customer_id": [m["absorbed_id"] for m in merges],
                "survivor_id": [m["survivor_id"] for m in merges],
            },
            schema={"customer_id": pl.Int64, "survivor_id": pl.Int64},
        )
        bulk.redirect_absorbed(store, redirects, now)
        _step("customer_redirected")
        survivors_final = sorted({m["survivor_id"] for m in merges} - set(final_root))
        bulk.write_profiles(store, [profiles[s] for s in survivors_final], now)
        _step("profile_rebuilt")
        stored, _rows = bulk.customer_images(
            store, survivors_final
        )  # as the store holds them: an undo compares
        last_of = {m["survivor_id"]: m for m in merges}
        for survivor in survivors_final:
            last_of[survivor]["after_survivor"] = stored[survivor]
        _write_merges(store, merges, run_id, actor, now)
        _step("merge_written")
        repointed = _repoint_pending(store, merges, final_root, now)
        _step("suggestions_repointed")
        applied = [{"suggestion_id": m["suggestion_id"], "status": _S.APPLIED,
                    "status_reason": f"applied by merge {m['merge_id']} in apply run {run_id}"
                    + (f" ({m['note']})" if m["note"] else "")} for m in merges]  # fmt: skip
        suggestions.move_many(store, pl.DataFrame(plan.outcomes + applied, schema={
            "suggestion_id": pl.Int64, "status": pl.String, "status_reason": pl.String}), now)  # fmt: skip
        _step("suggestion_marked")
        counts = {"approved_seen": len(runnable), "merges_applied": len(merges), "held_back": len(plan.held),
                  "superseded": len(plan.superseded)}  # fmt: skip
        details = {"merges": [m["merge_id"] for m in merges], "held_suggestions": plan.held,
                   "superseded_suggestions": plan.superseded, "already_joined": plan.already_joined}  # fmt: skip
        sql.finish_run(store, run_id, counts, details, now)
        _step("run_recorded")
        store.audit(actor, "apply_merges", "merge_run", run_id, counts)
    report = [
        {"merge_id": m["merge_id"], "survivor_id": m["survivor_id"], "absorbed_id": m["absorbed_id"],
         "suggestion_id": m["suggestion_id"], "kind": "approved", "requested_by": m["requested_by"] or actor,
         "applied_by": actor, "apply_run_id": run_id, "applied_at": now, "comment": None,
         "identities_moved": len(m["absorbed_identity_ids"]), "comments_moved": len(m["absorbed_comment_ids"]),
         "pending_repointed": repointed.get(m["merge_id"], (0, 0))[0],
         "pending_superseded": repointed.get(m["merge_id"], (0, 0))[1]}
        for m in merges
    ]  # fmt: skip
    return {"apply_run_id": run_id, "actor": actor, **counts, "merges": report, "held_suggestions": plan.held,
            "superseded_suggestions": plan.superseded, "already_joined": plan.already_joined}  # fmt: skip


def _json(image: str | dict[str, Any]) -> str:
    """An image as JSON text (rows the run made are encoded here; stored rows came encoded)."""
    return image if isinstance(image, str) else json.dumps(image, default=str)


def _id_list(ids: list[int]) -> str:
    """A list of ids as `json.dumps` writes it (joined directly: a run encodes two per merge)."""
    return "[" + ", ".join(map(str, ids)) + "]"


def _write_merges(store: Store, merges: list[dict[str, Any]], run_id: int, actor: str, now: datetime) -> None:
    """The merges rows and one audit entry per merge (both with the before-image), two statements.

    Built column by column, the JSON as text (what `json.dumps` of each row gives): a run writes
    one of each per merge, and encoding them as dicts took seconds at 100,000.
    """
    first_audit = store.next_id("audit_log", "audit_id")
    requested = [m["requested_by"] or actor for m in merges]
    texts = [
        f'{{"survivor": {_json(m["before_survivor"])}, "absorbed": {_json(m["before_absorbed"])}, '
        f'"absorbed_identity_ids": {_id_list(m["absorbed_identity_ids"])}, '
        f'"absorbed_comment_ids": {_id_list(m["absorbed_comment_ids"])}, '
        f'"survivor_after": {_json(m["after_survivor"])}}}'
        for m in merges
    ]  # the images are JSON text already (most of them) or rows the run made: assembled as text
    quoted: dict[str, str] = {}
    tail = (f'"applied_by": {json.dumps(actor)}, "apply_run_id": {run_id}, '
            f'"applied_at": {json.dumps(str(now))}, "comment": null}}')  # fmt: skip
    # the before-image itself is kept once, in the merges row the entry names (not copied here)
    details = [
        f'{{"merge_id": {m["merge_id"]}, "survivor_id": {m["survivor_id"]}, "absorbed_id": {m["absorbed_id"]}, '
        f'"suggestion_id": {_number(m["suggestion_id"])}, "kind": "approved", '
        f'"requested_by": {quoted.get(by) or quoted.setdefault(by, json.dumps(by))}, {tail}'
        for m, by in zip(merges, requested, strict=True)
    ]
    count = len(merges)

    def column(key: str) -> list[Any]:
        return [m[key] for m in merges]

    bulk.insert_merges(store, pl.DataFrame({
        "merge_id": pl.Series(column("merge_id"), dtype=pl.Int64),
        "survivor_id": pl.Series(column("survivor_id"), dtype=pl.Int64),
        "absorbed_id": pl.Series(column("absorbed_id"), dtype=pl.Int64),
        "suggestion_id": pl.Series(column("suggestion_id"), dtype=pl.Int64),
        "kind": pl.repeat("approved", count, dtype=pl.String, eager=True),
        "requested_by": pl.Series(requested, dtype=pl.String),
        "applied_by": pl.repeat(actor, count, dtype=pl.String, eager=True),
        "apply_run_id": pl.repeat(run_id, count, dtype=pl.Int64, eager=True),
        "applied_at": pl.repeat(now, count, dtype=pl.Datetime("us"), eager=True),
        "comment": pl.repeat(None, count, dtype=pl.String, eager=True),
        "before_image": pl.Series(texts, dtype=pl.String),
    }))  # fmt: skip
    bulk.insert_audit(store, pl.DataFrame({
        "audit_id": pl.int_range(first_audit, first_audit + count, dtype=pl.Int64, eager=True),
        "occurred_at": pl.repeat(now, count, dtype=pl.Datetime("us"), eager=True),
        "actor": pl.repeat(actor, count, dtype=pl.String, eager=True),
        "action": pl.repeat("merge", count, dtype=pl.String, eager=True),
        "subject_kind": pl.repeat("customer", count, dtype=pl.String, eager=True),
        "subject_id": pl.Series([str(m["survivor_id"]) for m in merges], dtype=pl.String),
        "details": pl.Series(details, dtype=pl.String),
    }))  # fmt: skip


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _repoint_pending(
    store: Store, merges: list[dict[str, Any]], final_root: dict[int, int], now: datetime
) -> dict[int, tuple[int, int]]:
    """Pending pairs of absorbed customers move to the survivors; repeats and self-pairs are superseded."""
    if not merges:
        return {}
    merge_of = {m["absorbed_id"]: m["merge_id"] for m in merges}
    pending = suggestions.pending_of(store, list(final_root))
    if pending.height == 0:
        return {}
    rows = []
    for sid, left, right in pending.iter_rows():
        new_l, new_r = final_root.get(left, left), final_root.get(right, right)
        moved_from = left if left in final_root else right
        rows.append({"suggestion_id": sid, "old_l": left, "old_r": right, "low": min(new_l, new_r),
                     "high": max(new_l, new_r), "from": moved_from, "to": final_root[moved_from],
                     "merge_id": merge_of[moved_from]})  # fmt: skip
    frame = pl.DataFrame(rows)
    twins = {(r["low"], r["high"]): r["twin"] for r in suggestions.existing_pairs(store, frame, frame["suggestion_id"].to_list()).iter_rows(named=True)}  # fmt: skip
    keep: dict[tuple[int, int], int] = {}
    repoint, supersede = [], []
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        key = (row["low"], row["high"])
        if row["low"] == row["high"]:
            reason = f"customers {row['old_l']} and {row['old_r']} were merged (merge {row['merge_id']})"
        elif key in twins or key in keep:
            twin = twins.get(key, keep.get(key))
            reason = (
                f"after merge {row['merge_id']} it repeats suggestion {twin} ({row['low']} and {row['high']})"
            )
        else:
            keep[key] = row["suggestion_id"]
            repoint.append({**row, "status_reason": f"re-pointed from customer {row['from']} to {row['to']} by merge "
                                                    f"{row['merge_id']}"})  # fmt: skip
            counts[row["merge_id"]][0] += 1
            continue
        supersede.append(
            {"suggestion_id": row["suggestion_id"], "status": _S.SUPERSEDED, "status_reason": reason}
        )
        counts[row["merge_id"]][1] += 1
    suggestions.repoint_many(store, pl.DataFrame(repoint, schema={"suggestion_id": pl.Int64, "low": pl.Int64, "high": pl.Int64,
                                                       "status_reason": pl.String}) if repoint else pl.DataFrame(), now)  # fmt: skip
    if supersede:
        suggestions.move_many(store, pl.DataFrame(supersede), now)
    return {merge_id: (c[0], c[1]) for merge_id, c in counts.items()}
