"""A person, not a customer: every customer that may be the person a request names, each with why.

One person often sits in several unmerged customers. The candidates are the customers holding the
given identifier (or the named customer), and those linked to them, directly or through each other,
by pending suggestions at or above the review threshold. The officer confirms the set; the request
then covers all of it. Reasons name customer and suggestion ids, never the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store import compliance as sql
from store import redirects
from store.db import Store

MAX_CANDIDATES = 50  # a person has a handful of customers; a runaway chain of links is cut here


@dataclass
class Lookup:
    """How a request named the person, and the candidate customers found (customer id -> reasons)."""

    kind: str
    value: str
    named: str
    seeds: list[int]
    candidates: dict[int, list[str]] = field(default_factory=dict)

    def listing(self) -> list[dict[str, Any]]:
        """The candidates as JSON-ready rows, in customer id order."""
        return [{"customer_id": c, "why": why} for c, why in sorted(self.candidates.items())]


def add_linked(store: Store, lookup: Lookup, review_threshold: float) -> None:
    """Add the customers linked to the candidates by pending suggestions at or above the threshold."""
    frontier = list(lookup.candidates)
    while frontier and len(lookup.candidates) < MAX_CANDIDATES:
        links = sql.pending_links(store, frontier, review_threshold)
        frontier = []
        for link in links:
            left, right = int(link["customer_id_l"]), int(link["customer_id_r"])
            for new, known in ((left, right), (right, left)):
                if known in lookup.candidates and new not in lookup.candidates:
                    if not redirects.live(store, [new]):
                        continue
                    lookup.candidates[new] = [
                        f"linked to customer {known} by pending suggestion {link['suggestion_id']} "
                        f"(probability {float(link['probability']):.4f})"
                    ]
                    frontier.append(new)
                elif known in lookup.candidates and new in lookup.candidates and new not in lookup.seeds:
                    reason = (
                        f"linked to customer {known} by pending suggestion {link['suggestion_id']} "
                        f"(probability {float(link['probability']):.4f})"
                    )
                    if reason not in lookup.candidates[new] and len(lookup.candidates[new]) < 5:
                        lookup.candidates[new].append(reason)


def describe(store: Store, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Name, status and channels of each candidate (for the officer who confirms the set)."""
    return {int(row["customer_id"]): row for row in sql.candidate_overview(store, customer_ids)}
