"""Queueing export and anonymization requests: who asked, when, why, for whom.

A request names the person by customer id, e-mail address or phone number. Addresses and numbers are
normalized as ingest does (NFKC + lower case; E.164 with the default region) and looked up among
live identities and profiles. A request for someone who cannot be found is still recorded, with
status `not_found` (the compliance team keeps the paper trail), and then raises `ReviewError`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from review.errors import ReviewError
from store import compliance as sql
from store.db import Store, utcnow

KINDS = ("export", "anonymize")
STATUSES = ("pending", "waiting", "done", "failed", "not_found")


def normalize_email(email: str) -> str:
    """An address as ingest stores it in `email_norm` (NFKC, trimmed, lower case)."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def normalize_phone(phone: str, default_region: str = "GB") -> str | None:
    """A number in E.164 as ingest stores it in `phone_e164` (None when it cannot be parsed)."""
    from ingest.phones import normalize_phone_values

    values, _ = normalize_phone_values([phone], default_region)
    return values[0]


def _lookup(
    store: Store, customer_id: int | None, email: str | None, phone: str | None, default_region: str
) -> tuple[str, str, list[int], str]:
    """(lookup kind, normalized value, live customer ids found, how the person was named)."""
    given = [name for name, value in (("customer", customer_id), ("email", email), ("phone", phone)) if value]
    if len(given) != 1:
        raise ReviewError("name the person by exactly one of: customer id, e-mail address, phone number")
    if customer_id is not None:
        return "customer", str(customer_id), live_customers([customer_id], store), f"customer {customer_id}"
    if email:
        value = normalize_email(email)
        return (
            "email",
            value,
            live_customers(sql.customers_with_email(store, value), store),
            "that e-mail address",
        )
    assert phone is not None
    e164 = normalize_phone(phone, default_region)
    if e164 is None:
        raise ReviewError(f"{phone!r} is not a phone number (could not read it with region {default_region})")
    return "phone", e164, live_customers(sql.customers_with_phone(store, e164), store), "that phone number"


def live_customers(customer_ids: list[int], store: Store) -> list[int]:
    """Follow merge redirects to surviving customers; anonymized and unknown ids drop out."""
    survivors: set[int] = set()
    for customer_id in customer_ids:
        current = sql.customer_status(store, customer_id)
        for _ in range(1000):  # redirect chains are short; the bound only guards against a cycle
            if current is None or current["status"] != "merged" or current["merged_into"] is None:
                break
            current = sql.customer_status(store, int(current["merged_into"]))
        if current is not None and current["status"] == "active":
            survivors.add(int(current["customer_id"]))
    return sorted(survivors)


def _request(
    store: Store,
    kind: str,
    requested_by: str,
    customer_id: int | None,
    email: str | None,
    phone: str | None,
    reason: str | None,
    default_region: str,
) -> dict[str, Any]:
    if not requested_by or not requested_by.strip():
        raise ReviewError("say who asked for the request (requested_by)")
    with store.transaction():
        lookup_kind, value, found, named = _lookup(store, customer_id, email, phone, default_region)
        row: dict[str, Any] = {
            "kind": kind,
            "customer_id": found[0] if len(found) == 1 else None,
            "lookup_kind": lookup_kind,
            "lookup_value": value,
            "requested_by": requested_by.strip(),
            "reason": reason,
            "status": "pending",
            "status_reason": None,
            "requested_at": utcnow(),
        }
        if not found:
            row["status"] = "not_found"
            row["status_reason"] = f"nobody with {named} in the store (or already anonymized)"
        elif len(found) > 1:
            # several customers share the value: the team must pick one (and may merge them first)
            row["status"] = "not_found"
            row["status_reason"] = (
                f"{len(found)} customers have {named} ({', '.join(map(str, found))}): "
                "ask again by customer id"
            )
        request_id = sql.insert_request(store, row)
        store.audit(
            requested_by.strip(),
            f"{kind}_requested",
            "compliance_request",
            request_id,
            {"request_id": request_id, "lookup_kind": lookup_kind, "customer_id": row["customer_id"],
             "status": row["status"]},
        )  # fmt: skip
    if row["status"] == "not_found":
        raise ReviewError(f"request {request_id} recorded as not_found: {row['status_reason']}")
    return sql.get_request(store, request_id) or {}


def request_export(
    store: Store,
    requested_by: str,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    default_region: str = "GB",
) -> dict[str, Any]:
    """Queue an export (data access / portability) request; unknown people raise `ReviewError` (recorded)."""
    return _request(store, "export", requested_by, customer_id, email, phone, reason, default_region)


def request_anonymization(
    store: Store,
    requested_by: str,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    reason: str | None = None,
    default_region: str = "GB",
) -> dict[str, Any]:
    """Queue an erasure request; unknown people raise `ReviewError` (the request is still recorded)."""
    return _request(store, "anonymize", requested_by, customer_id, email, phone, reason, default_region)


def list_requests(store: Store, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Requests, newest first, optionally of one kind and status."""
    if kind is not None and kind not in KINDS:
        raise ReviewError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if status is not None and status not in STATUSES:
        raise ReviewError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return sql.list_requests(store, kind, status)


def get_request(store: Store, request_id: int) -> dict[str, Any] | None:
    """One request, or None."""
    return sql.get_request(store, request_id)
