"""Every status family as a StrEnum, the named sets of them, and the allowed moves as plain data.

A StrEnum member equals its value (`SuggestionStatus.PENDING == "pending"`), so stored values and
SQL text are unchanged; `store/` enforces the move tables when it changes a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class SuggestionStatus(StrEnum):
    """Where a suggested customer pair is in review."""

    PENDING = "pending"  # waiting for an agent
    APPROVED = "approved"  # an agent (or auto-approval) said yes; apply-merges merges it
    REJECTED = "rejected"  # an agent said no (reopened when the evidence changes)
    HELD = "held"  # approved, but apply-merges held it back (a locked or conflicting customer)
    APPLIED = "applied"  # merged
    SUPERSEDED = "superseded"  # can no longer be decided as made (a customer merged away, erased, ...)


class Band(StrEnum):
    """A suggestion's band by probability (related: a shared value only, "related, not merged")."""

    AUTO_APPROVE = "auto_approve"
    REVIEW = "review"
    POSSIBLE = "possible"
    BELOW = "below"
    RELATED = "related"


class CustomerStatus(StrEnum):
    """A customer row: live, merged into another, or erased."""

    ACTIVE = "active"
    MERGED = "merged"
    ANONYMIZED = "anonymized"


class MergeStatus(StrEnum):
    """A merge: applied, or undone by an agent."""

    APPLIED = "applied"
    UNDONE = "undone"


class RunStatus(StrEnum):
    """A match run or merge run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class BatchStatus(StrEnum):
    """An ingested file (`ingest_batches.status`)."""

    LOADED = "loaded"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a file's report only, never stored: not started, the run was stopped


class RequestKind(StrEnum):
    """A compliance request: a subject-access export or an erasure."""

    EXPORT = "export"
    ANONYMIZE = "anonymize"


class RequestStatus(StrEnum):
    """Where a compliance request is."""

    NEEDS_CONFIRMATION = "needs_confirmation"  # several candidate people: an officer confirms the set
    PENDING = "pending"  # queued for the next run
    WAITING = "waiting"  # a customer is locked; re-checked every run
    ERASING = "erasing"  # erased in the store; files and verification still to do
    DONE = "done"
    INCOMPLETE = "incomplete"  # erased, but verification found a spelling left somewhere
    FAILED = "failed"
    NOT_FOUND = "not_found"  # nobody matched the lookup
    DELETED = "deleted"  # an export whose bundle was deleted by an erasure


class LookupKind(StrEnum):
    """How a compliance request names its person."""

    CUSTOMER = "customer"
    EMAIL = "email"
    PHONE = "phone"


class FileKind(StrEnum):
    """What an input file holds."""

    IDENTITIES = "identities"
    MESSAGES = "messages"


# Suggestions an agent may still decide; `held` is set by apply-merges when it holds a pair back.
DECIDABLE_SUGGESTIONS: frozenset[SuggestionStatus] = frozenset(
    {SuggestionStatus.PENDING, SuggestionStatus.HELD}
)
# Suggestions still in play (not final): what an erasure or a merge supersedes, what the page lists.
OPEN_SUGGESTIONS: frozenset[SuggestionStatus] = frozenset(
    {SuggestionStatus.PENDING, SuggestionStatus.APPROVED, SuggestionStatus.HELD}
)
# Suggestions an apply run picks up: approved, and approved-but-held (retried each run).
APPLICABLE_SUGGESTIONS: frozenset[SuggestionStatus] = frozenset(
    {SuggestionStatus.APPROVED, SuggestionStatus.HELD}
)
# The queue agents work through leaves out pairs below review.
HIDDEN_BANDS: frozenset[Band] = frozenset({Band.POSSIBLE})

# Requests not finished: what the page shows as open and what is overdue past its due date.
OPEN_REQUESTS: frozenset[RequestStatus] = frozenset(
    {RequestStatus.NEEDS_CONFIRMATION, RequestStatus.PENDING, RequestStatus.WAITING, RequestStatus.ERASING}
)
# Requests a compliance run picks up.
RUNNABLE_REQUESTS: frozenset[RequestStatus] = frozenset({RequestStatus.PENDING, RequestStatus.WAITING})
FINISHED_REQUESTS: frozenset[RequestStatus] = frozenset(
    {
        RequestStatus.DONE,
        RequestStatus.INCOMPLETE,
        RequestStatus.FAILED,
        RequestStatus.NOT_FOUND,
        RequestStatus.DELETED,
    }
)

_S = SuggestionStatus
# status -> the statuses it may move to (a status moving to itself is a refresh and always allowed).
SUGGESTION_MOVES: dict[SuggestionStatus, frozenset[SuggestionStatus]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.HELD, _S.SUPERSEDED, _S.APPLIED}),
    _S.HELD: frozenset({_S.APPROVED, _S.REJECTED, _S.APPLIED, _S.SUPERSEDED}),
    _S.APPROVED: frozenset({_S.HELD, _S.APPLIED, _S.SUPERSEDED}),
    _S.REJECTED: frozenset({_S.PENDING, _S.SUPERSEDED}),  # reopened by new evidence
    _S.APPLIED: frozenset({_S.REJECTED}),  # its merge undone: the pair becomes a cannot-link
    # a hand merge of a suggested pair: the queue fix of the merge supersedes the pair, then it is applied
    _S.SUPERSEDED: frozenset({_S.APPLIED}),
}

_R = RequestStatus
REQUEST_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    _R.NEEDS_CONFIRMATION: frozenset({_R.PENDING, _R.FAILED}),
    _R.PENDING: frozenset({_R.WAITING, _R.ERASING, _R.DONE, _R.FAILED, _R.NOT_FOUND}),
    _R.WAITING: frozenset({_R.PENDING, _R.ERASING, _R.DONE, _R.FAILED}),
    _R.ERASING: frozenset({_R.DONE, _R.INCOMPLETE, _R.FAILED}),
    _R.INCOMPLETE: frozenset({_R.ERASING, _R.DONE}),
    _R.DONE: frozenset({_R.DELETED}),  # an export's bundle deleted by a later erasure
    _R.FAILED: frozenset({_R.PENDING}),
    _R.NOT_FOUND: frozenset(),
    _R.DELETED: frozenset(),
}


def may_move(moves: Mapping[Any, frozenset[Any]], old: str, new: str) -> bool:
    """Whether a status may change from `old` to `new` in that move table (staying put always may)."""
    return old == new or new in moves.get(old, frozenset())
