"""Customer-level suggestions from scored identity pairs.

Combination rule: a customer pair takes its *best* identity pair (highest match weight) as
its probability, rule and evidence. Identity pairs between the same two customers are not
independent evidence (a customer's identities share values), so summing their weights or a
noisy-or would count one email three times; the best pair is also the one a reviewer can
check. Pairs inside one customer never appear (blocking drops them).

Bands: auto_approve (>= auto_approve_threshold, when set, and no shared value involved),
review (>= review_threshold), possible (>= possible_floor, when set: below review, off the
default queue, for agents working down and for `idres evaluate`), below. Suggestions hold every
customer pair in review, auto_approve or possible, plus "related, not merged" pairs (best
evidence only a shared value) in band below with related_only = true: informational, never merged.
"""

from __future__ import annotations

import hashlib

import polars as pl

from matching.config import ComparisonSpec

SUGGESTION_SCHEMA: dict[str, pl.DataType] = {
    "customer_id_l": pl.Int64(),
    "customer_id_r": pl.Int64(),
    "probability": pl.Float64(),
    "match_weight": pl.Float64(),
    "band": pl.String(),
    "related_only": pl.Boolean(),
    "reason": pl.String(),
    "rule": pl.String(),
    "evidence": pl.String(),
    "identity_id_l": pl.Int64(),
    "identity_id_r": pl.Int64(),
    "evidence_hash": pl.String(),
}


def _value(prefix: str, cols: list[str]) -> pl.Expr:
    """The display value of gathered rows (columns `prefix` + name): joined by " | ", null when empty."""
    parts = [pl.col(prefix + c).cast(pl.String) for c in cols]
    if not parts:
        return pl.lit(None, dtype=pl.String)
    if len(parts) == 1:  # what concat_str of one column gives: the column, "" as null
        return parts[0].replace("", None)
    return pl.concat_str(parts, separator=" | ", ignore_nulls=True).replace("", None)


def evidence_columns(
    best: pl.DataFrame, identities: pl.DataFrame, specs: list[ComparisonSpec]
) -> pl.DataFrame:
    """What the evidence of each best pair is built from: per comparison the two display values,
    the level, the rounded weight and whether it is shown; `_cluster`, the cluster evidence item.

    One lazy query: it runs beside the Python walk of channel conflicts, and each eager call
    would wait for the GIL again.
    """
    available = set(identities.columns)
    shown = {spec.name: spec.display_columns(available) for spec in specs}
    # every displayed column gathered once per side, in one frame gather (columns in parallel),
    # not once per comparison showing it
    needed = list(dict.fromkeys(c for cols in shown.values() for c in cols))
    own = [c for spec in specs for c in (f"{spec.name}_level", f"{spec.name}_weight")]
    if "cluster_evidence" in best.columns:
        own.append("cluster_evidence")
    rows = identities.lazy().select(needed)
    ev = pl.concat(
        [
            best.lazy().select(own),
            rows.select(pl.all().name.prefix("l:")).select(
                pl.all().gather(pl.lit(best.get_column("_row_l")))
            ),
            rows.select(pl.all().name.prefix("r:")).select(
                pl.all().gather(pl.lit(best.get_column("_row_r")))
            ),
        ],
        how="horizontal",
    )
    columns = []
    for spec in specs:
        cols = shown[spec.name]
        level = pl.col(f"{spec.name}_level").cast(pl.String)
        columns += [
            _value("l:", cols).alias(f"{spec.name}_vl"),
            _value("r:", cols).alias(f"{spec.name}_vr"),
            level.alias(f"{spec.name}_lv"),
            pl.col(f"{spec.name}_weight").round(3).alias(f"{spec.name}_w"),
            # missing / n/a fields are left out: they carry no evidence either way
            (~level.is_in(sorted({"missing", "n/a"}))).alias(f"{spec.name}_k"),
        ]
    if "cluster_evidence" in best.columns:  # matching/clusters.py: one item of its own
        columns.append(pl.col("cluster_evidence").alias("_cluster"))
    return ev.select(columns).collect()


def evidence_json(ev: pl.DataFrame, specs: list[ComparisonSpec]) -> pl.Series:
    """`evidence` of evidence_columns' rows: one JSON object per shown field, as a list."""
    items = []
    for spec in specs:
        item = pl.struct(
            field=pl.lit(spec.name),
            value_l=pl.col(f"{spec.name}_vl"),
            value_r=pl.col(f"{spec.name}_vr"),
            level=pl.col(f"{spec.name}_lv"),
            weight=pl.col(f"{spec.name}_w").cast(pl.Float64),
        )
        items.append(pl.when(pl.col(f"{spec.name}_k")).then(item.struct.json_encode()))
    if "_cluster" in ev.columns:
        items.append(pl.when(pl.col("_cluster").is_not_null()).then(pl.col("_cluster")))
    if not items:
        return pl.Series("evidence", ["[]"] * ev.height, dtype=pl.String)
    # one JSON object per kept field, joined into a list: the same bytes as json_encode of the
    # list of structs, without concat_list + drop_nulls on structs (slow: ~30 us per row)
    return ev.select(
        pl.concat_str(
            [pl.lit("["), pl.concat_str(items, separator=",", ignore_nulls=True), pl.lit("]")]
        ).alias("evidence")
    ).to_series()


