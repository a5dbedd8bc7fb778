"""Phone numbers to E.164 at scale: a vectorized polars emulation of `phonenumbers.parse` + `is_valid_number`.

`phonenumbers` costs ~30 µs a number, too slow for a million distinct numbers. Inputs in a plain shape (digits
with spaces, dots, hyphens and parentheses, an optional leading `+`, an optional extension) are reduced to a
canonical digit string and resolved once per distinct string with polars regexes built from the phonenumbers
metadata (the same patterns, national-prefix and country-code rules as `phonenumbers.parse`). Anything else
(letters, odd symbols, regions whose national-prefix rules rewrite digits) goes through phonenumbers itself,
sharing the work with a helper process when there are many. Tests check the emulation against phonenumbers.

Two policies go beyond phonenumbers: a number written without `+` or an international prefix, and not
starting with `0`, that is invalid in the default region but valid read as international (`33612345678`,
a WhatsApp-style id) is taken as international; and an invalid number gets an E.164 only when it has its
region's shape (general pattern, possible length) and, written nationally, the trunk prefix its region
writes (`trunk_prefix`: GB `310 864 0064` is an American number, not +443108640064), never a fabricated
one (`phone_columns`); its national significant digits stay its matching key (domain/phones.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import phonenumbers
import polars as pl
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, CountryCodeSource, PhoneNumberFormat, ValidationResult
from phonenumbers import phonenumberutil as pnu
from phonenumbers.phonemetadata import PhoneMetadata

# How many distinct numbers must go the slow way before a second process pays for its start-up.
POOL_THRESHOLD = 60_000
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
    trunk: str | None  # the national (trunk) prefix, where the national format writes it (`trunk_prefix`)


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
        trunk=trunk_prefix(meta),
    )


def trunk_prefix(meta: PhoneMetadata) -> str | None:
    """The national prefix a number of this region is written with nationally ('0' in GB), else None.

    None where the national format leaves it out or it is optional everywhere (US/CA: the 1 is not
    written, so a bare 10-digit number is the national format; Italy and Spain have none).
    """
    prefix = meta.national_prefix
    formats = list(meta.number_format or ())
    writes = any(
        f.national_prefix_formatting_rule and not f.national_prefix_optional_when_formatting for f in formats
    )
    return prefix if prefix and writes else None


def _full(e: pl.Expr, pattern: str | None) -> pl.Expr:
    return e.str.contains(f"^(?:{pattern})$") if pattern else pl.lit(False)


def _len_in(e: pl.Expr, lengths: Sequence[int], above_max: bool = False) -> pl.Expr:
    n = e.str.len_bytes()
    hit = n.is_in(list(lengths)) if lengths else pl.lit(False)
    return hit | (n > _MAX_LEN) if above_max else hit


def _strip_np(f: pl.DataFrame, column: str, r: _Region, out: str) -> pl.DataFrame:
    """Add `out`: `column` through `_maybe_strip_national_prefix_carrier_code` (no transform rules)."""
    e = pl.col(column)
    if not r.npp:
        return f.with_columns(e.alias(out))
    f = f.with_columns(_prefix=e.str.extract(f"^({r.npp})", 1))
    matched = pl.col("_prefix").is_not_null()
    f = f.with_columns(_rest=e.str.slice(pl.col("_prefix").str.len_bytes()))
    viable = _full(pl.when(matched).then(e), r.general)
    keep = ~matched | (e.str.len_bytes() == 0) | (viable & ~_full(pl.col("_rest"), r.general))
    return f.with_columns(pl.when(keep).then(e).otherwise("_rest").alias(out)).drop("_prefix", "_rest")


def _valid(e: pl.Expr, r: _Region) -> pl.Expr:
    """`_number_type_helper(...) != UNKNOWN`: the general description and at least one number type match."""
    general = _full(e, r.general)
    if r.general_lengths:
        general = general & _len_in(e, r.general_lengths)
    types = [(_len_in(e, lengths) if lengths else pl.lit(True)) & _full(e, p) for lengths, p in r.types]
    return general & pl.any_horizontal(types) if types else pl.lit(False)


def _validity(part: pl.DataFrame, cc: str) -> pl.DataFrame:
    """Add `valid` to rows of one country code, picking the region among the code's regions as `is_valid_number`."""
    nsn = pl.col("nsn")
    regions = COUNTRY_CODE_TO_REGION_CODE[int(cc)]
    if len(regions) == 1:
        r = _region(regions[0], int(cc))
        return part.with_columns(valid=_valid(nsn, r) if r else pl.lit(False))
    out, pending = [], part
    for code in regions:
        r = _region(code, int(cc))
        if r is None or pending.height == 0:
            continue
        claims = nsn.str.contains(f"^(?:{r.leading})") if r.leading else _valid(nsn, r)
        pending = pending.with_columns(_claim=claims)
        claimed = pending.filter("_claim").drop("_claim")
        out.append(claimed.with_columns(valid=_valid(nsn, r) if r.leading else pl.lit(True)))
        pending = pending.filter(~pl.col("_claim")).drop("_claim")
    return pl.concat([*out, pending.with_columns(valid=pl.lit(False))])


