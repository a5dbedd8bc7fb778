"""Extra attributes prepared for matching: composite columns built, text folded, dates and numbers parsed.

Store columns (raw and normalized identity columns) arrive ready to compare. Any other column a
comparison or blocking rule reads is an *extra attribute*: a key of the identity's `extra` JSON,
read as text. Those are folded like the built-in text columns (NFKC, diacritics removed,
case-folded, whitespace collapsed), parsed for `date` and `numeric` comparisons, and
canonicalised for `address` comparisons (see matching/address.py). A composite column
(`composite_columns = {address = ["street_number", "address_1"]}`) is the non-empty parts joined
by a space, then treated like an extra attribute.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from domain.columns import IDENTITY_KEY_COLUMNS, NORMALIZED_IDENTITY_COLUMNS, RAW_IDENTITY_COLUMNS
from matching.config import ConfigError, MatchConfig
from matching.phones import NATIONAL

# Columns the store provides to the engine: everything else is an extra attribute.
STORE_COLUMNS = frozenset(
    {"identity_id", "customer_id", *IDENTITY_KEY_COLUMNS, *RAW_IDENTITY_COLUMNS, *NORMALIZED_IDENTITY_COLUMNS}
)
# an extra attribute held by fewer identities than this is matched, with a loud warning
SPARSE_FILL_RATE = 0.2
# formats tried in order for a `date` comparison on text without `date_format`: the ones CRM and
# channel exports write (ISO, day-first, compact as in Febrl, year-first with slashes)
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d", "%Y/%m/%d", "%d %b %Y", "%d %B %Y")


def fold_text(value: str) -> str | None:
    """NFKC, diacritics removed, case-folded, whitespace collapsed; None when nothing is left."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", value))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # NFKD splits ligatures and ß survives it: casefold maps ß to ss, like the built-in name keys
    folded = " ".join(plain.casefold().split())
    return folded or None


def map_distinct(series: pl.Series, fn: Callable[[str], str | None]) -> pl.Series:
    """fn applied once per distinct non-null value (extra attributes repeat a lot: cities, states)."""
    text = series.cast(pl.String)
    values = text.drop_nulls().unique().to_list()
    mapping = {value: fn(value) for value in values}
    return text.replace_strict(mapping, default=None, return_dtype=pl.String).alias(series.name)


def parse_dates(series: pl.Series, date_format: str | None = None) -> pl.Series:
    """Text to dates: `date_format` when given, else the first of DATE_FORMATS that parses."""
    if series.dtype == pl.Date:
        return series
    if series.dtype == pl.Datetime:
        return series.dt.date()
    text = series.cast(pl.String).str.strip_chars()
    formats = (date_format,) if date_format else DATE_FORMATS
    frame = pl.DataFrame({"v": text})
    parsed = frame.select(pl.coalesce([pl.col("v").str.to_date(f, strict=False) for f in formats]))
    return parsed.to_series().alias(series.name)


def parse_numbers(series: pl.Series) -> pl.Series:
    """Text to floats (thousands separators and spaces ignored); unparseable values are missing."""
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    text = series.cast(pl.String).str.replace_all(r"[\s,_]", "")
    return text.cast(pl.Float64, strict=False).alias(series.name)


def composite(df: pl.DataFrame, name: str, parts: list[str]) -> pl.Series:
    """The non-empty parts joined by a space (null when every part is empty)."""
    joined = df.select(
        pl.concat_str([pl.col(p).cast(pl.String) for p in parts], separator=" ", ignore_nulls=True)
        .str.strip_chars()
        .alias(name)
    ).to_series()
    return joined.replace("", None)


def extra_columns(config: MatchConfig) -> list[str]:
    """Configured columns that are extra attributes (keys of `extra`), composite parts included."""
    wanted = set(config.read_columns())
    for parts in config.composite_columns.values():
        wanted |= set(parts)
    if config.link_type != "dedupe" or any(r.different_source for r in config.active_rules()):
        wanted.add(config.source_column)
    # phone_national is derived by the engine from the phone columns (matching/phones.py)
    return sorted(wanted - STORE_COLUMNS - set(config.composite_columns) - {NATIONAL})


def prepared_kinds(config: MatchConfig) -> dict[str, str]:
    """Extra or composite column -> how it is prepared: date, numeric, address or text (first use wins)."""
    targets = set(extra_columns(config)) | set(config.composite_columns)
    kinds: dict[str, str] = {}
    for comp in config.active_comparisons():
        for column in comp.all_columns():
            if column in targets and column not in kinds:
                kinds[column] = comp.kind if comp.kind in ("date", "numeric", "address") else "text"
    for column in sorted(targets):
        kinds.setdefault(column, "text")
    return kinds


