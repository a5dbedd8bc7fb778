"""Phone numbers to E.164 at scale: a vectorized polars emulation of `phonenumbers.parse` + `is_valid_number`.

`phonenumbers` costs ~30 µs a number, too slow for a million distinct numbers. Inputs in a plain shape (digits
with spaces, dots, hyphens and parentheses, an optional leading `+`, an optional extension) are reduced to a
canonical digit string and resolved once per distinct string with polars regexes built from the phonenumbers
metadata (the same patterns, national-prefix and country-code rules as `phonenumbers.parse`). Anything else
(letters, odd symbols, regions whose national-prefix rules rewrite digits) goes through phonenumbers itself,
over a process pool when there are many. Tests check the emulation against phonenumbers.

One policy goes beyond phonenumbers: a number written without `+` or an international prefix, and not
starting with `0`, that is invalid in the default region but valid read as international (`33612345678`,
a WhatsApp-style id) is taken as international.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberFormat, ValidationResult
from phonenumbers import phonenumberutil as pnu
from phonenumbers.phonemetadata import PhoneMetadata

# How many distinct numbers must go the slow way before a process pool pays for its start-up (~1 s).
POOL_THRESHOLD = 40_000
_EXTENSION = r"(?i)^(.*?[0-9)])\s*,?\s*(?:ext\.?|extension|x|#)\s*[0-9]{1,6}$"
_PLAIN = r"^[\s(]*\+?[\s(]*[0-9][0-9\s().\-]*$"
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_MAX_LEN = 64
_CC_MAIN = {str(cc): regions[0] for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items()}
_CC_BY_LEN = {k: sorted(cc for cc in _CC_MAIN if len(cc) == k) for k in (1, 2, 3)}


@dataclass(frozen=True)
class _Region:
    """The parts of one region's phonenumbers metadata that the vectorized path needs."""

    code: str
    country_code: str
    general: str | None
    general_lengths: tuple[int, ...]
    types: tuple[tuple[tuple[int, ...], str], ...]  # (possible lengths, union of the type patterns)
    npp: str | None  # national prefix for parsing
    transform: bool  # the national prefix rewrites digits: not emulated, goes the slow way
    leading: str | None
    idd: str | None
    keep_stripped: tuple[int, ...]  # lengths whose length test keeps a stripped national prefix
    too_long: tuple[int, ...]  # lengths that test TOO_LONG


@cache
def _region(code: str, country_code: int = 0) -> _Region | None:
    meta = (
        PhoneMetadata.metadata_for_nongeo_region(country_code)
        if code == "001"
        else PhoneMetadata.metadata_for_region(code)
    )
    if meta is None:
        return None
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in _TYPES:
        desc = getattr(meta, name)
        if desc is not None and desc.national_number_pattern:
            groups.setdefault(tuple(desc.possible_length), []).append(desc.national_number_pattern)
    results = {n: pnu._test_number_length("5" * n, meta) for n in range(_MAX_LEN + 1)}
    bad = (
        ValidationResult.TOO_SHORT,
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        ValidationResult.INVALID_LENGTH,
    )
    general = meta.general_desc
    return _Region(
        code=code,
        country_code=str(meta.country_code),
        general=(general.national_number_pattern if general else None) or None,
        general_lengths=tuple(general.possible_length) if general else (),
        types=tuple((lengths, "|".join(f"(?:{p})" for p in pats)) for lengths, pats in groups.items()),
        npp=meta.national_prefix_for_parsing or None,
        transform=bool(meta.national_prefix_transform_rule),
        leading=meta.leading_digits or None,
        idd=meta.international_prefix or None,
        keep_stripped=tuple(n for n, r in results.items() if r not in bad),
        too_long=tuple(n for n, r in results.items() if r == ValidationResult.TOO_LONG),
    )


def _full(e: pl.Expr, pattern: str | None) -> pl.Expr:
    return e.str.contains(f"^(?:{pattern})$") if pattern else pl.lit(False)


