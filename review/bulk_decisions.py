"""Decisions in bulk from a file (CSV or JSON Lines): a spreadsheet review or another tool's labels.

Each row names a suggestion (`suggestion_id`) or two identities (`channel_l`, `external_id_l`,
`channel_r`, `external_id_r`), a `decision` (approve / reject), an `agent` (or the command's
--agent) and an optional `comment`. Every row goes through the same audited path as a single
decision (review.decisions: staleness checks, cannot-links, labels), in its own transaction, so a
row that cannot be applied leaves nothing half written and the others still apply; the report lists
every row with its outcome and, for those not applied, why. A row naming two identities without a
suggestion between their customers: a rejection records the cannot-link (and its label) directly;
an approval is a manual merge only with `merge_unsuggested` (otherwise reported, not applied).
Re-running a file is idempotent: a row already decided that way is `unchanged`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.settings import ReviewSettings
from domain.statuses import SuggestionStatus
from review import decisions
from review.errors import ReviewError
from store import identities, suggestions
from store.db import Store, utcnow

APPLIED, UNCHANGED, NOT_APPLIED = "applied", "unchanged", "not applied"
DECISIONS = {"approve": True, "approved": True, "reject": False, "rejected": False}
IDENTITY_COLUMNS = ("channel_l", "external_id_l", "channel_r", "external_id_r")


@dataclass
class DecisionRow:
    """One parsed row: where it came from and what it asks."""

    line: int
    approve: bool
    agent: str
    comment: str | None
    suggestion_id: int | None = None
    identity_l: tuple[str, str] | None = None
    identity_r: tuple[str, str] | None = None


def _records(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """(line, record or a reason it could not be read) for every data line of the file."""
    text = path.read_text(encoding="utf-8-sig")
    out: list[tuple[int, dict[str, Any] | str]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                out.append((number, f"not JSON: {error.msg}"))
                continue
            out.append((number, value if isinstance(value, dict) else "not a JSON object"))
        return out
    reader = csv.DictReader(text.splitlines())
    for index, row in enumerate(reader, start=2):  # line 1 is the header
        if None in row:
            out.append((index, "more fields than the header has"))
            continue
        out.append((index, {k.strip(): v for k, v in row.items() if k is not None}))
    return out


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


def parse_row(line: int, record: dict[str, Any], default_agent: str) -> DecisionRow:
    """A record checked: a suggestion id or two identities, approve/reject, an agent; ReviewError says why not."""
    verb = _text(record, "decision").lower()
    if verb not in DECISIONS:
        raise ReviewError(f"decision must be approve or reject, got {verb or 'nothing'!r}")
    agent = decisions.clean_agent(_text(record, "agent") or default_agent)
    comment = decisions.clean_comment(_text(record, "comment") or None)
    row = DecisionRow(line, DECISIONS[verb], agent, comment)
    sid = _text(record, "suggestion_id")
    named = [_text(record, c) for c in IDENTITY_COLUMNS]
    if sid and any(named):
        raise ReviewError("give a suggestion_id or the two identities, not both")
    if sid:
        try:
            row.suggestion_id = int(sid)
        except ValueError:
            raise ReviewError(f"suggestion_id must be a whole number, got {sid!r}") from None
        return row
    if not all(named):
        missing = [c for c, v in zip(IDENTITY_COLUMNS, named, strict=True) if not v]
        raise ReviewError(f"no suggestion_id, and the identities lack {', '.join(missing)}")
    row.identity_l = (named[0].lower(), named[1])
    row.identity_r = (named[2].lower(), named[3])
    return row


def _already(store: Store, suggestion_id: int, approve: bool) -> str | None:
    """Why the row changes nothing (the suggestion already decided that way), else None."""
    row = suggestions.get(store, suggestion_id)
    if row is None:
        return None
    done = (SuggestionStatus.APPROVED, SuggestionStatus.APPLIED) if approve else (SuggestionStatus.REJECTED,)
    if row["status"] in done:
        return (
            f"suggestion {suggestion_id} is already {row['status']} (by {row['decided_by'] or 'the system'})"
        )
    return None


def _decide_suggestion(store: Store, row: DecisionRow, suggestion_id: int) -> dict[str, Any]:
    unchanged = _already(store, suggestion_id, row.approve)
    if unchanged:
        return {"outcome": UNCHANGED, "suggestion_id": suggestion_id, "reason": unchanged}
    act = decisions.approve if row.approve else decisions.reject
    result = act(store, suggestion_id, row.agent, row.comment)
    return {"outcome": APPLIED, "suggestion_id": suggestion_id, "reason": result.get("repointed")}


def _decide_identities(
    store: Store, row: DecisionRow, review: ReviewSettings, merge_unsuggested: bool
) -> dict[str, Any]:
    assert row.identity_l is not None and row.identity_r is not None
    found = []
    for channel, external_id in (row.identity_l, row.identity_r):
        identity = identities.identity_by_key(store, channel, external_id)
        if identity is None:
            raise ReviewError(f"no identity {channel}:{external_id}")
        found.append(identity)
    (id_l, cust_l), (id_r, cust_r) = found
    if cust_l == cust_r:
        if row.approve:
            return {"outcome": UNCHANGED, "suggestion_id": None, "reason": f"already one customer ({cust_l})"}
        raise ReviewError(
            f"both identities belong to customer {cust_l}: undo the merge that joined them "
            "(`idres merges log --customer`, `idres merges undo`)"
        )
    low, high = min(cust_l, cust_r), max(cust_l, cust_r)
    suggestion = suggestions.for_pair(store, low, high)
    if suggestion is not None and suggestion["status"] not in ("superseded",):
        return _decide_suggestion(store, row, int(suggestion["suggestion_id"]))
    if row.approve:
        if not merge_unsuggested:
            raise ReviewError(
                f"no suggestion between customers {low} and {high}; --merge-unsuggested merges such "
                "pairs by hand (audited, undoable), or `idres customer merge`"
            )
        from review.merging import merge_customers

        merge = merge_customers(store, cust_l, cust_r, row.agent, review, row.comment)
        return {
            "outcome": APPLIED,
            "suggestion_id": None,
            "reason": f"merged by hand (merge {merge['merge_id']})",
        }
    decisions.reject_pair(store, cust_l, cust_r, id_l, id_r, row.agent, row.comment)
    return {
        "outcome": APPLIED,
        "suggestion_id": None,
        "reason": "no suggestion: recorded as different people",
    }


def decide_file(
    store: Store,
    path: Path,
    default_agent: str = "",
    review: ReviewSettings | None = None,
    merge_unsuggested: bool = False,
) -> dict[str, Any]:
    """Apply every row of a decisions file; the report has each row's outcome and the counts."""
    if not path.is_file():
        raise ReviewError(f"no file {path}")
    review = review or ReviewSettings()
    results: list[dict[str, Any]] = []
    for line, record in _records(path):
        base: dict[str, Any] = {"line": line}
        if isinstance(record, str):
            results.append({**base, "outcome": NOT_APPLIED, "reason": record})
            continue
        try:
            row = parse_row(line, record, default_agent)
            base["decision"] = "approve" if row.approve else "reject"
            if row.suggestion_id is not None:
                outcome = _decide_suggestion(store, row, row.suggestion_id)
            else:
                outcome = _decide_identities(store, row, review, merge_unsuggested)
        except ReviewError as error:
            results.append({**base, "outcome": NOT_APPLIED, "reason": str(error)})
            continue
        results.append({**base, **outcome})
    counts = {k: sum(r["outcome"] == k for r in results) for k in (APPLIED, UNCHANGED, NOT_APPLIED)}
    with store.transaction():
        store.audit(
            default_agent.strip() or "file",
            "suggestions_decide_file",
            "suggestion",
            None,
            {"file": str(path), **counts},
        )
    return {"file": str(path), "rows": len(results), **counts, "results": results, "at": utcnow()}
