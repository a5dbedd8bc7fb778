"""The people behind the identities: names, households, employers, addresses, numbers and handles.

One row per person (entity). Names are drawn Zipf-like per locale; relatives share a surname, an
address and a home phone; employers are Zipf-sized, so a few switchboards and shared inboxes are
used by many unrelated people; addresses, numbers and handles are unique to a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl

from data import vocab
from data.noise import (
    ascii_key,
    at_email,
    capped,
    choice,
    dedup,
    fold,
    pick,
    rand_str,
    rank_within,
    render,
    same_length,
    weights_of,
)


def _landline(rng: np.random.Generator, area: pl.Series) -> pl.Series:
    """Landline national numbers (10 digits) in the given area codes."""
    frame = pl.DataFrame({"a": area, "u": rng.random(len(area)), "d": rand_str(rng, len(area), 9)})
    allowed = pl.col("a").replace_strict(vocab.LANDLINE_FIRST, default="2345678", return_dtype=pl.Utf8)
    first = allowed.str.slice((pl.col("u") * allowed.str.len_chars()).cast(pl.Int64), 1)
    return frame.select(
        pl.col("a") + first + pl.col("d").str.slice(0, 9 - pl.col("a").str.len_chars())
    ).to_series()


def _mobile(rng: np.random.Generator, n: int, region: str) -> pl.Series:
    if region == "GB":
        return "7" + rand_str(rng, n, 1, "4578") + rand_str(rng, n, 1, "123456789") + rand_str(rng, n, 7)
    cities = vocab.CITIES[region]
    areas = pl.Series([c[2] for c in cities])[choice(rng, n, [c[3] for c in cities])]
    return areas + rand_str(rng, n, 1, "23456789") + rand_str(rng, n, 6)


def first_group(region: str, area: str) -> int:
    """Length of the first group of a national number (area code, mobile prefix)."""
    return len(area) if region == "GB" else 3


@cache
def _vocabulary(locales: tuple[str, ...], attr: str) -> tuple[pl.Series, np.ndarray]:
    """The names of all locales for one attribute in one Series, with each locale's offset."""
    arrays = [getattr(vocab.name_pool(name), attr) for name in locales]
    offsets = np.cumsum([0] + [len(a) for a in arrays])
    return pl.Series(np.concatenate(arrays).tolist(), dtype=pl.Utf8), offsets


def _names(rng: np.random.Generator, locale: np.ndarray, locales: Sequence[str], attr: str) -> pl.Series:
    """A weighted random name per row from the row's locale."""
    names, offsets = _vocabulary(tuple(locales), attr)
    index = np.zeros(len(locale), np.int64)
    for k, name in enumerate(locales):
        rows = np.flatnonzero(locale == k)
        probs = getattr(vocab.name_pool(name), f"{attr}_p")
        index[rows] = offsets[k] + rng.choice(len(probs), size=len(rows), p=probs)
    return names[index]


def _when(mask: np.ndarray, then: pl.Series, otherwise: pl.Series | None = None) -> pl.Series:
    """then where mask, else otherwise (or null)."""
    expr = pl.when(pl.lit(mask)).then(then)
    return pl.select(expr if otherwise is None else expr.otherwise(otherwise)).to_series()