def canonical_keys(raw: pl.Series) -> pl.Series:
    """Canonical phone keys: `+digits` / `digits` for plain shapes, `?raw` for the slow path, null if blank."""
    f = raw.cast(pl.String).str.strip_chars().to_frame("text")
    text = pl.col("text")
    f = f.with_columns(main=pl.when(text.str.contains(r"(?i)[a-z#]")).then(text).str.extract(_EXTENSION, 1))
    f = f.with_columns(main=pl.col("main").fill_null(text))
    main = pl.col("main")
    f = f.with_columns(digits=main.str.replace_all(r"[^0-9]", ""), plain=main.str.contains(_PLAIN))
    digits = pl.col("digits")
    key = (
        pl.when(text.str.len_bytes() == 0)
        .then(None)
        .when(pl.col("plain") & digits.str.len_bytes().is_between(3, 20))
        .then(pl.when(main.str.contains(r"^[\s(]*\+")).then(pl.lit("+") + digits).otherwise(digits))
        .otherwise(pl.lit("?") + text)
    )
    return f.select(key.alias(raw.name)).to_series()


_RESOLVED = pl.Schema(
    {
        "key": pl.String(),
        "e164": pl.String(),
        "valid": pl.Boolean(),
        "slow": pl.Boolean(),
        "guess": pl.Boolean(),
    }
)


def _resolve_plain(keys: pl.Series, region: str) -> pl.DataFrame:
    """Resolve plain canonical keys to (key, e164, valid, slow, guess) with polars only."""
    dr = _region(region)
    if dr is None:
        raise ValueError(f"unknown phone region {region!r}")
    if keys.len() == 0:
        return pl.DataFrame(schema=_RESOLVED)
    dcc = dr.country_code
    key, digits, plus = pl.col("key"), pl.col("digits"), pl.col("plus")
    f = keys.to_frame("key").with_columns(plus=key.str.starts_with("+"), digits=key.str.strip_prefix("+"))
    idd = pl.when(~plus).then(digits).str.extract(f"^({dr.idd})", 1) if dr.idd else pl.lit(None, pl.String)
    f = f.with_columns(_after=digits.str.slice(idd.str.len_bytes()))
    after = pl.col("_after")
    f = f.with_columns(is_idd=(after.is_not_null() & ~after.str.starts_with("0")).fill_null(False))
    intl = plus | pl.col("is_idd")
    f = f.with_columns(full=pl.when(plus).then(digits).when("is_idd").then(after), intl=intl)
    full = pl.col("full")
    cc = pl.lit(None, pl.String)
    for k in (3, 2, 1):
        head = full.str.slice(0, k)
        cc = pl.when(head.is_in(_CC_BY_LEN[k]) & (full.str.len_bytes() >= k)).then(head).otherwise(cc)
    f = f.with_columns(
        _cc=cc, _cand=pl.when(~intl & digits.str.starts_with(dcc)).then(digits.str.slice(len(dcc)))
    )
    f = _strip_np(f, "_cand", dr, "_pot")
    cand, pot, cc = pl.col("_cand"), pl.col("_pot"), pl.col("_cc")
    f = f.with_columns(
        take=cand.is_not_null()
        & (
            (~_full(pl.when(cand.is_not_null()).then(digits), dr.general) & _full(pot, dr.general))
            | _len_in(digits, dr.too_long, True)
        )
    )
    take = pl.col("take")
    short = intl & (full.str.len_bytes() <= 2)
    f = f.with_columns(
        nsn=pl.when(intl).then(full.str.slice(cc.str.len_bytes())).when(take).then(pot).otherwise(digits),
        strip_in=pl.when(intl)
        .then(cc.replace_strict(_CC_MAIN, default=None))
        .when(take)
        .then(pl.lit(_CC_MAIN[dcc]))
        .otherwise(pl.lit(region)),
        cc=pl.when(intl).then(cc).otherwise(pl.lit(dcc)),
        error=short | (pl.col("is_idd") & cc.is_null()),
        slow=(plus & cc.is_null() & ~short) | (~intl & pl.lit(dr.transform)),
        guess=~intl & ~digits.str.starts_with("0"),
        # written nationally without the trunk prefix its region writes (GB "310 864 0064"): if it is
        # invalid, it is most likely a foreign national number, and the region's code would be made up
        bare=~intl & ~take & (pl.lit(dr.trunk is not None) & ~digits.str.starts_with(dr.trunk or "")),
    )
    f = f.select("key", "cc", "nsn", "strip_in", "error", "slow", "guess", "bare")
    parts = [
        f.filter(pl.col("error") | pl.col("slow")).with_columns(e164=pl.lit(None, pl.String), valid=False)
    ]
    for (code, cc_value), part in (
        f.filter(~pl.col("error") & ~pl.col("slow")).partition_by("strip_in", "cc", as_dict=True).items()
    ):
        r = _region(code, int(cc_value))
        if r is None or r.transform:
            parts.append(part.with_columns(e164=pl.lit(None, pl.String), valid=False, slow=True))
            continue
        part = _strip_np(part, "nsn", r, "_pot")
        nsn = pl.col("nsn")
        part = part.with_columns(
            nsn=pl.when(_len_in(pl.col("_pot"), r.keep_stripped, True)).then("_pot").otherwise(nsn)
        )
        n = nsn.str.len_bytes()
        bad = part.filter((n < 2) | (n > 17)).with_columns(e164=pl.lit(None, pl.String), valid=False)
        good = _validity(part.filter((n >= 2) & (n <= 17)), str(cc_value))
        # an invalid number keeps an E.164 only when it has the region's shape (general pattern and
        # length: a reserved or unallocated range); anything else would be a fabricated number
        plausible = pl.col("valid") | (
            _full(nsn, r.general) & _len_in(nsn, r.general_lengths) & ~pl.col("bare")
        )
        parts += [bad, good.with_columns(e164=pl.when(plausible).then(pl.lit("+") + pl.col("cc") + nsn))]
    return pl.concat([p.select(_RESOLVED.names()) for p in parts])


