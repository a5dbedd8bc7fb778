"""Agents' actions on one customer: lock and unlock, profile edits, comments, and identity search.

A locked customer is never suggested, merged, edited or split until unlocked. Profile edits are
validated with the same normalizers ingest uses and marked agent-edited, so survivorship keeps them.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from rapidfuzz import fuzz

from ingest.normalize import normalize_identities, normalize_phone_values
from ingest.text import fold, name_key
from review.decisions import clean_agent
from review.errors import ReviewError
from store import customers as sql
from store import redirects
from store.db import Store, utcnow

MAX_COMMENT = 5000
MAX_FIELD = 200
TEXT_FIELDS = ("first_name", "last_name", "display_name", "company", "gender", "city", "postcode", "country")
LIST_KEYS = {"emails": "emails", "phones": "phones", "remove_emails": "emails", "remove_phones": "phones"}
ALLOWED_CHANGES = (*TEXT_FIELDS, "birth_date", *LIST_KEYS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _resolved(store: Store, customer_id: int) -> tuple[dict[str, Any], str | None]:
    """The surviving customer row and a note when `customer_id` was merged into it."""
    survivor = redirects.resolve_one(store, customer_id).survivor
    if survivor is None:
        raise ReviewError(f"no customer {customer_id}")
    customer = sql.get_customer(store, survivor)
    assert customer is not None
    note = f"customer {customer_id} was merged into {survivor}" if survivor != customer_id else None
    return customer, note


def _refuse_anonymized(customer: dict[str, Any], action: str) -> None:
    if customer["status"] == "anonymized" or customer["anonymized_at"] is not None:
        raise ReviewError(f"cannot {action} customer {customer['customer_id']}: it was anonymized")


def lock(store: Store, customer_id: int, agent: str, reason: str) -> dict[str, Any]:
    """Lock a customer (following merge redirects): no suggestion, merge, edit or split until unlocked."""
    agent = clean_agent(agent)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("a lock needs a reason (--reason), so other agents know why")
    if len(reason) > MAX_FIELD * 5:
        raise ReviewError(f"lock reason is {len(reason)} characters; at most {MAX_FIELD * 5} are allowed")
    with store.transaction():
        customer, note = _resolved(store, customer_id)
        _refuse_anonymized(customer, "lock")
        survivor = customer["customer_id"]
        if customer["locked"]:
            raise ReviewError(
                f"customer {survivor} is already locked by {customer['locked_by']} "
                f"(reason: {customer['lock_reason']})"
            )
        now = utcnow()
        sql.set_lock(store, survivor, agent, reason, now)
        store.audit(
            agent, "customer_lock", "customer", survivor, {"reason": reason, "requested_id": customer_id}
        )
    return {"customer_id": survivor, "locked": True, "lock_reason": reason, "locked_by": agent, "locked_at": now,
            "redirected": note}  # fmt: skip


def unlock(store: Store, customer_id: int, agent: str) -> dict[str, Any]:
    """Unlock a customer (following merge redirects)."""
    agent = clean_agent(agent)
    with store.transaction():
        customer, note = _resolved(store, customer_id)
        survivor = customer["customer_id"]
        if not customer["locked"]:
            raise ReviewError(f"customer {survivor} is not locked")
        sql.clear_lock(store, survivor, utcnow())
        store.audit(
            agent,
            "customer_unlock",
            "customer",
            survivor,
            {"previous_reason": customer["lock_reason"], "locked_by": customer["locked_by"]},
        )
    return {
        "customer_id": survivor,
        "locked": False,
        "previous_reason": customer["lock_reason"],
        "redirected": note,
    }


def _as_list(key: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    if not all(isinstance(v, str) for v in values):
        raise ReviewError(f"{key} must be text or a list of text")
    return [v.strip() for v in values if v.strip()]


def _text_value(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReviewError(f"{field} must be text")
    text = " ".join(value.split())
    if _CONTROL.search(text) or len(text) > MAX_FIELD:
        raise ReviewError(f"{field} must be at most {MAX_FIELD} characters of printable text")
    return text or None  # an empty value clears the field


def _normalized(column: str, values: list[str]) -> pl.DataFrame:
    """Run ingest's normalization over the values, as if each were an ingested identity's `column`."""
    return normalize_identities(pl.DataFrame({column: values}, schema={column: pl.String}))


def _emails(values: list[str]) -> list[str]:
    normalized = _normalized("email", values)
    bad = [raw for raw, ok in zip(values, normalized["email_valid"].to_list(), strict=True) if not ok]
    if bad:
        raise ReviewError(f"not a valid email address: {', '.join(bad)}")
    return [str(v) for v in normalized["email_norm"].to_list()]


def _phones(values: list[str], region: str) -> list[str]:
    e164, valid = normalize_phone_values(values, region)
    bad = [raw for raw, ok in zip(values, valid, strict=True) if not ok]
    if bad:
        raise ReviewError(f"not a valid phone number (default region {region}): {', '.join(bad)}")
    return [str(v) for v in e164]


def _birth_date(value: Any) -> str | None:
    text = _text_value("birth_date", value)
    if text is None:
        return None
    parsed = _normalized("birth_date", [text])["birth_date_norm"][0]
    if parsed is None:
        raise ReviewError(
            f"birth_date {text!r} is not a date (YYYY-MM-DD, DD/MM/YYYY or '11 Sep 2000'), or is before 1900 "
            "or in the future"
        )
    return str(parsed)


class ProfileErrors(ReviewError):
    """Several profile fields are wrong; `fields` maps each field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{field}: {message}" for field, message in fields.items()))


