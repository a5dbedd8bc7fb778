"""Is a suggestion still about the customers it was made for? A pure read, shared by decisions and merges.

Customers change between the match run and the agent's decision: one may be merged into another
(its id now redirects), anonymized, deleted or locked. `check_suggestion` says what that means for
the suggestion, so no caller ever applies a stale pair blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from store import customers, redirects
from store.db import Store

Action = Literal["valid", "repointed", "superseded", "blocked"]


@dataclass(frozen=True)
class StaleCheck:
    """What to do with a suggestion now: its current surviving pair (l < r) and why, when not valid."""

    action: Action
    customer_l: int | None
    customer_r: int | None
    reason: str | None = None


def _ordered(a: int | None, b: int | None) -> tuple[int | None, int | None]:
    if a is None or b is None:
        return a, b
    return (a, b) if a <= b else (b, a)


def check_suggestion(store: Store, suggestion: dict[str, Any]) -> StaleCheck:
    """Resolve both customers of `suggestion` through merges and say: valid, repointed, superseded or blocked."""
    original = (int(suggestion["customer_id_l"]), int(suggestion["customer_id_r"]))
    found = redirects.survivors(store, original)
    survivors = [found[customer_id] for customer_id in original]
    left, right = _ordered(survivors[0], survivors[1])
    for customer_id, survivor in zip(original, survivors, strict=True):
        if survivor is None:
            return StaleCheck("superseded", left, right, f"customer {customer_id} no longer exists")
    if survivors[0] == survivors[1]:
        return StaleCheck(
            "superseded",
            left,
            right,
            f"customers {original[0]} and {original[1]} are already merged into {survivors[0]}",
        )
    found_states = customers.states(store, [int(s) for s in survivors if s is not None])
    states = [found_states.get(int(s)) for s in survivors if s is not None]
    for state in states:
        if state is None:  # deleted between the two reads; treat like a missing customer
            return StaleCheck("superseded", left, right, "a customer no longer exists")
        if state["status"] == "anonymized" or state["anonymized_at"] is not None:
            return StaleCheck("superseded", left, right, f"customer {state['customer_id']} was anonymized")
    for state in states:
        assert state is not None
        if state["locked"]:
            reason = state["lock_reason"] or "no reason given"
            # a lock is temporary: the suggestion stays as it is and is decided after the unlock
            return StaleCheck(
                "blocked",
                left,
                right,
                f"customer {state['customer_id']} is locked (reason: {reason}) - unlock it first",
            )
    moved = [
        f"customer {customer_id} was merged into {survivor}"
        for customer_id, survivor in zip(original, survivors, strict=True)
        if survivor != customer_id
    ]
    if moved:
        return StaleCheck("repointed", left, right, "; ".join(moved))
    return StaleCheck("valid", left, right, None)