def prepare_attributes(identities: pl.DataFrame, config: MatchConfig) -> pl.DataFrame:
    """The identities frame with composite columns added and extra attributes folded / parsed."""
    from matching.address import canonical_address

    kinds = prepared_kinds(config)
    if not kinds:
        return identities
    df = identities
    have = set(df.columns)
    # parts are folded before joining, so a composite reads the same whatever the parts' case
    for column in sorted(set(kinds) - set(config.composite_columns)):
        if column in have:
            df = df.with_columns(map_distinct(df.get_column(column), fold_text))
    for name, parts in config.composite_columns.items():
        missing = [p for p in parts if p not in have]
        if missing:
            raise ConfigError(
                f"composite column {name!r} is built from unknown column(s) {missing}; "
                f"available columns: {sorted(have)}"
            )
        df = df.with_columns(composite(df, name, parts))
        df = df.with_columns(map_distinct(df.get_column(name), fold_text))
    formats = {c.column: c.date_format for c in config.active_comparisons() if c.kind == "date"}
    for column, kind in kinds.items():
        if column not in df.columns:
            continue
        series = df.get_column(column)
        if kind == "date":
            df = df.with_columns(parse_dates(series, formats.get(column)))
        elif kind == "numeric":
            df = df.with_columns(parse_numbers(series))
        elif kind == "address":
            df = df.with_columns(map_distinct(series, canonical_address))
    return df


@dataclass
class ColumnFill:
    """How many identities hold a configured extra attribute (after parsing, for dates and numbers)."""

    column: str
    kind: str
    filled: int
    total: int
    raw_filled: int  # before parsing: a date column can be full of text no format reads

    @property
    def rate(self) -> float:
        """Share of identities holding a usable value."""
        return self.filled / self.total if self.total else 0.0


def column_fill(identities: pl.DataFrame, config: MatchConfig) -> list[ColumnFill]:
    """Fill of every extra and composite column the configuration reads, over `identities`."""
    kinds = prepared_kinds(config)
    if not kinds:
        return []
    raw = identities.select([c for c in kinds if c in identities.columns])
    prepared = prepare_attributes(identities, config)
    out = []
    for column, kind in kinds.items():
        source = raw.get_column(column) if column in raw.columns else prepared.get_column(column)
        raw_filled = int((source.cast(pl.String).str.strip_chars().str.len_chars() > 0).sum())
        filled = int(prepared.get_column(column).is_not_null().sum())
        out.append(ColumnFill(column, kind, filled, identities.height, raw_filled))
    return out


def _users(config: MatchConfig, column: str) -> list[str]:
    users = [f"comparison {c.name!r}" for c in config.active_comparisons() if column in c.all_columns()]
    users += [f"blocking rule {r.name!r}" for r in config.active_rules() if column in r.columns()]
    users += [f"composite column {n!r}" for n, parts in config.composite_columns.items() if column in parts]
    if column == config.source_column:
        users.append(f"link_type {config.link_type!r} (source_column)")
    return users


def fill_problems(
    config: MatchConfig, fills: list[ColumnFill], available: Mapping[str, int] | None = None
) -> tuple[list[str], list[str]]:
    """(errors, warnings): a column no identity holds is an error naming the nearest available column;
    a sparse one (under SPARSE_FILL_RATE) a warning with its fill rate. `available`: column -> identities
    holding it (store columns and extra attribute keys), listed in errors."""
    import difflib

    errors, warnings = [], []
    for fill in fills:
        if not fill.total:
            continue
        used = ", ".join(_users(config, fill.column)) or "the configuration"
        if fill.filled == 0:
            if fill.raw_filled:
                errors.append(
                    f"{used} reads {fill.column!r} as {fill.kind}, but none of its {fill.raw_filled} values "
                    "parses" + (" (set `date_format` on the comparison)" if fill.kind == "date" else "")
                )
                continue
            message = f"{used} reads column {fill.column!r}, which no identity holds (0 of {fill.total})"
            names = sorted(available or {})
            close = difflib.get_close_matches(fill.column, names, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
            errors.append(message)
        elif fill.rate < SPARSE_FILL_RATE:
            warnings.append(
                f"sparse extra attribute {fill.column!r} ({used}): only {fill.filled} of {fill.total} "
                f"identities ({fill.rate:.1%}) hold it"
            )
    if errors and available is not None:
        total = max((f.total for f in fills), default=0)
        listed = ", ".join(
            f"{name} ({count / total:.0%})" if total else name
            for name, count in sorted(available.items())
            if count
        )
        errors.append(f"available columns (share of identities holding them): {listed}")
    return errors, warnings
