"""Read-only SQL for `idres suggestions export`, `idres customers export` and evaluation against a truth."""

from __future__ import annotations

import polars as pl

from store.db import Store

_KEYS = "list(i.channel || ':' || i.external_id ORDER BY i.identity_id)"


def suggestions_for_export(store: Store) -> pl.DataFrame:
    """One row per suggestion with both customers' identities as lists of channel:external_id."""
    return store.frame(
        f"""WITH keys AS (SELECT i.customer_id, {_KEYS} AS identities FROM identities i GROUP BY 1)
        SELECT s.suggestion_id, s.customer_id_l, s.customer_id_r, s.probability, s.match_weight, s.band,
               s.status, s.related_only, s.reason, s.rule, CAST(s.evidence AS VARCHAR) AS evidence,
               coalesce(kl.identities, []) AS identities_l, coalesce(kr.identities, []) AS identities_r
        FROM suggestions s
        LEFT JOIN keys kl ON kl.customer_id = s.customer_id_l
        LEFT JOIN keys kr ON kr.customer_id = s.customer_id_r
        ORDER BY s.suggestion_id"""
    )


def customers_for_export(store: Store) -> pl.DataFrame:
    """One row per customer: id, status and its identities as a list of channel:external_id."""
    return store.frame(
        f"""SELECT c.customer_id, c.status, c.merged_into,
               coalesce((SELECT {_KEYS} FROM identities i WHERE i.customer_id = c.customer_id), [])
                   AS identities
        FROM customers c ORDER BY c.customer_id"""
    )


def identity_keys(store: Store) -> pl.DataFrame:
    """identity_id, customer_id, channel, external_id of every identity (for evaluation against a truth)."""
    return store.frame(
        "SELECT identity_id, customer_id, channel, external_id FROM identities ORDER BY identity_id"
    )
