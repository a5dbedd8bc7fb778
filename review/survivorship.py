"""Survivorship: which value each field of a merged customer's profile takes, and where it came from.

Pure polars. Input is one row per identity of the customers being (re)built, with the profile value
each identity offers per field (`identity_profile_values` in store/merges.py gives exactly that).
Rules, applied in the configured order until one picks a value:

- `agent_edited`: a value an agent typed in for that customer wins over anything an identity says;
- `most_recent`: the value of the identity updated last (`updated_at`); picks only when the latest
  identities agree (two different values with the same newest timestamp decide nothing);
- `most_frequent`: the value most identities share; picks only when one value leads.

When no configured rule picks, the value of the oldest identity (lowest id) is taken (`oldest`),
so the outcome never depends on row order. List fields (emails, phones) keep every distinct value,
oldest identity first; an agent-edited list is kept as the agent left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from domain.columns import PROFILE_LIST_FIELDS, PROFILE_SCALAR_FIELDS

SCALAR_FIELDS = PROFILE_SCALAR_FIELDS
LIST_FIELDS = PROFILE_LIST_FIELDS
FALLBACK_RULE = "oldest"
_KEYS = ("customer_id", "identity_id", "channel", "updated_at")
_FIRSTS = [pl.col(column).first() for column in ("identity_id", "channel", "updated_at", "value")]


def _long_values(identities: pl.DataFrame) -> pl.DataFrame:
    """One row per (customer, identity, scalar field) with a non-empty value."""
    present = [field for field in SCALAR_FIELDS if field in identities.columns]
    if identities.height == 0 or not present:
        return pl.DataFrame(
            schema={
                "customer_id": pl.Int64,
                "identity_id": pl.Int64,
                "channel": pl.String,
                "updated_at": pl.Datetime("us"),
                "field": pl.String,
                "value": pl.String,
            }
        )
    frame = identities.select(
        pl.col("customer_id").cast(pl.Int64),
        pl.col("identity_id").cast(pl.Int64),
        pl.col("channel").cast(pl.String),
        pl.col("updated_at").cast(pl.Datetime("us")),
        *[pl.col(field).cast(pl.String).str.strip_chars() for field in present],
    )
    return frame.unpivot(index=list(_KEYS), on=present, variable_name="field", value_name="value").filter(
        pl.col("value").is_not_null() & (pl.col("value") != "")
    )


def _most_recent(long: pl.DataFrame) -> pl.DataFrame:
    dated = long.filter(pl.col("updated_at").is_not_null())
    latest = dated.filter(pl.col("updated_at") == pl.col("updated_at").max().over("customer_id", "field"))
    return (
        latest.sort("identity_id", descending=True)
        .group_by("customer_id", "field", maintain_order=True)
        .agg(pl.col("value").n_unique().alias("distinct"), *_FIRSTS)
        .filter(pl.col("distinct") == 1)
        .drop("distinct")
    )


def _most_frequent(long: pl.DataFrame) -> pl.DataFrame:
    counted = long.with_columns(pl.len().over("customer_id", "field", "value").alias("n"))
    top = counted.filter(pl.col("n") == pl.col("n").max().over("customer_id", "field"))
    # the source of a frequent value is its most recent identity (then the newest id)
    return (
        top.sort(["updated_at", "identity_id"], descending=True, nulls_last=True)
        .group_by("customer_id", "field", maintain_order=True)
        .agg(pl.col("value").n_unique().alias("distinct"), *_FIRSTS)
        .filter(pl.col("distinct") == 1)
        .drop("distinct")
    )


def _oldest(long: pl.DataFrame) -> pl.DataFrame:
    return long.sort("identity_id").group_by("customer_id", "field", maintain_order=True).first()


_RULES = {"most_recent": _most_recent, "most_frequent": _most_frequent}
_NO_PICKS = pl.DataFrame(
    schema={"customer_id": pl.Int64, "identity_id": pl.Int64, "channel": pl.String, "updated_at": pl.Datetime("us"),
            "field": pl.String, "value": pl.String, "rule": pl.String}
)  # fmt: skip


def _scalar_picks(identities: pl.DataFrame, rules: Sequence[str]) -> pl.DataFrame:
    long = _long_values(identities)
    picks = []
    for rule in [*rules, FALLBACK_RULE]:
        chooser = _oldest if rule == FALLBACK_RULE else _RULES.get(rule)
        if chooser is None:  # agent_edited is applied per customer, outside the identities
            continue
        if long.height == 0:
            break
        # a rule sees only the fields no earlier rule decided (each decides a customer's field from that
        # field's values alone, so this picks the same as running every rule on everything)
        chosen = chooser(long).select(*_KEYS, "field", "value", pl.lit(rule).alias("rule"))
        picks.append(chosen)
        long = long.join(chosen.select("customer_id", "field"), on=["customer_id", "field"], how="anti")
    return pl.concat(picks) if picks else _NO_PICKS


def _list_values(identities: pl.DataFrame, field: str) -> pl.DataFrame:
    if field not in identities.columns or identities.height == 0:
        return pl.DataFrame(
            schema={
                "customer_id": pl.Int64,
                "identity_id": pl.Int64,
                "channel": pl.String,
                "value": pl.String,
            }
        )
    return (
        identities.select(
            pl.col("customer_id").cast(pl.Int64),
            pl.col("identity_id").cast(pl.Int64),
            pl.col("channel").cast(pl.String),
            pl.col(field).cast(pl.String).alias("value"),
        )
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .sort("identity_id")
        .unique(["customer_id", "value"], keep="first", maintain_order=True)
    )


def build_profiles(
    identities: pl.DataFrame,
    agent_values: dict[int, dict[str, Any]],
    rules: Sequence[str],
    list_fields: Sequence[str] = LIST_FIELDS,
) -> dict[int, tuple[dict[str, Any], dict[str, dict[str, Any]]]]:
    """Per customer: (profile values by field, profile_sources: field -> {identity_id, channel, rule}).

    `identities` has customer_id, identity_id, channel, updated_at and one column per profile field
    (emails/phones: that identity's valid address or number); `agent_values` holds, per customer, the
    fields an agent edited with the values they set.
    """
    customers = sorted(
        {int(c) for c in identities.get_column("customer_id").to_list()} | set(agent_values)
        if "customer_id" in identities.columns
        else set(agent_values)
    )
    result: dict[int, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
        customer: ({field: None for field in SCALAR_FIELDS} | {field: [] for field in LIST_FIELDS}, {})
        for customer in customers
    }
    agent_first = "agent_edited" in rules
    picks = _scalar_picks(identities, rules)
    # column lists zipped, not named rows: an apply run takes a pick per customer and field
    columns = ("customer_id", "field", "value", "identity_id", "channel", "rule")
    for customer_id, name, value, identity_id, channel, rule in zip(
        *(picks.get_column(column).to_list() for column in columns), strict=True
    ):
        profile, sources = result[customer_id]
        profile[name] = value
        sources[name] = {"identity_id": identity_id, "channel": channel, "rule": rule}
    for field in LIST_FIELDS:
        keep_all = field in list_fields
        # one aggregation for all customers (not a Python loop over groups: apply runs build thousands)
        grouped = (
            _list_values(identities, field)
            .group_by("customer_id", maintain_order=True)
            .agg(pl.col("value"), pl.col("identity_id"), pl.col("channel").first())
        )
        for customer_id, values, identity_ids, channel in zip(
            *(
                grouped.get_column(column).to_list()
                for column in ("customer_id", "value", "identity_id", "channel")
            ),
            strict=True,
        ):
            if not keep_all:
                values, identity_ids = values[:1], identity_ids[:1]
            profile, sources = result[int(customer_id)]
            profile[field] = list(values)
            sources[field] = {
                "identity_id": identity_ids[0],
                "channel": channel,
                "rule": "all_distinct" if keep_all else FALLBACK_RULE,
                "identity_ids": list(identity_ids),
            }
    for customer_id, edits in agent_values.items():
        profile, sources = result[customer_id]
        for field, value in edits.items():
            if field not in profile or (not agent_first and profile[field] not in (None, [])):
                continue  # agent_edited left out of the rules: an agent's value only fills a gap
            profile[field] = list(value or []) if field in LIST_FIELDS else value
            sources[field] = {"identity_id": None, "channel": None, "rule": "agent_edited"}
    return result


def build_profile(
    identities: pl.DataFrame,
    agent_values: dict[str, Any],
    rules: Sequence[str],
    list_fields: Sequence[str] = LIST_FIELDS,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One customer's profile and profile_sources from its identities and an agent's edits."""
    frame = identities.with_columns(pl.lit(0, dtype=pl.Int64).alias("customer_id"))
    return build_profiles(frame, {0: agent_values}, rules, list_fields)[0]
