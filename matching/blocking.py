"""Blocking: candidate identity pairs from several key rules, with capped block sizes.

Each rule maps an identity to one or more key values; identities sharing a key form a block
and every pair in a block is a candidate. Blocks larger than `max_block_size` are skipped and
counted (a switchboard number or "John Smith" must not produce quadratic pairs), so the pair
count grows close to linearly with the data. Rules run in order; a pair is credited to the
first rule that produced it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jellyfish
import numpy as np
import polars as pl

from matching.config import BlockingRuleSpec, parse_key
from matching.frequency import sorted_distinct
from matching.nicknames import canonical_names

_SEP = "\x1f"  # joins the parts of a conjunctive key; never occurs in normalized values


@dataclass
class Candidates:
    """Deduplicated candidate pairs (row indices, left < right) with the first rule that found each."""

    left: np.ndarray  # int32 row index
    right: np.ndarray  # int32 row index
    rule: np.ndarray  # int16 index into the rule list
    rule_counts: pl.DataFrame  # rule, pairs, new_pairs, oversize_blocks_skipped, largest_block
    by_rule: pl.DataFrame  # pos (index into left/right), rule: every rule's own pairs, for EM strata


def _phonetic(func: Callable[[str], str]) -> Callable[[pl.Series], pl.Series]:
    def apply(s: pl.Series) -> pl.Series:
        uniq = s.drop_nulls().unique()
        mapped = pl.Series([func(v) or None for v in uniq.to_list()], dtype=pl.String)
        return s.replace_strict(uniq, mapped, default=None, return_dtype=pl.String)

    return apply


def _canonical(s: pl.Series) -> pl.Series:
    canon = canonical_names()
    uniq = s.drop_nulls().unique()
    mapped = pl.Series([canon.get(v, v) for v in uniq.to_list()], dtype=pl.String)
    return s.replace_strict(uniq, mapped, default=None, return_dtype=pl.String)


_UNARY: dict[str, Callable[[pl.Series], pl.Series]] = {
    "metaphone": _phonetic(jellyfish.metaphone),
    "nysiis": _phonetic(jellyfish.nysiis),
    "soundex": _phonetic(jellyfish.soundex),
    "canonical": _canonical,
    "initial": lambda s: s.str.slice(0, 1),
    "letters": lambda s: s.str.to_lowercase().str.replace_all(r"[^a-z]", ""),
    "email_local": lambda s: s.str.extract(r"^([^@]+)@", 1),
    "email_domain": lambda s: s.str.extract(r"@([^@]+)$", 1),
}


def _string(s: pl.Series) -> pl.Series:
    if s.dtype == pl.String:
        return s
    return s.cast(pl.String)


def key_series(
    df: pl.DataFrame, parsed: tuple[str, list[Any]], memo: dict[str, pl.Series] | None = None
) -> pl.Series:
    """Evaluate a parsed key expression over the frame; empty strings become null.

    `memo` (one per frame) keeps every evaluated sub-expression: the default rules repeat
    canonical(first_name_key), metaphone(...) and friends over a million rows.
    """
    if memo is None:
        memo = {}
    tag = repr(parsed)
    hit = memo.get(tag)
    if hit is not None:
        return hit
    out = _evaluate(df, parsed, memo)
    memo[tag] = out
    return out


def _evaluate(df: pl.DataFrame, parsed: tuple[str, list[Any]], memo: dict[str, pl.Series]) -> pl.Series:
    func, args = parsed
    if func == "column":
        out = _string(df.get_column(args[0]))
    elif func in _UNARY:
        out = _UNARY[func](key_series(df, args[0], memo))
    elif func == "year":
        inner = df.get_column(args[0][1][0]) if args[0][0] == "column" else key_series(df, args[0], memo)
        out = inner.dt.year().cast(pl.String) if inner.dtype.is_temporal() else _string(inner).str.slice(0, 4)
    elif func in ("prefix", "suffix", "digits"):
        s, n = key_series(df, args[0], memo), int(args[1])
        if func == "digits":
            s = s.str.replace_all(r"\D", "")
        out = s.str.slice(0, n) if func == "prefix" else s.str.slice(-n)
    elif func == "concat":
        out = pl.DataFrame([key_series(df, a, memo).alias(f"p{i}") for i, a in enumerate(args)]).select(
            pl.concat_str(pl.all())
        )[:, 0]
    elif func == "sorted" and len(args) == 2:
        a, b = key_series(df, args[0], memo), key_series(df, args[1], memo)
        parts = pl.DataFrame([a.alias("a"), b.alias("b")])
        lo, hi = pl.min_horizontal("a", "b"), pl.max_horizontal("a", "b")
        out = parts.select(pl.concat_str([lo, hi], separator=_SEP))[:, 0]
    elif func == "sorted":
        parts = pl.DataFrame([key_series(df, a, memo).alias(f"p{i}") for i, a in enumerate(args)])
        out = parts.select(
            pl.when(pl.all_horizontal(pl.all().is_not_null()))
            .then(pl.concat_list(pl.all()).list.sort().list.join(_SEP))
            .otherwise(None)
        )[:, 0]
    else:  # pragma: no cover - parse_key rejects unknown functions
        raise ValueError(func)
    return out.replace("", None).alias("key")


def rule_keys(
    df: pl.DataFrame,
    rule: BlockingRuleSpec,
    memo: dict[str, pl.Series] | None = None,
    changed: np.ndarray | None = None,
) -> pl.DataFrame:
    """Long frame (idx, k): every row's key hash for each alternative of the rule.

    With `changed`, only keys that some changed row holds (the only blocks an incremental run
    reads) are kept.
    """
    frames = []
    memo = {} if memo is None else memo
    # (hash, kept) per row of each earlier alternative: a row can repeat a key only across its own
    # alternatives, so comparing row by row dedupes (idx, k) exactly, without a frame unique (0.55 s
    # for name_handle's 3.3M keys at a million identities)
    earlier: list[tuple[np.ndarray, np.ndarray]] = []
    for alt in rule.variants():
        parts = [key_series(df, parse_key(e), memo).alias(f"p{i}") for i, e in enumerate(alt)]
        key = parts[0]  # one part: the string concat_str would copy
        if len(parts) > 1:
            key = pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=_SEP))[:, 0]
        ok = key.is_not_null()
        if rule.min_key_length > 1:
            ok &= key.str.len_chars() >= rule.min_key_length
        kept = ok.fill_null(False).to_numpy()
        # 64-bit hashes join faster than strings; a collision only adds a harmless candidate
        k = key.hash().to_numpy()
        for k_before, kept_before in earlier:
            kept &= ~(kept_before & (k_before == k))
        earlier.append((k, kept))
        idx = np.flatnonzero(kept)
        frames.append(
            pl.DataFrame({"idx": idx.astype(np.int32), "k": k[idx]}, schema={"idx": pl.Int32, "k": pl.UInt64})
        )
    out = pl.concat(frames)
    return out if changed is None else _touched(out, changed)


def _touched(keys: pl.DataFrame, changed: np.ndarray) -> pl.DataFrame:
    """The rows of keys that a changed row also holds."""
    touched = keys.filter(pl.Series(changed[keys.get_column("idx").to_numpy()])).select("k").unique()
    return keys.join(touched, on="k", how="semi")


def rule_pairs(
    keys: pl.DataFrame,
    max_block_size: int,
    changed: np.ndarray | None,
    multi_key: bool = True,
    apart: tuple[np.ndarray, ...] = (),
    n: int = 1 << 31,
) -> tuple[np.ndarray, int, int]:
    """Pairs sharing a key in blocks of 2..max size; (pair keys, oversize blocks, largest block).

    Pair keys are row_l * n + row_r (l < r), sorted and distinct, of rows whose codes in every
    `apart` array (a code per row: customer, source) differ: tested inside the join, and deduped
    as one int64 column, not as a frame of two columns. With `changed`, only blocks holding a
    changed row are sized (and counted as oversize/largest).
    """
    if changed is not None:
        keys = _touched(keys, changed)
    sizes = keys.group_by("k").len()
    oversize = sizes.filter(pl.col("len") > max_block_size)
    largest = int(sizes.get_column("len").to_numpy().max()) if sizes.height else 0
    ok = sizes.filter((pl.col("len") >= 2) & (pl.col("len") <= max_block_size)).select("k")
    keys = keys.join(ok, on="k", how="semi")
    idx = keys.get_column("idx").to_numpy()
    keys = keys.with_columns(pl.Series(f"a{j}", codes[idx]) for j, codes in enumerate(apart))
    left = keys if changed is None else keys.filter(pl.Series(changed[idx]))
    lo, hi = pl.col("idx"), pl.col("idx_r")
    if changed is None:
        order = lo < hi
    else:
        order, lo, hi = lo != hi, pl.min_horizontal(lo, hi), pl.max_horizontal(lo, hi)
    differ = [pl.col(f"a{j}") != pl.col(f"a{j}_r") for j in range(len(apart))]
    pk = (
        left.lazy()
        .join(keys.lazy(), on="k", suffix="_r")
        .filter(order, *differ)
        .select(lo.cast(pl.Int64) * n + hi.cast(pl.Int64))
        .collect()
        .to_series()
        .to_numpy()
    )
    # sorted: a join's output order varies between runs, and EM's sample and sums must not;
    # one identity pair can share several keys of the rule
    pk = sorted_distinct(pk) if changed is not None or multi_key else np.sort(pk)
    return pk, oversize.height, largest


def _first_rule(collected: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """Pair keys in order of first appearance with the first rule that found each, and every
    rule's own pairs as (pos, rule) sorted by rule and position.

    One int64 sort of pair << bits | rule groups a pair's rules, its first rule first (a stable
    argsort, a scatter and a searchsorted over every rule's pairs took 1.2 s at a million
    identities); pair keys (row_l * n + row_r) must leave `bits` free, true below 2^29 rows.
    """
    bits = max(len(collected) - 1, 1).bit_length()
    low = (1 << bits) - 1
    # written in place into one buffer (every pass over millions of keys allocates otherwise)
    tagged = np.empty(sum(len(pk) for pk in collected), dtype=np.int64)
    at = 0
    for i, pk in enumerate(collected):
        part = tagged[at : at + len(pk)]
        np.left_shift(pk, bits, out=part)
        np.bitwise_or(part, i, out=part)
        at += len(pk)
    tagged.sort()
    pair = tagged >> bits
    first = np.ones(len(tagged), dtype=bool)
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    head = tagged[first]
    rule_first = (head & low).astype(np.int16)
    # first appearance: by first rule, then by pair (each rule's own pairs are sorted); int16 keys
    # sort stably by radix
    order = np.argsort(rule_first, kind="stable")
    pos_of = np.empty(len(head), dtype=np.int64)
    pos_of[order] = np.arange(len(head))
    group = np.cumsum(first)
    group -= 1
    pos = pos_of[group]  # a pair's position among the kept pairs, for each rule
    key = np.bitwise_and(tagged, low, out=tagged)  # the rule, then rule << 40 | pos: tagged's buffer
    np.left_shift(key, 40, out=key)
    np.bitwise_or(key, pos, out=key)
    key.sort()
    by_rule = pl.DataFrame(
        {"pos": key & ((1 << 40) - 1), "rule": (key >> 40).astype(np.int16)},
        schema={"pos": pl.Int64, "rule": pl.Int16},
    )
    return (head >> bits)[order], rule_first[order], by_rule


def block(
    df: pl.DataFrame,
    rules: list[BlockingRuleSpec],
    max_block_size: int,
    customer: np.ndarray,
    changed: np.ndarray | None = None,
    source: np.ndarray | None = None,
    link_only: bool = False,
) -> Candidates:
    """Run every rule and deduplicate: pairs across customers, touching a changed row if given.

    With `source` (a code per row), `link_only` or a rule's `different_source` keeps only pairs
    whose rows come from different sources.
    """
    collected, counts = [], []
    memo: dict[str, pl.Series] = {}
    n = max(df.height, 1)  # pair key: row_l * n + row_r (the order of (row_l, row_r))
    for rule in rules:
        keys = rule_keys(df, rule, memo, changed)
        cap = min(rule.max_block_size or max_block_size, max_block_size)
        # pairs inside one customer are already merged
        apart = (
            (customer,) if source is None or not (link_only or rule.different_source) else (customer, source)
        )
        pk, oversize, largest = rule_pairs(keys, cap, changed, len(rule.variants()) > 1, apart, n)
        collected.append(pk)
        counts.append((rule.name, len(pk), oversize, largest))
    pk_all, rule_all, by_rule = _first_rule(collected)
    new = np.bincount(rule_all.astype(np.int64), minlength=len(rules))
    rule_counts = pl.DataFrame(
        {
            "rule": [c[0] for c in counts],
            "pairs": [c[1] for c in counts],
            "new_pairs": [int(x) for x in new[: len(rules)]],
            "oversize_blocks_skipped": [c[2] for c in counts],
            "largest_block": [c[3] for c in counts],
        },
        schema={
            "rule": pl.String,
            "pairs": pl.Int64,
            "new_pairs": pl.Int64,
            "oversize_blocks_skipped": pl.Int64,
            "largest_block": pl.Int64,
        },
    )
    return Candidates(
        (pk_all // n).astype(np.int32),
        (pk_all % n).astype(np.int32),
        rule_all,
        rule_counts,
        by_rule,
    )