def evidence_hashes(ev: pl.DataFrame, specs: list[ComparisonSpec]) -> pl.Series:
    """`evidence_hash` of evidence_columns' rows: fields, values and levels, not weights (a model
    refit alone is not new evidence)."""
    hash_parts = [
        pl.when(pl.col(f"{spec.name}_k")).then(
            pl.concat_str(
                [pl.lit(spec.name), f"{spec.name}_vl", f"{spec.name}_vr", f"{spec.name}_lv"],
                separator="\x1f",
                ignore_nulls=True,
            )
        )
        for spec in specs
    ]
    if "_cluster" in ev.columns:
        # hashed without its rate and weight: a refit alone is not new evidence
        key = pl.col("_cluster").str.json_path_match("$.value_l")
        hash_parts.append(pl.when(key.is_not_null()).then(pl.lit("private_value\x1f") + key))
    if not hash_parts:
        return pl.Series("evidence_hash", [""] * ev.height, dtype=pl.String)
    joined = ev.select(pl.concat_str(hash_parts, separator="\x1e", ignore_nulls=True)).to_series()
    digests = [hashlib.blake2b(s.encode(), digest_size=12).hexdigest() for s in joined.to_list()]
    return pl.Series("evidence_hash", digests, dtype=pl.String)


def suggestion_rows(
    pairs: pl.DataFrame,
    specs: list[ComparisonSpec],
    review_threshold: float,
    auto_approve_threshold: float | None,
    possible_floor: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The suggestions without their evidence (in their final order, `_best`: the row of `best`),
    and `best`, each customer pair's best identity pair (what evidence_columns takes)."""
    floor = review_threshold if possible_floor is None else min(possible_floor, review_threshold)
    cand = pairs.filter((pl.col("match_probability") >= floor) | pl.col("related_only"))
    if cand.height == 0:
        return pl.DataFrame(schema={**SUGGESTION_SCHEMA, "_best": pl.UInt32()}), cand
    flip = pl.col("customer_id_l") > pl.col("customer_id_r")
    swap = {"customer_id": True, "identity_id": True, "_row": True}
    cand = cand.with_columns(
        *[pl.when(flip).then(pl.col(f"{k}_r")).otherwise(pl.col(f"{k}_l")).alias(f"{k}_l") for k in swap],
        *[pl.when(flip).then(pl.col(f"{k}_l")).otherwise(pl.col(f"{k}_r")).alias(f"{k}_r") for k in swap],
    )
    best = cand.sort(
        ["match_weight", "identity_id_l", "identity_id_r"], descending=[True, False, False]
    ).unique(subset=["customer_id_l", "customer_id_r"], keep="first", maintain_order=True)
    band = (
        pl.when(
            pl.lit(auto_approve_threshold is not None)
            & (pl.col("match_probability") >= (auto_approve_threshold or 1.0))
            & ~pl.col("_shared_hit")
        )
        .then(pl.lit("auto_approve"))
        .when(pl.col("match_probability") >= review_threshold)
        .then(pl.lit("review"))
        .when((pl.col("match_probability") >= floor) & ~pl.col("related_only"))
        .then(pl.lit("possible"))
        .otherwise(pl.lit("below"))
    )
    top = _top_fields(specs)
    head = best.with_row_index("_best").select(
        pl.col("customer_id_l").cast(pl.Int64),
        pl.col("customer_id_r").cast(pl.Int64),
        pl.col("match_probability").alias("probability"),
        pl.col("match_weight"),
        band.alias("band"),
        pl.col("related_only"),
        pl.when(pl.col("related_only")).then(pl.col("related_reason")).otherwise(top).alias("reason"),
        pl.col("rule").cast(pl.String),
        pl.col("identity_id_l").cast(pl.Int64),
        pl.col("identity_id_r").cast(pl.Int64),
        pl.col("_best"),
    )
    # customer pairs are distinct: the order is total
    head = head.sort(["probability", "customer_id_l", "customer_id_r"], descending=[True, False, False])
    return head, best


def with_evidence(head: pl.DataFrame, evidence: pl.DataFrame) -> pl.DataFrame:
    """suggestion_rows' suggestions with their best pairs' evidence (evidence_json, evidence_hashes), in SUGGESTION_SCHEMA's order."""
    if head.height == 0:
        return pl.DataFrame(schema=SUGGESTION_SCHEMA)
    ev = evidence[head.get_column("_best")]
    return head.with_columns(ev.get_column("evidence"), ev.get_column("evidence_hash")).select(
        list(SUGGESTION_SCHEMA)
    )


def _top_fields(specs: list[ComparisonSpec]) -> pl.Expr:
    """'email exact, first_name nickname': the levels of the fields with positive weight."""
    parts = [
        pl.when(pl.col(f"{s.name}_weight") > 0).then(
            pl.concat_str([pl.lit(s.name + " "), pl.col(f"{s.name}_level").cast(pl.String)])
        )
        for s in specs
    ]
    if not parts:
        return pl.lit("")
    return pl.concat_str(parts, separator=", ", ignore_nulls=True)
