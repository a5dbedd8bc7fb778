"""Queueing export and anonymization requests: who asked, when, why, for which person.

A request names the person by customer id, e-mail address or phone number. Addresses and numbers are
normalized as ingest does (NFKC + lower case; E.164 with the default region) and looked up among
live identities and profiles. One person often sits in several unmerged customers, so the lookup
yields candidates (`compliance.people`): the holders of the value and the customers linked to them
by pending suggestions, each with why. A lookup with one plain answer is queued at once; otherwise
the request is recorded as `needs_confirmation` with its candidates, and the officer confirms the
set (`confirm_request`, or `customer_ids` up front); the request then covers every customer of it.
A request for someone who cannot be found is still recorded, with status `not_found` (the
compliance team keeps the paper trail), and then raises `ReviewError`.
"""

from __future__ import annotations

import calendar
import json
from datetime import datetime
from typing import Any

from compliance.people import Lookup, add_linked, describe
from domain.statuses import RequestKind, RequestStatus
from ingest.normalize import normalize_email
from review.errors import ReviewError
from store import compliance as sql
from store import compliance_requests as requests_sql
from store import redirects
from store.db import Store, utcnow

KINDS: tuple[str, ...] = tuple(RequestKind)
STATUSES: tuple[str, ...] = tuple(RequestStatus)
DEFAULT_REVIEW_THRESHOLD = 0.80

__all__ = ["request_customers"]


def normalize_phone(phone: str, default_region: str = "GB") -> str | None:
    """A number in E.164 as ingest stores it in `phone_e164` (None when it cannot be parsed)."""
    from ingest.phones import normalize_phone_values

    values, _ = normalize_phone_values([phone], default_region)
    return values[0]


def due_date(requested_at: datetime) -> datetime:
    """One calendar month after the request (GDPR Art. 12(3)); the 31st becomes the month's last day."""
    year, month = (
        (requested_at.year + 1, 1)
        if requested_at.month == 12
        else (requested_at.year, requested_at.month + 1)
    )
    day = min(requested_at.day, calendar.monthrange(year, month)[1])
    return requested_at.replace(year=year, month=month, day=day)


def find_candidates(
    store: Store,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    default_region: str = "GB",
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
) -> Lookup:
    """Every customer that may be the person named, each with why (nothing is recorded)."""
    given = [name for name, value in (("customer", customer_id), ("email", email), ("phone", phone)) if value]
    if len(given) != 1:
        raise ReviewError("name the person by exactly one of: customer id, e-mail address, phone number")
    if customer_id is not None:
        seeds = redirects.live(store, [int(customer_id)])
        lookup = Lookup("customer", str(customer_id), f"customer {customer_id}", seeds)
        for seed in seeds:
            why = (
                "the customer named" if seed == customer_id else f"customer {customer_id} was merged into it"
            )
            lookup.candidates[seed] = [why]
    elif email:
        value = normalize_email(email) or ""  # as ingest stores it in `email_norm`
        seeds = redirects.live(store, sql.customers_with_email(store, value))
        lookup = Lookup("email", value, "that e-mail address", seeds)
        lookup.candidates = {seed: ["holds the e-mail address"] for seed in seeds}
    else:
        assert phone is not None
        e164 = normalize_phone(phone, default_region)
        if e164 is None:
            raise ReviewError(
                f"{phone!r} is not a phone number (could not read it with region {default_region})"
            )
        seeds = redirects.live(store, sql.customers_with_phone(store, e164))
        lookup = Lookup("phone", e164, "that phone number", seeds)
        lookup.candidates = {seed: ["holds the phone number"] for seed in seeds}
    add_linked(store, lookup, review_threshold)
    return lookup


def candidates_of(store: Store, request: dict[str, Any]) -> list[dict[str, Any]]:
    """A request's candidates with name, status and channels, for the officer who confirms them."""
    listing = request.get("candidates") or []
    if isinstance(listing, str):
        listing = json.loads(listing)
    details = describe(store, [int(c["customer_id"]) for c in listing])
    return [{**details.get(int(c["customer_id"]), {}), **c} for c in listing]


def _chosen(lookup: Lookup, customer_ids: list[int] | None, confirm_all: bool) -> list[int] | None:
    """The confirmed set: given ids (checked against the candidates), all on `confirm_all`, else None."""
    if customer_ids:
        unknown = sorted(set(customer_ids) - set(lookup.candidates))
        if unknown:
            raise ReviewError(
                f"customer(s) {', '.join(map(str, unknown))} are not candidates of {lookup.named} "
                f"(candidates: {', '.join(map(str, sorted(lookup.candidates))) or 'none'})"
            )
        return sorted(set(customer_ids))
    if confirm_all or (len(lookup.candidates) == 1 and lookup.seeds == list(lookup.candidates)):
        return sorted(lookup.candidates)
    return None