def validate_changes(customer: dict[str, Any], changes: dict[str, Any], region: str) -> dict[str, str]:
    """Every problem of a set of profile changes, per field ({} when all are fine); nothing is saved."""
    try:
        _new_values(customer, changes, region)
    except ProfileErrors as error:
        return dict(error.fields)
    except ReviewError as error:
        return {"profile": str(error)}
    return {}


def _new_values(customer: dict[str, Any], changes: dict[str, Any], region: str) -> dict[str, Any]:
    """Validated new column values for the fields `changes` touches (only those that differ).

    Every field is checked; all problems are raised together (`ProfileErrors`), so an agent fixes
    them in one go instead of one per save.
    """
    unknown = sorted(set(changes) - set(ALLOWED_CHANGES))
    if unknown:
        raise ReviewError(f"cannot edit {', '.join(unknown)}; editable: {', '.join(ALLOWED_CHANGES)}")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in TEXT_FIELDS:
        if field in changes:
            try:
                values[field] = _text_value(field, changes[field])
            except ReviewError as error:
                errors[field] = str(error)
    if "birth_date" in changes:
        try:
            values["birth_date"] = _birth_date(changes["birth_date"])
        except ReviewError as error:
            errors["birth_date"] = str(error)
    for column, check in (("emails", _emails), ("phones", lambda v: _phones(v, region))):
        try:
            add = _as_list(column, changes.get(column))
            remove = _as_list(f"remove_{column}", changes.get(f"remove_{column}"))
            if not add and not remove:
                continue
            current = list(customer[column] or [])
            dropped = check(remove) if remove else []
            missing = [value for value in dropped if value not in current]
            if missing:
                raise ReviewError(
                    f"customer {customer['customer_id']} has no {column[:-1]} {', '.join(missing)}"
                )
            kept = [value for value in current if value not in dropped]
            values[column] = kept + [
                value for value in dict.fromkeys(check(add) if add else []) if value not in kept
            ]
        except ReviewError as error:
            errors[column] = str(error)
    if errors:
        raise ProfileErrors(errors)
    return {field: value for field, value in values.items() if value != customer[field]}


def edit_profile(
    store: Store, customer_id: int, agent: str, changes: dict[str, Any], default_region: str = "GB"
) -> dict[str, Any]:
    """Update a customer's profile, validated like ingested data, audited and marked agent-edited.

    `changes` keys: the profile fields (an empty value clears one), `emails`/`phones` to add and
    `remove_emails`/`remove_phones`; phones without a country code are read in `default_region`.
    """
    agent = clean_agent(agent)
    if not changes:
        raise ReviewError(f"nothing to edit; editable: {', '.join(ALLOWED_CHANGES)}")
    with store.transaction():
        customer, note = _resolved(store, customer_id)
        if note:
            raise ReviewError(f"{note}: edit customer {customer['customer_id']} instead")
        _refuse_anonymized(customer, "edit")
        if customer["locked"]:
            raise ReviewError(
                f"customer {customer_id} is locked (reason: {customer['lock_reason'] or 'no reason given'}) "
                "- unlock it first"
            )
        values = _new_values(customer, changes, default_region)
        now = utcnow()
        if values:
            edited = list(dict.fromkeys([*(customer["agent_edited"] or []), *values]))
            sources = dict(customer["profile_sources"] or {})
            for field in values:
                sources[field] = {
                    "rule": "agent_edited",
                    "agent": agent,
                    "at": now.isoformat(timespec="seconds"),
                }
            sql.update_profile(store, customer_id, values, edited, sources, now)
            store.audit(
                agent,
                "customer_edit",
                "customer",
                customer_id,
                {"fields": list(values), "old": {f: customer[f] for f in values}, "new": values},
            )
    return {
        "customer_id": customer_id,
        "changed": {field: {"old": customer[field], "new": value} for field, value in values.items()},
        "unchanged": not values,
    }


