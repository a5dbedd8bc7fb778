"""Agents' decisions on merge suggestions: approve, reject, bulk approve.

Approving never merges: it marks the pair for the apply-merges run, which merges approved pairs
through one audited, reversible path. Every decision first checks the suggestion is still about
the customers it was made for (`review.staleness`), so a stale pair is never decided blindly.
"""

from __future__ import annotations

from typing import Any

from domain.statuses import DECIDABLE_SUGGESTIONS, CustomerStatus, SuggestionStatus
from review.errors import ReviewError
from review.staleness import StaleCheck, check_suggestion
from store import cannot_links, suggestions
from store import labels as label_sql
from store.db import Store, utcnow
from store.views import review as review_view

MAX_COMMENT = 2000


def clean_agent(agent: str) -> str:
    """The agent name trimmed; an empty name is refused (every decision names who made it)."""
    name = (agent or "").strip()
    if not name:
        raise ReviewError("an agent name is required (--agent NAME)")
    return name


def clean_comment(comment: str | None) -> str | None:
    """A decision comment trimmed (None when blank); refuses very long text."""
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise ReviewError(f"comment is {len(text)} characters; at most {MAX_COMMENT} are allowed")
    return text or None


def _decidable(store: Store, suggestion_id: int, verb: str) -> dict[str, Any]:
    row = suggestions.get(store, suggestion_id)
    if row is None:
        raise ReviewError(f"no suggestion {suggestion_id}")
    if row["status"] not in DECIDABLE_SUGGESTIONS:
        who = f" by {row['decided_by']}" if row["decided_by"] else ""
        if row["decided_at"] is not None:
            who += f" at {row['decided_at']:%Y-%m-%d %H:%M} UTC"
        why = f" ({row['status_reason']})" if row["status_reason"] else ""
        raise ReviewError(
            f"suggestion {suggestion_id} is already {row['status']}{who}{why}; only pending or held "
            f"suggestions can be {verb}"
        )
    return row


def _settle(store: Store, row: dict[str, Any], check: StaleCheck, agent: str) -> dict[str, Any]:
    """Apply what the staleness check found (supersede or re-point); returns the row as it now stands.

    Raises ReviewError after recording a supersession, so the caller's transaction must commit it
    first: `_decide` catches and re-raises outside the transaction.
    """
    now = utcnow()
    suggestion_id = row["suggestion_id"]
    if check.action == "superseded":
        suggestions.supersede(store, suggestion_id, check.reason or "customers changed", agent, now)
        store.audit(agent, "suggestion_supersede", "suggestion", suggestion_id, {"reason": check.reason})
        raise _Recorded(
            f"suggestion {suggestion_id} is out of date and was marked superseded: {check.reason}"
        )
    if check.action == "repointed":
        assert check.customer_l is not None and check.customer_r is not None
        other = suggestions.for_pair(store, check.customer_l, check.customer_r)
        if other is not None and other["suggestion_id"] != suggestion_id:
            reason = (
                f"{check.reason}; customers {check.customer_l} and {check.customer_r} already have "
                f"suggestion {other['suggestion_id']}"
            )
            suggestions.supersede(store, suggestion_id, reason, agent, now)
            store.audit(agent, "suggestion_supersede", "suggestion", suggestion_id, {"reason": reason})
            raise _Recorded(
                f"suggestion {suggestion_id} was superseded: {reason} (status {other['status']}); "
                f"decide suggestion {other['suggestion_id']} instead"
            )
        suggestions.repoint(store, suggestion_id, check.customer_l, check.customer_r, check.reason or "", now)
        store.audit(
            agent,
            "suggestion_repoint",
            "suggestion",
            suggestion_id,
            {
                "from": [row["customer_id_l"], row["customer_id_r"]],
                "to": [check.customer_l, check.customer_r],
                "reason": check.reason,
            },
        )
        return {**row, "customer_id_l": check.customer_l, "customer_id_r": check.customer_r}
    return row


class _Recorded(ReviewError):
    """A refusal whose bookkeeping (a supersession) must be committed before it is raised.

    `commit_writes` makes the store commit the enclosing transaction (the page's, the outbox's, a
    bulk approve's) instead of rolling the supersession back with the refusal.
    """

    commit_writes = True