def _request(
    store: Store,
    kind: str,
    requested_by: str,
    customer_id: int | None,
    email: str | None,
    phone: str | None,
    reason: str | None,
    default_region: str,
    review_threshold: float,
    customer_ids: list[int] | None,
    confirm_all: bool,
) -> dict[str, Any]:
    if not requested_by or not requested_by.strip():
        raise ReviewError("say who asked for the request (requested_by)")
    now = utcnow()
    with store.transaction():
        lookup = find_candidates(
            store, customer_id=customer_id, email=email, phone=phone, default_region=default_region,
            review_threshold=review_threshold,
        )  # fmt: skip
        chosen = _chosen(lookup, customer_ids, confirm_all) if lookup.candidates else None
        row: dict[str, Any] = {
            "kind": kind,
            "customer_id": chosen[0] if chosen else None,
            "customer_ids": chosen,
            "candidates": json.dumps(lookup.listing()),
            "lookup_kind": lookup.kind,
            "lookup_value": lookup.value,
            "requested_by": requested_by.strip(),
            "reason": reason,
            "status": RequestStatus.PENDING,
            "status_reason": None,
            "requested_at": now,
            "due_at": due_date(now),
            "confirmed_by": requested_by.strip() if chosen else None,
        }
        if not lookup.candidates:
            row["status"] = RequestStatus.NOT_FOUND
            row["status_reason"] = f"nobody with {lookup.named} in the store (or already anonymized)"
        elif chosen is None:
            row["status"] = RequestStatus.NEEDS_CONFIRMATION
            row["status_reason"] = (
                f"{len(lookup.candidates)} customers may be this person "
                f"({', '.join(map(str, sorted(lookup.candidates)))}): confirm which the request covers"
            )
        request_id = requests_sql.insert(store, row)
        store.audit(
            requested_by.strip(),
            f"{kind}_requested",
            "compliance_request",
            request_id,
            {"request_id": request_id, "lookup_kind": lookup.kind, "customer_ids": chosen,
             "candidates": sorted(lookup.candidates), "status": row["status"]},
        )  # fmt: skip
    if row["status"] == RequestStatus.NOT_FOUND:
        raise ReviewError(f"request {request_id} recorded as not_found: {row['status_reason']}")
    return requests_sql.get(store, request_id) or {}


def request_export(
    store: Store,
    requested_by: str,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    default_region: str = "GB",
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    customer_ids: list[int] | None = None,
    confirm_all: bool = False,
) -> dict[str, Any]:
    """Queue an export (data access) of a person; several candidates wait for confirmation (see module)."""
    return _request(
        store, "export", requested_by, customer_id, email, phone, reason, default_region, review_threshold,
        customer_ids, confirm_all,
    )  # fmt: skip


def request_anonymization(
    store: Store,
    requested_by: str,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    default_region: str = "GB",
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    customer_ids: list[int] | None = None,
    confirm_all: bool = False,
) -> dict[str, Any]:
    """Queue an erasure of a person; several candidates wait for confirmation (see module)."""
    return _request(
        store, "anonymize", requested_by, customer_id, email, phone, reason, default_region,
        review_threshold, customer_ids, confirm_all,
    )  # fmt: skip


def confirm_request(
    store: Store, request_id: int, customer_ids: list[int], confirmed_by: str
) -> dict[str, Any]:
    """Confirm which candidates a `needs_confirmation` request covers; it is then queued as one."""
    if not confirmed_by or not confirmed_by.strip():
        raise ReviewError("say who confirms the request")
    with store.transaction():
        request = requests_sql.get(store, request_id)
        if request is None:
            raise ReviewError(f"no request {request_id}")
        if request["status"] != RequestStatus.NEEDS_CONFIRMATION:
            raise ReviewError(f"request {request_id} is {request['status']}, not waiting for a confirmation")
        candidates = {int(c["customer_id"]) for c in request.get("candidates") or []}
        chosen = sorted(set(int(c) for c in customer_ids))
        if not chosen:
            raise ReviewError("pick at least one customer")
        unknown = sorted(set(chosen) - candidates)
        if unknown:
            raise ReviewError(
                f"customer(s) {', '.join(map(str, unknown))} are not candidates of request {request_id}"
            )
        gone = sorted(set(chosen) - set(redirects.live(store, chosen)))
        if gone:
            raise ReviewError(
                f"customer(s) {', '.join(map(str, gone))} were merged or anonymized since: ask again"
            )
        requests_sql.update(
            store, request_id, status=RequestStatus.PENDING, status_reason=None, customer_id=chosen[0],
            customer_ids=chosen, confirmed_by=confirmed_by.strip(),
        )  # fmt: skip
        store.audit(
            confirmed_by.strip(), f"{request['kind']}_confirmed", "compliance_request", request_id,
            {"request_id": request_id, "customer_ids": chosen, "left_out": sorted(candidates - set(chosen))},
        )  # fmt: skip
    return requests_sql.get(store, request_id) or {}


def request_customers(store: Store, request: dict[str, Any]) -> list[int]:
    """The live customers a request covers now (its confirmed set, through merges since)."""
    ids = request.get("customer_ids") or ([request["customer_id"]] if request.get("customer_id") else [])
    return redirects.live(store, [int(i) for i in ids])


def list_requests(
    store: Store,
    kind: str | None = None,
    status: str | None = None,
    *,
    search: str | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """Requests, newest first, optionally of one kind and status, matching a text, or overdue."""
    if kind is not None and kind not in KINDS:
        raise ReviewError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if status is not None and status not in STATUSES:
        raise ReviewError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return requests_sql.listing(store, kind, status, search=search, overdue_at=utcnow() if overdue else None)


def get_request(store: Store, request_id: int) -> dict[str, Any] | None:
    """One request, or None."""
    return requests_sql.get(store, request_id)