def _households(rng: np.random.Generator, n: int, region: str) -> pl.DataFrame:
    """Per person: household, true names, gender, city, postcode, home phone (shared by the household)."""
    hh = np.repeat(np.arange(n), choice(rng, n, vocab.HOUSEHOLD_SIZE_P))[:n]
    rank, n_hh, size = rank_within(hh), int(hh[-1]) + 1, np.bincount(hh)
    locales = [name for name, _ in vocab.LOCALE_MIX[region]]
    hh_locale = choice(rng, n_hh, [share for _, share in vocab.LOCALE_MIX[region]])
    rare, u = pl.Series(vocab.rare_surnames(), dtype=pl.Utf8), rng.random(n_hh)
    surname = _names(rng, hh_locale, locales, "last")
    barrel = surname + "-" + _names(rng, np.zeros(n_hh, int), ["en_GB"], "last")  # double-barrelled
    surname = _when((u > 0.97) & (hh_locale <= 1), barrel, surname)
    surname = _when(u < 0.05, rare[rng.integers(0, len(rare), n_hh)], surname)
    locale = hh_locale[hh]
    gender = np.array(["male", "female", "unknown"])[choice(rng, n, (0.49, 0.49, 0.02))]
    male = (gender == "male") | ((gender == "unknown") & (rng.random(n) < 0.5))
    first = _when(male, _names(rng, locale, locales, "male"), _names(rng, locale, locales, "female"))
    last = _when((rank > 0) & (rng.random(n) < 0.15), _names(rng, locale, locales, "last"), surname[hh])
    head = np.flatnonzero(rank == 0)[hh]
    junior = (rank > 0) & male & male[head] & (rng.random(n) < 0.05)  # same name, same house, other person
    first = _when(junior, first[head], first)
    cities = vocab.CITIES[region]
    city_i = choice(rng, n_hh, [c[3] for c in cities])
    areas = pl.Series([c[1] for c in cities])[city_i].str.split("|")
    area = areas.list.get(pl.Series(rng.integers(0, 8, n_hh)) % areas.list.len())
    if region == "GB":
        district = pl.Series(rng.integers(1, 30, n_hh)).cast(pl.Utf8)
        inward = rand_str(rng, n_hh, 1, "123456789") + rand_str(rng, n_hh, 2, "ABDEFGHJLNPQRSTUWXYZ")
        postcode = area + district + " " + inward
    else:
        postcode = area + rand_str(rng, n_hh, 2)
    home = _landline(rng, pl.Series([c[2] for c in cities])[city_i])
    home = _when(rng.random(n_hh) < np.where(size > 1, 0.75, 0.35), home)
    alts = pl.Series([c[4][int(rng.integers(0, len(c[4])))] if c[4] else None for c in cities], dtype=pl.Utf8)
    return pl.DataFrame({
        "hh": hh, "head": rank == 0, "gender": gender, "first": first, "last": last,
        "locale": pl.Series(np.array(locales)[locale]), "postcode": postcode[hh], "home": home[hh],
        "birth": rng.triangular(-25000, -9000, -6600, n).astype(np.int64) + 20000,  # days since 1970: ages 18-90
        "city": pl.Series([c[0] for c in cities])[city_i[hh]], "city_alt": alts[city_i[hh]],
        "home_split": pl.Series([first_group(region, c[2]) for c in cities])[city_i[hh]],
        "family": (rng.random(n_hh) < np.where(size > 1, 0.12, 0.0))[hh],
    })  # fmt: skip