def _decide(
    store: Store, suggestion_id: int, agent: str, comment: str | None, approve: bool
) -> dict[str, Any]:
    agent = clean_agent(agent)
    comment = clean_comment(comment)
    verb = "approved" if approve else "rejected"
    refusal: _Recorded | None = None
    result: dict[str, Any] = {}
    with store.transaction():
        row = _decidable(store, suggestion_id, verb)
        check = check_suggestion(store, row)
        if approve and check.action == "blocked":
            raise ReviewError(f"cannot approve suggestion {suggestion_id}: {check.reason}")
        # Rejecting a pair with a locked customer is fine: a rejection changes no customer, it only
        # records that the two are different people, which the lock is there to protect anyway.
        try:
            current = _settle(store, row, check, agent)
        except _Recorded as error:
            refusal = error
        if refusal is None:
            left, right = int(current["customer_id_l"]), int(current["customer_id_r"])
            link = cannot_links.between(store, left, right) if approve else None
            if link is not None:
                raise ReviewError(
                    f"cannot approve suggestion {suggestion_id}: customers {link['customer_id_a']} and "
                    f"{link['customer_id_b']} were marked as different people by {link['created_by']}"
                    f"{' (suggestion ' + str(link['suggestion_id']) + ')' if link['suggestion_id'] else ''}; "
                    "that decision stands"
                )
            now = utcnow()
            status = SuggestionStatus.APPROVED if approve else SuggestionStatus.REJECTED
            repointed = check.reason if check.action == "repointed" else None
            suggestions.decide(store, suggestion_id, status, agent, comment, now, repointed)
            # the decision is a training label (matching/learning.py), in the same transaction
            kind = label_sql.APPROVE if approve else label_sql.REJECT
            label_sql.record_for_suggestions(store, [suggestion_id], kind, agent, now)
            if not approve:
                # the pair the match run compared; after a re-pointing also the survivors the agent saw
                original = (int(row["customer_id_l"]), int(row["customer_id_r"]))
                for pair in dict.fromkeys([original, (left, right)]):
                    cannot_links.record(store, *pair, suggestion_id, agent, comment, now)
            details = {
                "customers": [left, right],
                "probability": row["probability"],
                "band": row["band"],
                "comment": comment,
            }
            if check.action == "repointed":
                details["repointed"] = check.reason
            store.audit(
                agent,
                f"suggestion_{'approve' if approve else 'reject'}",
                "suggestion",
                suggestion_id,
                details,
            )
            result = {
                "suggestion_id": suggestion_id,
                "status": status,
                "customer_id_l": left,
                "customer_id_r": right,
                "original_customers": [row["customer_id_l"], row["customer_id_r"]],
                "repointed": check.reason if check.action == "repointed" else None,
                "probability": row["probability"],
                "band": row["band"],
                "decided_by": agent,
                "decided_at": now,
                "comment": comment,
            }
    if refusal is not None:
        raise refusal
    return result


def approve(store: Store, suggestion_id: int, agent: str, comment: str | None = None) -> dict[str, Any]:
    """Approve a pending suggestion for the next apply-merges run (re-pointed if a customer was merged)."""
    return _decide(store, suggestion_id, agent, comment, approve=True)


def reject(store: Store, suggestion_id: int, agent: str, comment: str | None = None) -> dict[str, Any]:
    """Reject a pending suggestion: the two customers are different people, for good (a cannot-link)."""
    return _decide(store, suggestion_id, agent, comment, approve=False)


