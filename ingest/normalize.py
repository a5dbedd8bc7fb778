"""Normalized identity columns (docs/data-model.md) beside the raw ones, pure polars.

Text is folded in polars for ASCII values and in Python once per distinct non-ASCII value (`ingest.text`);
phones are resolved once per distinct canonical digit string (`ingest.phones`). Rules in brief:
- email: trimmed, NFKC, lower-cased; `email_valid` by a regex (one `@`, dotted local atoms, a dotted domain
  with a 2+ letter or `xn--` TLD, no spaces, local part <= 64 and address <= 254 characters); `email_key`
  drops a `+tag` for every domain, and for gmail.com/googlemail.com also the dots (domain `gmail.com`).
  Yahoo's `-keyword` disposable addresses are not folded: the base name is not the account's address.
- names: when both first and last name are missing, `display_name` is split: "Last, First ..." or
  "First [Middle ...] Last" (a leading title such as "Mr" is dropped; a lone token is a first name, or a
  last name after a title; bracketed parts are ignored); `name_from_display` says so. A display name
  that is no person's name ("Mum", "Busy 📵", "Hey there! I am using WhatsApp.", `ingest.display_names`)
  is kept as it is but not split.
- screen_name: NFKC, lower-cased, without leading `@`; postcode: NFKC, upper-case, no whitespace;
  country: ISO alpha-2 from codes (alpha-2, common alpha-3) and common names (English and native), else
  the folded text.
- birth_date: `YYYY-MM-DD` (optionally with a time), `DD/MM/YYYY` (also `.` or `-`, day first),
  `YYYY/MM/DD`, `YYYYMMDD`, and English month names (`11 Sep 2000`, `September 11, 2000`); impossible dates, dates before 1900 and future dates are null.
- created_at/updated_at: ISO-8601 date or date-time (`T` or space, optional fraction, `Z`/`UTC`/`±HH[:MM]`)
  converted to naive UTC, or epoch seconds (9-10 digits, optional fraction) or milliseconds (12-13 digits);
  `*_ts` null and `*_bad` true when a value is present but not parseable.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
import polars as pl

from domain.columns import CANONICAL_IDENTITY_COLUMNS, NORMALIZED_IDENTITY_COLUMNS, PARSED_TIMESTAMP_COLUMNS
from domain.phones import national_digits
from ingest.display_names import person_names
from ingest.phones import normalize_phone_values, phone_columns
from ingest.text import collapse_ascii, fold_text, hybrid, key_text, name_key, plain, plain_text

__all__ = [
    "EMAIL_PATTERN",
    "country_code",
    "fold_text",
    "key_text",
    "name_key",
    "normalize_identities",
    "normalize_phone_values",
    "parse_timestamps",
    "plain_text",
]

_U = r"\x{80}-\x{10FFFF}"  # any non-ASCII character (values are NFKC-normalized first)
_ATOM = rf"[a-z0-9!#$%&'*+/=?^_`{{|}}~{_U}-]+"
_LABEL = rf"[a-z0-9{_U}](?:[a-z0-9{_U}-]*[a-z0-9{_U}])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[a-z{_U}]{{2,63}}|xn--[a-z0-9-]{{1,59}})$"
_DISTINCT_MIN_ROWS = 50_000  # below this, columns are normalized row by row
_SAMPLE = 10_000  # rows sampled to decide whether a column repeats enough to normalize distinct values
_GMAIL = ["gmail.com", "googlemail.com"]
_TITLE = r"^(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|mme|mlle)\.?\s+"
_TZ = r"(?i)(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)$"  # a time zone after a time

_COUNTRY_NAMES = {
    "GB": "uk|united kingdom|great britain|britain|england|scotland|wales|northern ireland|gbr",
    "US": "usa|united states|united states of america|america|u s a",
    "IE": "ireland|eire|irl|republic of ireland",
    "FR": "france|fra|republique francaise",
    "DE": "germany|deutschland|deu|ger|bundesrepublik deutschland",
    "ES": "spain|espana|esp",
    "IT": "italy|italia|ita",
    "NL": "netherlands|the netherlands|holland|nederland|nld",
    "BE": "belgium|belgique|belgie|bel",
    "LU": "luxembourg|lux",
    "PT": "portugal|prt",
    "CH": "switzerland|schweiz|suisse|svizzera|che",
    "AT": "austria|osterreich|oesterreich|aut",
    "SE": "sweden|sverige|swe",
    "NO": "norway|norge|nor",
    "DK": "denmark|danmark|dnk",
    "FI": "finland|suomi|fin",
    "IS": "iceland|island|isl",
    "PL": "poland|polska|pol",
    "CZ": "czech republic|czechia|cesko|cze",
    "HU": "hungary|magyarorszag|hun",
    "RO": "romania|rou",
    "GR": "greece|ellada|hellas|grc",
    "TR": "turkey|turkiye|tur",
    "RU": "russia|russian federation|rus",
    "UA": "ukraine|ukr",
    "IN": "india|ind|bharat",
    "CN": "china|chn|people's republic of china",
    "JP": "japan|jpn|nippon",
    "KR": "south korea|korea|republic of korea|kor",
    "AU": "australia|aus",
    "NZ": "new zealand|nzl",
    "CA": "canada|can",
    "MX": "mexico|mex",
    "BR": "brazil|brasil|bra",
    "AR": "argentina|arg",
    "ZA": "south africa|zaf",
    "NG": "nigeria|nga",
    "EG": "egypt|egy",
    "AE": "united arab emirates|uae|are",
    "SA": "saudi arabia|sau",
    "IL": "israel|isr",
    "SG": "singapore|sgp",
    "HK": "hong kong|hkg",
    "PH": "philippines|phl",
    "PK": "pakistan|pak",
}
COUNTRIES: dict[str, str] = {
    **{code.lower(): code for code in phonenumbers.SUPPORTED_REGIONS},
    **{name: code for code, names in _COUNTRY_NAMES.items() for name in names.split("|")},
}


def country_code(text: str) -> str | None:
    """ISO alpha-2 code for a country name or code (e.g. 'Deutschland' -> 'DE'), else the folded text."""
    folded = plain(text)
    return None if folded is None else COUNTRIES.get(" ".join(folded.replace(".", "").split()), folded)


def _col(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def normalize_email(address: str) -> str | None:
    """An address as `email_norm` holds it before the validity check: NFKC, trimmed, lower case (None if empty)."""
    return unicodedata.normalize("NFKC", address).strip().lower() or None


def _email_norm(e: pl.Expr) -> pl.Expr:
    return hybrid(e, lambda x: x.str.strip_chars().str.to_lowercase(), normalize_email)


def _screen_name(e: pl.Expr) -> pl.Expr:
    def slow(s: str) -> str | None:
        return unicodedata.normalize("NFKC", " ".join(s.split())).lower().lstrip("@").strip() or None

    return hybrid(
        e, lambda x: collapse_ascii(x).str.to_lowercase().str.strip_chars_start("@").str.strip_chars(), slow
    )


def _postcode(e: pl.Expr) -> pl.Expr:
    def slow(s: str) -> str | None:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).upper() or None

    return hybrid(e, lambda x: x.str.replace_all(r"[\s\x00-\x1f\x7f]+", "").str.to_uppercase(), slow)


def _country(e: pl.Expr) -> pl.Expr:
    return plain_text(e).map_batches(_country_series, return_dtype=pl.String, is_elementwise=True)


def _country_series(folded: pl.Series) -> pl.Series:
    key = folded.str.replace_all(".", "", literal=True).str.replace_all(r"\s+", " ").str.strip_chars()
    return key.replace_strict(COUNTRIES, default=folded, return_dtype=pl.String)


def _birth_date(e: pl.Expr) -> pl.Expr:
    b = e.str.strip_chars()
    iso = b.str.extract(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$", 1)
    dmy = pl.when(b.str.contains(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}$")).then(b.str.replace_all(r"[.\-]", "/"))
    ymd = pl.when(b.str.contains(r"^\d{4}/\d{1,2}/\d{1,2}$")).then(b)
    compact = pl.when(b.str.contains(r"^\d{8}$")).then(b)
    # "11 Sep 2000", "11-Sep-2000", "September 11, 2000": CRM exports and agents write dates this way
    named = pl.when(b.str.contains(r"[A-Za-z]")).then(
        b.str.replace_all(r"[,.\-/]+", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    )
    date = pl.coalesce(
        iso.str.to_date("%Y-%m-%d", strict=False),
        dmy.str.to_date("%d/%m/%Y", strict=False),
        ymd.str.to_date("%Y/%m/%d", strict=False),
        compact.str.to_date("%Y%m%d", strict=False),
        named.str.to_date("%d %b %Y", strict=False),
        named.str.to_date("%d %B %Y", strict=False),
        named.str.to_date("%b %d %Y", strict=False),
        named.str.to_date("%B %d %Y", strict=False),
    )
    return pl.when(date.is_between(dt.date(1900, 1, 1), dt.date.today())).then(date)


def _offset_minutes(tz: str) -> int:
    digits = re.sub(r"[^0-9]", "", tz)
    minutes = int(digits[:2] or 0) * 60 + int(digits[2:4] or 0)
    return -minutes if tz.startswith("-") else minutes


def _offsets(tz: pl.Series) -> pl.Series:
    distinct = tz.drop_nulls().unique()
    minutes = pl.Series([_offset_minutes(v) for v in distinct.to_list()], dtype=pl.Int64)
    return tz.replace_strict(distinct, minutes, default=0, return_dtype=pl.Int64)


def parse_timestamps(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Add `<c>_ts` (naive UTC `Datetime("us")`, from ISO-8601 or epoch) and `<c>_bad` for raw timestamp columns."""
    work = frame.with_columns(_col(c).str.strip_chars().alias(f"_t_{c}") for c in columns)
    t = {c: pl.col(f"_t_{c}") for c in columns}
    work = work.with_columns(
        pl.when(t[c].str.len_bytes() > 10).then(t[c].str.extract(_TZ, 0).str.to_lowercase()).alias(f"_tz_{c}")
        for c in columns
    )
    tz = {c: pl.col(f"_tz_{c}") for c in columns}
    work = work.with_columns(
        t[c]
        .str.slice(0, t[c].str.len_bytes() - tz[c].str.len_bytes().fill_null(0))
        .str.strip_chars_end()
        .str.replace("T", " ", literal=True)
        .str.replace(",", ".", literal=True)
        .alias(f"_b_{c}")
        for c in columns
    )
    body = {c: pl.col(f"_b_{c}") for c in columns}
    n = {c: body[c].str.len_bytes() for c in columns}
    work = work.with_columns(
        pl.when(n[c] == 10)
        .then(body[c] + " 00:00:00")
        .when(n[c] == 16)
        .then(body[c] + ":00")
        .otherwise(body[c])
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False)
        .cast(pl.Int64)
        .alias(f"_b_{c}")
        for c in columns
    )
    work = work.with_columns(
        pl.coalesce(
            pl.col(f"_b_{c}") - tz[c].map_batches(_offsets, return_dtype=pl.Int64) * 60_000_000,
            (pl.when(t[c].str.contains(r"^\d{9,10}(?:\.\d+)?$")).then(t[c]).cast(pl.Float64) * 1e6)
            .round()
            .cast(pl.Int64),
            pl.when(t[c].str.contains(r"^\d{12,13}$")).then(t[c]).cast(pl.Int64) * 1000,
        )
        .cast(pl.Datetime("us"))
        .alias(f"{c}_ts")
        for c in columns
    )
    work = work.with_columns(
        ((t[c].str.len_bytes() > 0).fill_null(False) & pl.col(f"{c}_ts").is_null()).alias(f"{c}_bad")
        for c in columns
    )
    return work.drop([f"_{p}_{c}" for c in columns for p in ("t", "tz", "b")])