def add_comment(
    store: Store, agent: str, body: str, *, customer_id: int | None = None, conversation_id: int | None = None
) -> int:
    """Add a comment to a customer's activity log (following redirects) and/or to a conversation."""
    agent = clean_agent(agent)
    text = (body or "").strip()
    if not text:
        raise ReviewError("a comment cannot be empty")
    if len(text) > MAX_COMMENT:
        raise ReviewError(f"comment is {len(text)} characters; at most {MAX_COMMENT} are allowed")
    if customer_id is None and conversation_id is None:
        raise ReviewError("a comment needs a customer or a conversation")
    with store.transaction():
        survivor: int | None = None
        if customer_id is not None:
            customer, _note = _resolved(store, customer_id)
            _refuse_anonymized(customer, "comment on")
            survivor = int(customer["customer_id"])
        if conversation_id is None:
            comment_id = sql.insert_comment(store, agent, text, survivor, None, utcnow())
            subject: tuple[str, int | None] = ("customer", survivor)
        else:
            if not sql.conversation_exists(store, conversation_id):
                raise ReviewError(f"no conversation {conversation_id}")
            owner = sql.conversation_customer(store, conversation_id)
            holder = sql.get_customer(store, owner) if owner is not None else None
            if holder is not None:
                _refuse_anonymized(holder, "comment on a conversation of")
            if survivor is not None and owner != survivor:
                raise ReviewError(
                    f"conversation {conversation_id} belongs to customer {owner}, not {survivor}"
                )
            # no customer id: a conversation's comment follows its conversation through merges and undos
            comment_id = sql.insert_comment(store, agent, text, None, conversation_id, utcnow())
            subject, survivor = ("conversation", conversation_id), owner
        # the audit entry records where, not the text: comments are free text (personal data)
        store.audit(
            agent, "comment", subject[0], subject[1], {"comment_id": comment_id, "customer_id": survivor}
        )
    return comment_id


_PHONE_QUERY = re.compile(r"^\+?[\d\s().\-]{4,}$")


def _score(query: str, row: dict[str, Any]) -> float:
    """How well one identity matches the query, 0-100 (the best of its name, email, phone, handle)."""
    name = row["display_name"] or " ".join(filter(None, [row["first_name"], row["last_name"]]))
    texts = [name, row["email"], row["screen_name"], row["external_id"]]
    scores = [fuzz.WRatio(query, fold(text) or "") for text in texts if text]
    digits = re.sub(r"\D", "", query)
    if row["phone"] and len(digits) >= 4 and row["phone"].endswith(digits[-9:].lstrip("0")):
        scores.append(100.0)
    return round(max(scores, default=0.0), 1)


def search_identities(
    store: Store, query: str, limit: int = 20, default_region: str = "GB"
) -> list[dict[str, Any]]:
    """Identities of active customers matching a name, email, phone or handle (fuzzy), best first."""
    text = (query or "").strip()
    if len(text) < 2:
        raise ReviewError("search for at least 2 characters")
    if not 1 <= limit <= 500:
        raise ReviewError("limit must be between 1 and 500")
    folded = fold(text) or ""
    filters: dict[str, Any] = {}
    if _PHONE_QUERY.match(text):
        e164, valid = normalize_phone_values([text], default_region)
        filters["phone_e164"] = e164[0] if valid[0] else None
        # the national number's tail: "07700 900001" and "+44 7700 900001" both end in 7700900001
        filters["phone_suffix"] = re.sub(r"\D", "", text)[-9:].lstrip("0") or None
    elif "@" in folded and not folded.startswith("@"):
        filters["email"] = folded
        normalized = _normalized("email", [text])
        if normalized["email_valid"][0]:  # a whole address: also its key (gmail dots, +tags)
            filters["email_key"] = normalized["email_key"][0]
    elif folded.startswith("@"):
        filters["handle"] = folded.lstrip("@")
    else:
        tokens = re.split(r"[\s.,_/-]+", folded)
        filters["name_keys"] = [key for key in (name_key(token) for token in tokens) if key]
        filters["handle"] = folded.replace(" ", "")
    candidates = sql.search_candidates(store, **filters, limit=max(200, limit * 5))
    needle = folded.lstrip("@")
    for row in candidates:
        row["score"] = _score(needle, row)
        row.pop("prefilter_score", None)
    candidates.sort(key=lambda row: (-row["score"], row["identity_id"]))
    return candidates[:limit]
