"""The page's customer search: what the agent typed, read as an id, an email, a phone, a handle or a name.

The terms are normalized here with ingest's own normalizers (so `07491 614434` finds `+447491614434`
and `stanislawek` finds `Stanisławek`); `store.views.web_page.search_customers` runs the query. The
CLI's fuzzy identity search runs beside it, so a typo later in a name still finds the customer, and
every customer found is ranked by how well it matches (the CLI's rapidfuzz score), best first.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from ingest.phones import normalize_phone_values
from ingest.text import fold, name_key
from review.customers import search_identities
from review.errors import ReviewError
from store.db import Store
from store.views import web_page

_CUSTOMER_ID = re.compile(r"#\s*\d+")
_PHONE = re.compile(r"[\d\s()+\-.]+")
_WORD_BREAK = re.compile(r"[\s.,_]+")
_POOL = 200  # customers read before ranking: the exact/prefix hits and the fuzzy ones each


def search_terms(query: str, default_region: str = "GB") -> dict[str, Any]:
    """The search terms of a query (keyword arguments of `web_page.search_customers`); empty for blank input."""
    text = " ".join(query.split()).lower()
    if not text:
        return {}
    digits = re.sub(r"\D", "", text)
    terms: dict[str, Any] = {}
    ids: list[int] = []
    if _CUSTOMER_ID.fullmatch(text):
        ids.append(int(digits[:18]))
    elif "@" in text and not text.startswith("@"):
        terms["email_prefix"] = text
    elif digits and len(digits) >= 6 and _PHONE.fullmatch(text):
        e164, valid = normalize_phone_values([text], default_region)
        if valid[0]:
            terms["phone_e164"] = e164[0]
        terms["phone_tail"] = digits.lstrip("0")[-9:]
    else:
        handle = text.lstrip("@")
        terms["handle"] = handle
        terms["name_keys"] = [key for key in (name_key(word) for word in _WORD_BREAK.split(handle)) if key]
        terms["display_text"] = text
    if digits and digits == text:  # a bare number may be a customer id too
        ids.append(int(digits[:18]))
    if ids:
        terms["customer_ids"] = ids
    return terms


def search_customers(
    store: Store, query: str, limit: int = 30, default_region: str = "GB"
) -> list[dict[str, Any]]:
    """Customers with an identity matching `query`, best match first, each with all of its channels.

    Phones in any format (national too), whole addresses or their beginning (`jane.doe`), names and
    handles with accents folded, by prefix (`stanislawek` finds `Stanisławek`) or with a typo after
    their first two letters (`stanislwek`), `#9623` or a bare number for a customer id. Each row's
    `score` (0-100) says how well it matches.
    """
    terms = search_terms(query, default_region)
    if not terms:
        return []
    found = {int(row["customer_id"]): row for row in web_page.search_customers(store, **terms, limit=_POOL)}
    fuzzy: dict[int, float] = {}
    try:
        for identity in search_identities(store, query, limit=_POOL, default_region=default_region):
            customer_id = int(identity["customer_id"])
            fuzzy[customer_id] = max(fuzzy.get(customer_id, 0.0), float(identity["score"]))
    except ReviewError:  # a one-letter query: the exact terms alone
        pass
    fuzzy_only = sorted(set(fuzzy) - set(found))
    if fuzzy_only:
        for row in web_page.search_customers(store, customer_ids=fuzzy_only, limit=len(fuzzy_only)):
            found[int(row["customer_id"])] = row
    needle = fold(" ".join(query.split())) or ""
    for customer_id, row in found.items():
        row["score"] = max(fuzzy.get(customer_id, 0.0), _customer_score(needle, row, terms))
    ranked = sorted(found.values(), key=lambda row: (-row["score"], int(row["customer_id"])))
    return ranked[:limit]


def _customer_score(needle: str, row: dict[str, Any], terms: dict[str, Any]) -> float:
    """How well a customer's own values match the query, 0-100: an id, a phone or an address typed whole is 100."""
    customer_id = int(row["customer_id"])
    if customer_id in terms.get("customer_ids", ()) and needle.lstrip("#").strip() == str(customer_id):
        return 100.0
    phones = [phone for phone in row.get("phones") or [] if phone]
    if terms.get("phone_e164") in phones or (
        terms.get("phone_tail") and any(phone.endswith(terms["phone_tail"]) for phone in phones)
    ):
        return 100.0
    needle = needle.lstrip("@")
    texts = [row.get("name"), *(row.get("emails") or [])]
    scores = [fuzz.WRatio(needle, fold(text) or "") for text in texts if text]
    return round(max(scores, default=0.0), 1)
