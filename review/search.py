"""The page's customer search: what the agent typed, read as an id, an email, a phone, a handle or a name.

The terms are normalized here with ingest's own normalizers (so `07491 614434` finds `+447491614434`
and `stanislawek` finds `Stanisławek`); `store.views.web_page.search_customers` runs the query.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.phones import normalize_phone_values
from ingest.text import name_key
from store.db import Store
from store.views import web_page

_CUSTOMER_ID = re.compile(r"#\s*\d+")
_PHONE = re.compile(r"[\d\s()+\-.]+")
_WORD_BREAK = re.compile(r"[\s.,_]+")


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
    """Customers with an identity matching `query`, each with all of its channels.

    Phones in any format (national too), whole addresses or their beginning (`jane.doe`), names and
    handles with accents folded and by prefix (`stanislawek` finds `Stanisławek`), `#9623` or a bare
    number for a customer id.
    """
    terms = search_terms(query, default_region)
    return web_page.search_customers(store, **terms, limit=limit) if terms else []