def _split_display(work: pl.DataFrame) -> pl.DataFrame:
    """Fill first/last name from the folded display name where both are missing; set `name_from_display`."""
    first, last = pl.col("first_name_norm"), pl.col("last_name_norm")
    need = work.select(
        first.is_null() & last.is_null() & pl.col("display_name_norm").is_not_null()
    ).to_series()
    index = need.arg_true()
    shown = work.get_column("display_name_norm").gather(index)
    # "Mum", "Living my best life": no person's name, so no first/last name two strangers could share
    person = person_names(shown)
    index = index.filter(person)
    d = shown.filter(person).str.replace_all(r"\s*[(\[][^)\]]*[)\]]", "")
    # words without a letter ("jane smith 🌸", "jo - smith") are no part of the name; a comma still splits
    words = d.str.split(" ").list.eval(pl.element().filter(pl.element().str.contains(r"[\p{L},]")))
    sub = pl.DataFrame({"d": words.list.join(" ")}).with_columns(
        comma=pl.col("d").str.contains(",", literal=True),
        untitled=pl.col("d").str.replace(_TITLE, ""),
        parts=pl.col("d").str.splitn(",", 2),
    )
    sub = sub.with_columns(
        titled=pl.col("untitled") != pl.col("d"),
        tokens=pl.col("untitled").str.split(" "),
        c_last=pl.col("parts").struct.field("field_0").str.strip_chars(),
        c_first=pl.col("parts").struct.field("field_1").str.strip_chars().str.replace(_TITLE, ""),
    )
    tokens, titled = pl.col("tokens"), pl.col("titled")
    single = tokens.list.len() == 1
    sub = sub.select(
        first=pl.when("comma")
        .then(pl.col("c_first").str.split(" ").list.first())
        .when(single & titled)
        .then(None)
        .otherwise(tokens.list.first())
        .replace("", None),
        last=pl.when("comma")
        .then(pl.col("c_last"))
        .when(~single)
        .then(tokens.list.last())
        .when(titled)
        .then(tokens.list.first())
        .replace("", None),
    )
    split = sub.with_columns(found=pl.col("first").is_not_null() | pl.col("last").is_not_null())
    nulls = pl.Series([None] * work.height, dtype=pl.String)
    split_first = nulls.clone().scatter(index, split["first"])
    split_last = nulls.clone().scatter(index, split["last"])
    from_display = pl.Series([False] * work.height, dtype=pl.Boolean).scatter(index, split["found"])
    return work.with_columns(
        name_from_display=from_display,
        first_name_norm=pl.when(from_display).then(split_first).otherwise(first),
        last_name_norm=pl.when(from_display).then(split_last).otherwise(last),
    )