def _parse_slow(raw: str, region: str) -> tuple[str | None, bool]:
    """phonenumbers on one raw string, with the same international guess as the fast path."""
    try:
        num = phonenumbers.parse(raw, region, keep_raw_input=True)
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
    trunk = trunk_prefix(meta) if meta else None
    national = num is not None and num.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    bare = national and trunk is not None and not digits.startswith(trunk)
    if num is None or bare or not _plausible(num):  # `bare`: as `_resolve_plain`
        return None, False
    return phonenumbers.format_number(num, PhoneNumberFormat.E164), False


def _plausible(num: phonenumbers.PhoneNumber | None) -> bool:
    """An invalid number with its region's shape (general pattern and length): not a fabricated one.

    The same test as the vectorized path: the country code's main region's general description.
    """
    if num is None or num.country_code is None:
        return False
    region = phonenumbers.region_code_for_country_code(num.country_code)
    meta = PhoneMetadata.metadata_for_region(region) if region and region != "ZZ" else None
    general = meta.general_desc if meta else None
    if general is None or not general.national_number_pattern:
        return False
    nsn = phonenumbers.national_significant_number(num)
    lengths = tuple(general.possible_length or ())
    return (
        re.fullmatch(general.national_number_pattern, nsn) is not None
        and bool(lengths)
        and len(nsn) in lengths
    )


def _parse_chunk(values: list[str], region: str) -> list[tuple[str | None, bool]]:
    return [_parse_slow(v, region) for v in values]