def _split_bulk(
    store: Store, candidates: list[dict[str, Any]], results: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sort bulk candidates: approvable as they are (fast), needing the one-by-one path (slow), or
    skipped now (recorded in `results` with why: related only, a locked customer, a cannot-link)."""
    links = cannot_links.by_survivors(store)
    fast, slow = [], []
    for row in candidates:
        base = {"suggestion_id": row["suggestion_id"], "probability": row["probability"], "band": row["band"]}
        if row["related_only"]:
            results.append(
                {**base, "outcome": "skipped", "reason": "related only (shared value), not a match"}
            )
            continue
        if row["status_l"] != CustomerStatus.ACTIVE or row["status_r"] != CustomerStatus.ACTIVE:
            slow.append(row)
            continue
        locked = next((side for side in ("l", "r") if row[f"locked_{side}"]), None)
        if locked is not None:
            why = row[f"lock_reason_{locked}"] or "no reason given"
            reason = (
                f"cannot approve suggestion {row['suggestion_id']}: customer {row[f'customer_id_{locked}']} is "
                f"locked (reason: {why}) - unlock it first"
            )
            results.append({**base, "outcome": "skipped", "reason": reason})
            continue
        link = links.get((int(row["customer_id_l"]), int(row["customer_id_r"])))
        if link is not None:
            source = f" (suggestion {link['suggestion_id']})" if link["suggestion_id"] else ""
            reason = (
                f"cannot approve suggestion {row['suggestion_id']}: customers {link['customer_id_a']} and "
                f"{link['customer_id_b']} were marked as different people by {link['created_by']}{source}; "
                "that decision stands"
            )
            results.append({**base, "outcome": "skipped", "reason": reason})
            continue
        fast.append(row)
    return fast, slow


def bulk_approve(
    store: Store,
    agent: str,
    min_probability: float,
    *,
    band: str | None = None,
    channel: str | None = None,
    comment: str | None = None,
) -> list[dict[str, Any]]:
    """Approve every pending suggestion at or above `min_probability`; reports each one, skipped ones with why.

    "Related, not merged" suggestions (shared value only) are never bulk-approved. Set-based: pairs
    whose customers are as the match run left them are approved (and audited) in a few statements;
    the few whose customers changed since go through `approve` one by one.
    """
    agent = clean_agent(agent)
    comment = clean_comment(comment)
    if not 0 < min_probability <= 1:
        raise ReviewError(f"--min-probability must be above 0 and at most 1, got {min_probability}")
    results: list[dict[str, Any]] = []
    with store.transaction():
        candidates = review_view.bulk_candidates_with_states(
            store, min_probability, band=band, channel=channel
        )
        fast, slow = _split_bulk(store, candidates, results)
        for (
            row
        ) in slow:  # a customer was merged or is gone since: the one-by-one path re-points or supersedes
            base = {
                "suggestion_id": row["suggestion_id"],
                "probability": row["probability"],
                "band": row["band"],
            }
            try:
                decided = approve(store, row["suggestion_id"], agent, comment)
            except ReviewError as error:
                results.append({**base, "outcome": "skipped", "reason": str(error)})
                continue
            results.append({**base, "outcome": "approved", "customer_id_l": decided["customer_id_l"],
                            "customer_id_r": decided["customer_id_r"], "reason": decided["repointed"]})  # fmt: skip
        now = utcnow()
        suggestions.approve_many(store, fast, agent, comment, now)
        label_sql.record_for_suggestions(
            store, [int(r["suggestion_id"]) for r in fast], label_sql.APPROVE, agent, now
        )
        results += [{"suggestion_id": row["suggestion_id"], "probability": row["probability"], "band": row["band"],
                     "outcome": "approved", "customer_id_l": row["customer_id_l"],
                     "customer_id_r": row["customer_id_r"], "reason": None} for row in fast]  # fmt: skip
        results.sort(key=lambda r: (-float(r["probability"]), int(r["suggestion_id"])))
        store.audit(
            agent,
            "suggestion_bulk_approve",
            "suggestion",
            None,
            {
                "min_probability": min_probability,
                "band": band,
                "channel": channel,
                "approved": sum(r["outcome"] == "approved" for r in results),
                "skipped": sum(r["outcome"] == "skipped" for r in results),
            },
        )
    return results


def reject_pair(
    store: Store,
    customer_l: int,
    customer_r: int,
    identity_l: int,
    identity_r: int,
    agent: str,
    comment: str | None = None,
) -> dict[str, Any]:
    """Record that two customers with no suggestion between them are different people: a cannot-link,
    a non-match label on the two identities, audited (as a rejection is)."""
    agent = clean_agent(agent)
    comment = clean_comment(comment)
    now = utcnow()
    with store.transaction():
        cannot_links.record(store, customer_l, customer_r, None, agent, comment, now)
        label_sql.record_pairs(
            store, [identity_l], [identity_r], label_sql.REJECT, agent, now, None, (customer_l, customer_r)
        )
        details = {
            "customers": [customer_l, customer_r],
            "identities": [identity_l, identity_r],
            "comment": comment,
        }
        store.audit(agent, "pair_reject", "customer", min(customer_l, customer_r), details)
    return {"customers": [customer_l, customer_r], "decided_by": agent, "decided_at": now}