def _emails(work: pl.DataFrame) -> pl.DataFrame:
    """`email_valid` and `email_key` from `email_norm`, which stays only for valid addresses."""
    norm = pl.col("email_norm")
    parts = norm.str.split_exact("@", 1)
    work = work.with_columns(
        _local=parts.struct.field("field_0"),
        _domain=parts.struct.field("field_1"),
        email_valid=pl.when(norm.is_not_null()).then(
            norm.str.contains(EMAIL_PATTERN) & (norm.str.len_chars() <= 254)
        ),
    )
    local, domain = pl.col("_local"), pl.col("_domain")
    work = work.with_columns(
        email_valid=pl.col("email_valid") & (local.str.len_chars() <= 64),
        _base=local.str.replace(r"\+.*$", "").replace("", None).fill_null(local),
    )
    base = pl.col("_base")
    key = (
        pl.when(domain.is_in(_GMAIL))
        .then(base.str.replace_all(".", "", literal=True) + "@gmail.com")
        .otherwise(base + "@" + domain)
    )
    # an invalid address keeps its raw value only: a normalized "n/a" would block thousands together
    return work.with_columns(
        email_key=pl.when("email_valid").then(key), email_norm=pl.when("email_valid").then(norm)
    ).drop("_local", "_domain", "_base")