def _employers(rng: np.random.Generator, n: int, region: str) -> pl.DataFrame:
    """Per person: employer (Zipf-sized, so big ones share a switchboard and inbox among many), or nulls."""
    n_co, cities = max(10, n // 30), vocab.CITIES[region]
    co_city = choice(rng, n_co, [c[3] for c in cities])
    names = _names(rng, np.zeros(n_co, int), ["en_GB" if region == "GB" else "en_US"], "last")
    suffixes, inboxes = pl.Series(vocab.COMPANY_SUFFIXES[region]), pl.Series(vocab.SHARED_LOCALS)
    area = pl.Series([c[2] for c in cities])[co_city]
    co = pl.DataFrame({
        "company": names + " " + suffixes[rng.integers(0, len(suffixes), n_co)],
        "switch": _landline(rng, area), "direct": _landline(rng, area),
        "work_split": pl.Series([first_group(region, c[2]) for c in cities])[co_city],
        "inbox": inboxes[rng.integers(0, len(inboxes), n_co)], "u": rng.random(n_co),
    })  # fmt: skip
    tld = ".co.uk" if region == "GB" else ".com"
    first_word = ascii_key(pl.col("company").str.split(" ").list.first())
    co = co.with_columns(
        domain=first_word + pick((pl.col("u") * 3).cast(pl.Int8), ["", "group", "ltd"]) + tld,
        switch=pl.when(pl.col("u") < 0.5).then(pl.col("switch").str.slice(0, 7) + "000").otherwise("switch"),
    ).with_columns(inbox=pl.when(pl.col("u") < 0.45).then(pl.col("inbox") + "@" + pl.col("domain")))
    employer = np.where(rng.random(n) < 0.4, rng.choice(n_co, n, p=_zipf(n_co, 0.8)), -1)
    rows = co[np.maximum(employer, 0)].drop("u")
    rows = rows.with_columns(work=pl.when(pl.lit(rng.random(n) < 0.4)).then("direct").otherwise("switch"))
    return rows.drop("direct").select(pl.when(pl.lit(employer >= 0)).then(pl.all()).name.keep())


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def make_people(rng: np.random.Generator, n: int, region: str) -> pl.DataFrame:
    """One row per person: names, household, employer, mobile(s), email addresses and handles."""
    p = pl.concat([_households(rng, n, region), _employers(rng, n, region)], how="horizontal")
    words = pl.Series(vocab.HANDLE_WORDS)
    nicks = pl.col("first").replace_strict(vocab.NICKNAMES_JOINED, default=None, return_dtype=pl.Utf8)
    p = p.with_columns(
        mobile=_mobile(rng, n, region),
        mobile2=pl.when(pl.lit(rng.random(n) < 0.1)).then(pl.lit(_mobile(rng, n, region))),
        tier=pl.lit(pl.Series(vocab.TIERS)[choice(rng, n, (5, 3, 1.5, 0.5))]),
        nick=nicks.str.split("|"), nick_u=pl.lit(rng.random(n)),
        last=pl.when((pl.col("locale") == "pl_PL") & (pl.col("gender") == "female"))
        .then(pl.col("last").str.replace(r"(sk|ck|dzk)i$", "${1}a"))  # Kowalski -> Kowalska
        .otherwise("last"),
    )  # fmt: skip
    p = p.with_columns(
        nick=pl.col("nick").list.get((pl.col("nick_u") * pl.col("nick").list.len()).cast(pl.Int64))
    )
    p = p.with_columns(
        f=ascii_key(pl.col("first")), l=ascii_key(pl.col("last")), n=ascii_key(pl.coalesce("nick", "first"))
    )
    parts = {
        "f": pl.col("f"), "l": pl.col("l"), "n": pl.col("n"), "fi": pl.col("f").str.slice(0, 1),
        "li": pl.col("l").str.slice(0, 1), "y": pl.from_epoch("birth", "d").dt.year().cast(pl.Utf8),
        "w": pl.lit(words[rng.integers(0, len(words), n)] + words[rng.integers(0, len(words), n)]),
        "d1": pl.lit(rand_str(rng, n, 1)), "d2": pl.lit(pl.Series(rng.integers(1, 100, n)).cast(pl.Utf8)),
        "d3": pl.lit(pl.Series(rng.integers(1, 1000, n)).cast(pl.Utf8)),
        "F": fold(pl.col("first")).str.replace_all(r"[^A-Za-z]", ""), "L": fold(pl.col("last")).str.replace_all(r"[^A-Za-z]", ""),
    }  # fmt: skip
    p = p.with_columns(render(t, parts).alias(f"_l{i}") for i, (t, _) in enumerate(vocab.EMAIL_LOCALS))
    p = p.with_columns(render(t, parts).alias(f"_h{i}") for i, (t, _) in enumerate(vocab.HANDLES))
    local = [pl.col(f"_l{i}") for i in range(len(vocab.EMAIL_LOCALS))]
    handle = [pl.col(f"_h{i}") for i in range(len(vocab.HANDLES))]
    domains = pl.Series([d for d, _ in vocab.EMAIL_PROVIDERS[region]])

    def address(options: list[pl.Expr], weights: Sequence[float]) -> pl.Expr:
        domain = pl.lit(domains[choice(rng, n, weights_of(vocab.EMAIL_PROVIDERS[region]))])
        return pick(pl.Series(choice(rng, n, weights)), options) + "@" + domain

    def a_handle() -> pl.Expr:
        return pick(pl.Series(choice(rng, n, weights_of(vocab.HANDLES))), handle)

    family = [pl.col("l") + "family", "the" + pl.col("l") + "s"]
    p = p.with_columns(
        email1=address(local, weights_of(vocab.EMAIL_LOCALS)),
        email2=pl.when(pl.lit(rng.random(n) < 0.3)).then(address(local, weights_of(vocab.EMAIL_LOCALS))),
        email_work=pl.when(pl.col("domain").is_not_null() & pl.lit(rng.random(n) < 0.7)).then(
            pick(pl.Series(rng.integers(0, 3, n)), [local[0], local[3], pl.col("f")]) + "@" + pl.col("domain")
        ),
        email_family=pl.when(pl.col("family") & pl.col("head")).then(address(family, (1, 1))),
        handle1=a_handle().str.slice(0, 15),
        handle2=pl.when(pl.lit(rng.random(n) < 0.5)).then(a_handle()),
    )
    p = p.drop(pl.selectors.starts_with("_"))
    # addresses, numbers and handles belong to one person (a family address to one household)
    p = dedup(p, "email_family", at_email("email_family"), rng)
    p = p.with_columns(pl.col("email_family").first().over("hh"))
    for name, earlier in (("email1", ()), ("email2", ("email1",)), ("email_work", ("email1", "email2"))):
        taken = pl.concat([p[c].drop_nulls() for c in (*earlier, "email_family")])
        p = dedup(p, name, at_email(name), rng, taken=taken)
    p = dedup(p, "mobile", same_length("mobile"), rng)
    for name, cap in (("handle1", 15), ("handle2", 30)):
        taken = p["handle1"].str.to_lowercase() if name == "handle2" else None
        p = dedup(p, name, capped(name, cap), rng, [pl.col(name).str.to_lowercase()], taken)
    return p.drop("hh", "head", "locale", "family", "domain", "nick_u", "f", "l", "n")