def _parse_many(values: list[str], region: str) -> list[tuple[str | None, bool]]:
    """phonenumbers over many values; above `POOL_THRESHOLD` a child process takes half of them.

    The child is `python -m ingest.phones` fed JSON on stdin (no multiprocessing: nothing of the caller's
    main module is re-imported, no fork of a threaded process); if it fails, its half is done here.
    """
    if len(values) < POOL_THRESHOLD or (os.cpu_count() or 1) < 2:
        return _parse_chunk(values, region)
    mine, theirs = values[: len(values) // 2], values[len(values) // 2 :]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as feed:
        json.dump(theirs, feed)
        feed.seek(0)
        child = subprocess.Popen(
            [sys.executable, "-m", "ingest.phones", region],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=feed,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        done = _parse_chunk(mine, region)  # meanwhile the child works on the other half
        output, _ = child.communicate()
    try:
        rest = [(e164, bool(valid)) for e164, valid in json.loads(output)] if child.returncode == 0 else []
    except (ValueError, TypeError):
        rest = []
    if len(rest) != len(theirs):
        rest = _parse_chunk(theirs, region)
    return done + rest


def resolve_phone_keys(keys: pl.Series, region: str = "GB") -> pl.DataFrame:
    """Map distinct canonical keys (see `canonical_keys`) to `phone_e164` and `phone_valid`."""
    region = region.upper()
    keys = keys.drop_nulls().unique()
    plain = keys.filter(~keys.str.starts_with("?"))
    res = _resolve_plain(plain, region)
    guess = res.filter(pl.col("guess") & ~pl.col("valid") & ~pl.col("slow"))
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
    slow_keys = pl.concat([keys.filter(keys.str.starts_with("?")), res.filter("slow")["key"]])
    parsed = _parse_many(slow_keys.str.strip_prefix("?").to_list(), region)
    slow = pl.DataFrame(
        {"key": slow_keys, "phone_e164": [p[0] for p in parsed], "phone_valid": [p[1] for p in parsed]},
        schema={"key": pl.String, "phone_e164": pl.String, "phone_valid": pl.Boolean},
    )
    fast = res.filter(~pl.col("slow")).select("key", phone_e164="e164", phone_valid="valid")
    return pl.concat([fast, slow])


def phone_columns(raw: pl.Series, region: str = "GB", regions: pl.Series | None = None) -> pl.DataFrame:
    """`phone_e164` and `phone_valid` for a series of raw phones, row-aligned (null where blank).

    `regions` (row-aligned ISO codes, null where unknown) is each identity's own region, inferred
    from its country or other fields: a national-format number is read there first, then in the
    default `region`; a number invalid in both gets no E.164 unless it has the shape of one
    (`_plausible`): `0612345678` of an identity in France is +33612345678, of one with no country
    it is no E.164 at all (never the fabricated +44612345678). Matching still compares its
    national significant digits (matching/phones.py).
    """
    region = region.upper()
    keys = canonical_keys(raw).to_frame("key")
    if regions is None:
        mapping = resolve_phone_keys(keys["key"], region)
        return keys.join(mapping, on="key", how="left", maintain_order="left").select(
            "phone_e164", "phone_valid"
        )
    supported = pl.Series(sorted(phonenumbers.SUPPORTED_REGIONS))
    own = regions.cast(pl.String).str.to_uppercase()
    keys = keys.with_columns(
        region=pl.when(own.is_in(supported.implode())).then(own).otherwise(pl.lit(region))
    )
    parts = []
    for (code,), group in keys.drop_nulls("key").unique().partition_by("region", as_dict=True).items():
        mapping = resolve_phone_keys(group["key"], str(code)).with_columns(region=pl.lit(code))
        if code != region:  # not valid in the identity's own region: its default-region reading, if valid
            fallback = resolve_phone_keys(mapping.filter(~pl.col("phone_valid"))["key"], region)
            fallback = fallback.filter("phone_valid").select("key", alt="phone_e164")
            mapping = mapping.join(fallback, on="key", how="left").select(
                "key", "region",
                phone_e164=pl.coalesce("alt", "phone_e164"),
                phone_valid=pl.col("phone_valid") | pl.col("alt").is_not_null(),
            )  # fmt: skip
        parts.append(mapping.select("key", "region", "phone_e164", "phone_valid"))
    if not parts:
        n = keys.height
        return pl.DataFrame(
            {
                "phone_e164": pl.Series([None] * n, dtype=pl.String),
                "phone_valid": pl.Series([None] * n, dtype=pl.Boolean),
            }
        )
    joined = keys.join(pl.concat(parts), on=["key", "region"], how="left", maintain_order="left")
    return joined.select("phone_e164", "phone_valid")


def normalize_phone_values(
    values: Iterable[str | None], region: str = "GB"
) -> tuple[list[str | None], list[bool | None]]:
    """E.164 strings and validity flags for raw phone values (None for blanks)."""
    out = phone_columns(pl.Series("raw", list(values), dtype=pl.String), region)
    return out["phone_e164"].to_list(), out["phone_valid"].to_list()


if __name__ == "__main__":  # the helper process of `_parse_many`: JSON list of raw values in, results out
    json.dump(_parse_chunk(json.load(sys.stdin), sys.argv[1]), sys.stdout)