# country-code top-level domains used as generic ones (a .io address says nothing about the person)
_GENERIC_TLDS = ("co", "io", "me", "tv", "ai", "ly", "fm", "am", "ws", "to", "cc", "sh", "gg", "la", "nu")


def phone_regions(work: pl.DataFrame) -> pl.Series:
    """Per identity, the region its national-format phone is read in: its country, else its email's
    country-code domain (`.fr`, `.co.uk`), else null (the default region)."""
    tld = pl.col("email_norm").str.extract(r"\.([a-z]{2})$", 1)
    from_email = pl.when(~tld.is_in(list(_GENERIC_TLDS))).then(tld.replace("uk", "gb").str.to_uppercase())
    country = pl.col("country_norm").cast(pl.String).str.to_uppercase()
    supported = sorted(phonenumbers.SUPPORTED_REGIONS)
    own = pl.when(country.is_in(supported)).then(country).when(from_email.is_in(supported)).then(from_email)
    return work.select(own.alias("region")).to_series()


def normalize_identities(frame: pl.DataFrame, default_region: str = "GB") -> pl.DataFrame:
    """Add the normalized identity columns and `created_at_ts`/`updated_at_ts` (+ `_bad` flags) to a raw frame."""
    missing = [c for c in CANONICAL_IDENTITY_COLUMNS if c not in frame.columns]
    work = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    builders: dict[str, tuple[str, Callable[[pl.Expr], pl.Expr]]] = {
        "email_norm": ("email", _email_norm),
        "first_name_norm": ("first_name", fold_text),
        "last_name_norm": ("last_name", fold_text),
        "display_name_norm": ("display_name", fold_text),
        "screen_name_norm": ("screen_name", _screen_name),
        "company_norm": ("company", plain_text),
        "city_norm": ("city", plain_text),
        "postcode_norm": ("postcode", _postcode),
        "country_norm": ("country", _country),
        "birth_date_norm": ("birth_date", _birth_date),
    }
    work = work.with_columns(_mapped(work, src, build).alias(out) for out, (src, build) in builders.items())
    work = _emails(_split_display(work))
    work = work.with_columns(
        first_name_key=_mapped(work, "first_name_norm", key_text),
        last_name_key=_mapped(work, "last_name_norm", key_text),
    )
    work = parse_timestamps(work, ["created_at", "updated_at"])
    phones = phone_columns(work.get_column("phone").cast(pl.String), default_region, phone_regions(work))
    work = work.with_columns(phones)
    # the matching key of a number whatever its region (domain/phones.py)
    work = work.with_columns(national_digits(work.get_column("phone_e164"), work.get_column("phone")))
    keep = [c for c in frame.columns if c not in _OUTPUT]
    return work.select(*keep, *_OUTPUT)


def _mapped(frame: pl.DataFrame, column: str, build: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """`build(column)`, evaluated once per distinct value and mapped back when the column repeats a lot."""
    values = frame.get_column(column)
    present = values.drop_nulls() if values.dtype == pl.String else values.clear()
    if present.len() < _DISTINCT_MIN_ROWS or present.sample(_SAMPLE, seed=0).n_unique() > 0.9 * _SAMPLE:
        return build(_col(column))
    distinct = present.unique()
    mapped = distinct.to_frame(column).select(build(pl.col(column))).to_series()
    return pl.col(column).replace_strict(distinct, mapped, default=None, return_dtype=mapped.dtype)


_OUTPUT = (*NORMALIZED_IDENTITY_COLUMNS, *PARSED_TIMESTAMP_COLUMNS)
