"""Read-only SQL for a customer's whole record as `idres customer show` prints it (merges followed)."""

from __future__ import annotations

import json
from typing import Any

from store.db import Store
from store.redirects import resolve_one


def customer_record(store: Store, customer_id: int, recent_messages: int = 20) -> dict[str, Any] | None:
    """A customer's profile, identities, conversations, recent messages and comments."""
    redirect = resolve_one(store, customer_id)
    survivor = redirect.survivor
    if survivor is None:
        return None
    profile = store.rows("SELECT * FROM customers WHERE customer_id = ?", [survivor])[0]
    if profile.get("profile_sources"):
        profile["profile_sources"] = json.loads(profile["profile_sources"])
    identities = store.rows(
        """SELECT identity_id, channel, external_id, display_name, first_name, last_name, screen_name, email,
                  email_norm, email_valid, phone, phone_e164, phone_valid, company, city, postcode, country,
                  birth_date, extra, created_at, updated_at, first_seen_at, changed_at, anonymized
           FROM identities WHERE customer_id = ? ORDER BY identity_id""",
        [survivor],
    )
    conversations = store.rows(
        """SELECT c.conversation_id, c.channel, c.thread_id, c.title, c.created_at, c.last_message_at,
                  count(m.message_id) AS messages,
                  count(m.message_id) FILTER (WHERE m.author_kind = 'agent') AS agent_replies
           FROM conversations c JOIN identities i ON i.identity_id = c.identity_id
           LEFT JOIN messages m ON m.conversation_id = c.conversation_id
           WHERE i.customer_id = ? GROUP BY ALL ORDER BY c.last_message_at DESC NULLS LAST""",
        [survivor],
    )
    messages = store.rows(
        """SELECT m.message_id, m.conversation_id, c.channel, m.author_kind, m.agent_name, m.body, m.created_at
           FROM messages m JOIN conversations c ON c.conversation_id = m.conversation_id
           JOIN identities i ON i.identity_id = c.identity_id
           WHERE i.customer_id = ? ORDER BY m.created_at DESC LIMIT ?""",
        [survivor, recent_messages],
    )
    comments = store.rows(
        """SELECT comment_id, customer_id, conversation_id, agent, body, created_at FROM comments
           WHERE customer_id = ? OR conversation_id IN (
               SELECT c.conversation_id FROM conversations c JOIN identities i ON i.identity_id = c.identity_id
               WHERE i.customer_id = ?)
           ORDER BY created_at DESC""",
        [survivor, survivor],
    )
    return {
        "requested_id": customer_id,
        "customer_id": survivor,
        "redirected_from": redirect.redirected_from,
        "profile": profile,
        "identities": identities,
        "conversations": conversations,
        "recent_messages": messages,
        "comments": comments,
    }