def _len_in(e: pl.Expr, lengths: Sequence[int], above_max: bool = False) -> pl.Expr:
    n = e.str.len_bytes()
    hit = n.is_in(list(lengths)) if lengths else pl.lit(False)
    return hit | (n > _MAX_LEN) if above_max else hit


def _strip_np(e: pl.Expr, r: _Region) -> pl.Expr:
    """`_maybe_strip_national_prefix_carrier_code` without transform rules."""
    if not r.npp:
        return e
    prefix = e.str.extract(f"^({r.npp})", 1)
    rest = e.str.slice(prefix.str.len_bytes())
    keep = prefix.is_null() | (e.str.len_bytes() == 0) | (_full(e, r.general) & ~_full(rest, r.general))
    return pl.when(keep).then(e).otherwise(rest)


def _valid(e: pl.Expr, r: _Region) -> pl.Expr:
    """`_number_type_helper(...) != UNKNOWN`: the general description and at least one number type match."""
    general = _full(e, r.general)
    if r.general_lengths:
        general = general & _len_in(e, r.general_lengths)
    types = [(_len_in(e, lengths) if lengths else pl.lit(True)) & _full(e, p) for lengths, p in r.types]
    return general & pl.any_horizontal(types) if types else pl.lit(False)


def _validity(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `valid` to a frame of (cc, nsn), the way `is_valid_number` picks the region among a code's regions."""
    out = []
    nsn = pl.col("nsn")
    for (cc,), part in frame.partition_by("cc", as_dict=True).items():
        regions = COUNTRY_CODE_TO_REGION_CODE[int(cc)]
        if len(regions) == 1:
            r = _region(regions[0], int(cc))
            out.append(part.with_columns(valid=_valid(nsn, r) if r else pl.lit(False)))
            continue
        pending = part
        for code in regions:
            r = _region(code, int(cc))
            if r is None or pending.height == 0:
                continue
            claims = nsn.str.contains(f"^(?:{r.leading})") if r.leading else _valid(nsn, r)
            pending = pending.with_columns(_claim=claims)
            claimed = pending.filter("_claim").drop("_claim")
            out.append(claimed.with_columns(valid=_valid(nsn, r) if r.leading else pl.lit(True)))
            pending = pending.filter(~pl.col("_claim")).drop("_claim")
        out.append(pending.with_columns(valid=pl.lit(False)))
    schema = pl.Schema([*frame.schema.items(), ("valid", pl.Boolean())])
    return pl.concat([p.select(list(schema)) for p in out]) if out else pl.DataFrame(schema=schema)


def canonical_phone_key(raw: pl.Expr) -> pl.Expr:
    """Canonical key of a raw phone: `+digits` / `digits` for plain shapes, `?raw` for the slow path, null if blank."""
    text = raw.str.strip_chars()
    main = pl.when(text.str.contains(_EXTENSION)).then(text.str.extract(_EXTENSION, 1)).otherwise(text)
    digits = main.str.replace_all(r"[^0-9]", "")
    plain = main.str.contains(_PLAIN) & digits.str.len_bytes().is_between(3, 20)
    plus = main.str.contains(r"^[\s(]*\+")
    return (
        pl.when(text.str.len_bytes() == 0)
        .then(None)
        .when(plain)
        .then(pl.when(plus).then(pl.lit("+") + digits).otherwise(digits))
        .otherwise(pl.lit("?") + text)
    )


def _resolve_plain(keys: pl.Series, region: str) -> pl.DataFrame:
    """Resolve canonical keys to (key, e164, valid, slow, heuristic) with polars only."""
    dr = _region(region)
    if dr is None:
        raise ValueError(f"unknown phone region {region!r}")
    if keys.len() == 0:
        schema = {
            "key": pl.String,
            "e164": pl.String,
            "valid": pl.Boolean,
            "slow": pl.Boolean,
            "guess": pl.Boolean,
        }
        return pl.DataFrame(schema=schema)
    dcc = dr.country_code
    key, digits = pl.col("key"), pl.col("digits")
    f = keys.to_frame("key").with_columns(plus=key.str.starts_with("+"), digits=key.str.strip_prefix("+"))
    idd = digits.str.extract(f"^({dr.idd})", 1) if dr.idd else pl.lit(None, pl.String)
    after = digits.str.slice(idd.str.len_bytes())
    f = f.with_columns(is_idd=~pl.col("plus") & idd.is_not_null() & ~after.str.starts_with("0"), after=after)
    full = pl.when("plus").then(digits).otherwise("after")
    intl = pl.col("plus") | pl.col("is_idd")
    cc = pl.lit(None, pl.String)
    for k in (3, 2, 1):
        cc = (
            pl.when(full.str.slice(0, k).is_in(_CC_BY_LEN[k]) & (full.str.len_bytes() >= k))
            .then(full.str.slice(0, k))
            .otherwise(cc)
        )
    pot = _strip_np(digits.str.slice(len(dcc)), dr)
    take = digits.str.starts_with(dcc) & (
        (~_full(digits, dr.general) & _full(pot, dr.general)) | _len_in(digits, dr.too_long, True)
    )
    f = f.with_columns(
        cc=pl.when(intl).then(cc).otherwise(pl.lit(dcc)),
        nsn=pl.when(intl).then(full.str.slice(cc.str.len_bytes())).when(take).then(pot).otherwise(digits),
        short_idd=intl & (full.str.len_bytes() <= 2),
        strip_in=pl.when(intl | take)
        .then(cc.fill_null(dcc).replace_strict(_CC_MAIN))
        .otherwise(pl.lit(region)),
    )
    f = f.with_columns(
        error=pl.col("short_idd") | (pl.col("is_idd") & pl.col("cc").is_null()),
        slow=(pl.col("plus") & pl.col("cc").is_null() & ~pl.col("short_idd"))
        | (~intl & pl.lit(dr.transform)),
    )
    parts = []
    for (code, _), part in f.partition_by("strip_in", "cc", as_dict=True).items():
        done = part.filter(pl.col("error") | pl.col("slow"))
        part = part.filter(~pl.col("error") & ~pl.col("slow"))
        r = _region(code, int(part["cc"][0])) if part.height else None
        if r is None or r.transform:
            parts.append(done)
            parts.append(part.with_columns(slow=pl.lit(True)))
            continue
        nsn = pl.col("nsn")
        pot = _strip_np(nsn, r)
        part = part.with_columns(nsn=pl.when(_len_in(pot, r.keep_stripped, True)).then(pot).otherwise(nsn))
        parts.extend([done, part])
    f = pl.concat(parts)
    n = pl.col("nsn").str.len_bytes()
    f = f.with_columns(error=pl.col("error") | (~pl.col("slow") & ((n < 2) | (n > 17))))
    ok = f.filter(~pl.col("error") & ~pl.col("slow"))
    ok = _validity(ok.select("key", "cc", "nsn")).with_columns(
        e164=pl.lit("+") + pl.col("cc") + pl.col("nsn")
    )
    rest = f.filter(pl.col("error") | pl.col("slow")).select(
        "key", pl.lit(None, pl.String).alias("e164"), pl.lit(False).alias("valid"), "slow"
    )
    out = pl.concat([ok.select("key", "e164", "valid", pl.lit(False).alias("slow")), rest])
    # the international reading of a bare number that the default region rejects
    guess = f.filter(~intl & ~pl.col("slow") & ~digits.str.starts_with("0")).select("key")
    return out.join(guess.with_columns(guess=pl.lit(True)), on="key", how="left").with_columns(
        pl.col("guess").fill_null(False)
    )


def _parse_slow(raw: str, region: str) -> tuple[str | None, bool]:
    """phonenumbers on one raw string, with the same international guess as the fast path."""
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        num = None
    if num is not None and phonenumbers.is_valid_number(num):
        return phonenumbers.format_number(num, PhoneNumberFormat.E164), True
    text = pnu._extract_possible_number(raw)
    digits = pnu.normalize_digits_only(text)
    meta = PhoneMetadata.metadata_for_region(region)
    prefix = meta.international_prefix if meta else None
    idd = bool(prefix) and pnu._parse_prefix_as_idd(re.compile(prefix or ""), digits)[0]
    if text[:1] not in "+＋" and digits[:1] not in ("", "0") and not idd:
        try:
            alt = phonenumbers.parse("+" + text, None)
            if phonenumbers.is_valid_number(alt):
                return phonenumbers.format_number(alt, PhoneNumberFormat.E164), True
        except phonenumbers.NumberParseException:
            pass
    return (phonenumbers.format_number(num, PhoneNumberFormat.E164) if num else None), False


def _parse_chunk(args: tuple[list[str], str]) -> list[tuple[str | None, bool]]:
    values, region = args
    return [_parse_slow(v, region) for v in values]


def _parse_many(values: list[str], region: str) -> list[tuple[str | None, bool]]:
    if len(values) < POOL_THRESHOLD or (os.cpu_count() or 1) < 2:
        return _parse_chunk((values, region))
    workers = os.cpu_count() or 2
    size = -(-len(values) // (workers * 4))
    chunks = [(values[i : i + size], region) for i in range(0, len(values), size)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [item for chunk in pool.map(_parse_chunk, chunks) for item in chunk]


def resolve_phone_keys(keys: pl.Series, region: str = "GB") -> pl.DataFrame:
    """Map distinct canonical keys (see `canonical_phone_key`) to `phone_e164` and `phone_valid`."""
    keys = keys.drop_nulls().unique()
    plain = keys.filter(~keys.str.starts_with("?"))
    res = _resolve_plain(plain, region)
    guess = res.filter(pl.col("guess") & ~pl.col("valid"))
    if guess.height:
        alt = _resolve_plain("+" + guess["key"], region).filter(pl.col("valid") | pl.col("slow"))
        alt = alt.select(
            pl.col("key").str.slice(1), pl.col("e164").alias("alt"), pl.col("slow").alias("alt_slow")
        )
        res = res.join(alt, on="key", how="left").with_columns(
            e164=pl.coalesce("alt", "e164"),
            valid=pl.col("valid") | pl.col("alt").is_not_null(),
            slow=pl.col("slow") | pl.col("alt_slow").fill_null(False),
        )
    slow = pl.concat(
        [keys.filter(keys.str.starts_with("?")).str.strip_prefix("?"), res.filter("slow")["key"]]
    )
    parsed = _parse_many(slow.to_list(), region)
    slow_frame = pl.DataFrame(
        {
            "key": pl.concat([keys.filter(keys.str.starts_with("?")), res.filter("slow")["key"]]),
            "phone_e164": [p[0] for p in parsed],
            "phone_valid": [p[1] for p in parsed],
        },
        schema={"key": pl.String, "phone_e164": pl.String, "phone_valid": pl.Boolean},
    )
    fast = res.filter(~pl.col("slow")).select(
        "key", pl.col("e164").alias("phone_e164"), pl.col("valid").alias("phone_valid")
    )
    return pl.concat([fast, slow_frame])


def phone_columns(raw: pl.Series, region: str = "GB") -> pl.DataFrame:
    """`phone_e164` and `phone_valid` for a series of raw phones, row-aligned (null where blank)."""
    keys = raw.to_frame("raw").select(canonical_phone_key(pl.col("raw")).alias("key"))
    mapping = resolve_phone_keys(keys["key"], region)
    return keys.join(mapping, on="key", how="left", maintain_order="left").select("phone_e164", "phone_valid")


def normalize_phone_values(
    values: Iterable[str | None], region: str = "GB"
) -> tuple[list[str | None], list[bool | None]]:
    """E.164 strings and validity flags for raw phone values (None for blanks)."""
    out = phone_columns(pl.Series("raw", list(values), dtype=pl.String), region)
    return out["phone_e164"].to_list(), out["phone_valid"].to_list()
