"""Seeded, realistic sample data: channel exports of identities and messages, ground truth kept apart.

People (entities) get 1..N identities on eight channels. Names follow Zipf-like locale lists, so
different people share names more often as the data grows; households share a surname, address
and home phone; company switchboards and shared inboxes are used by unrelated people; identities
carry channel-typical, noisy and often thin evidence; a small fraction of rows is invalid on
purpose. Everything is vectorized (numpy + polars): 1M identities take seconds.
Run `python -m data.generator --identities 2000 --out data/samples`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from data import vocab
from data.noise import (
    add_typo,
    ascii_key,
    at_email,
    capped,
    choice,
    dedup,
    fold,
    format_phone,
    iso,
    pick,
    rand_str,
    rank_within,
    same_length,
    sparse,
    templates,
    translit,
    vary_case,
    weights_of,
)
from data.people import first_group, make_people
from data.vocab import CHANNELS, PHONE_CHANNELS

IDENTITY_COLUMNS = ("channel", "external_id", "display_name", "first_name", "last_name", "screen_name", "email",
                    "phone", "company", "gender", "city", "postcode", "country", "birth_date", "created_at",
                    "updated_at", "loyalty_tier")  # fmt: skip
MESSAGE_COLUMNS = ("thread_id", "message_id", "channel", "external_id", "author_kind", "agent_name", "body", "title",
                   "created_at")  # fmt: skip
TRUTH_COLUMNS = ("channel", "external_id", "entity_id")
T0, T1 = 1451606400, 1767139200  # 2016-01-01 .. 2025-12-31 (UTC seconds)


def _empty(columns: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict.fromkeys(columns, pl.Utf8))


@dataclass
class SampleData:
    """Channel identities and messages, the ground truth, and the rows made invalid on purpose."""

    identities: pl.DataFrame  # IDENTITY_COLUMNS, all text, in random order; includes the planted duplicates
    messages: pl.DataFrame  # MESSAGE_COLUMNS, all text
    truth: pl.DataFrame  # channel, external_id, entity_id: one row per identity
    dirty: pl.DataFrame = field(default_factory=lambda: _empty(("channel", "external_id", "kind")))


# ---------------------------------------------------------------- identities
def _channels(rng: np.random.Generator, pid: np.ndarray) -> np.ndarray:
    """A channel per identity; a second identity on the same channel happens, but less often than by chance."""
    ch = choice(rng, len(pid), vocab.CHANNEL_P)
    for _ in range(2):
        again = ~pl.Series(pid * 8 + ch).is_first_distinct().to_numpy() & (rng.random(len(pid)) < 0.75)
        ch[again] = choice(rng, int(again.sum()), vocab.CHANNEL_P)
    return ch


def _typed_names(rng: np.random.Generator, f: pl.DataFrame) -> pl.DataFrame:
    """fn, ln, nk: the names as this identity shows them (nickname, diacritics, typos, case)."""
    n = f.height
    dia, case_u = pl.lit(pl.Series(rng.random(n))), pl.Series(rng.random(n))

    def accent(e: pl.Expr) -> pl.Expr:  # José / Jose, Müller / Muller / Mueller
        return pl.when(dia < 0.40).then(fold(e)).when(dia < 0.48).then(translit(e)).otherwise(e)

    use_nick = pl.col("nick").is_not_null() & pl.lit(rng.random(n) < 0.15)
    given = pl.when(use_nick).then(pl.col("nick")).otherwise(pl.col("first"))
    f = f.with_columns(fn=accent(given), ln=accent(pl.col("last")), nk=accent(pl.col("nick")))
    f = f.with_columns(
        _u=pl.lit(pl.Series(rng.random(n))), _letter=pl.lit(rand_str(rng, n, 1, "abcdefghijklmnopqrstuvwxyz"))
    )
    for name in ("fn", "ln"):  # a typo in ~5% of names, computed on those rows only
        kind = choice(rng, n, vocab.TYPO_P)
        rows = np.flatnonzero(kind > 0)
        typo = add_typo(pl.col(name), pl.col("_k"), pl.col("_u"), pl.col("_letter"))
        sub = f.select(name, "_u", "_letter")[rows].with_columns(_k=pl.Series(kind[rows])).select(typo)
        f = f.with_columns(f[name].clone().scatter(rows, sub.to_series()))
    return f.with_columns(vary_case(pl.col(c), case_u) for c in ("fn", "ln", "nk")).drop("_u", "_letter")


def _email_variant(f: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """One of the person's addresses, as this identity shows it: gmail dots, +tags, case, domain typos."""
    n, is_email = f.height, pl.col("channel") == "email"
    slot = pl.lit(pl.Series(choice(rng, n, (0.62, 0.14, 0.10, 0.06, 0.04, 0.04))))
    # no family address or shared inbox as an email-channel id
    slot = pl.when(is_email & (slot >= 3)).then(0).otherwise(slot)
    slots = [pl.col(c) for c in ("email1", "email2", "email_work", "email_family", "inbox", "email1")]
    f = f.select(is_email.alias("is_email"), raw=pl.coalesce(pick(slot, slots), "email1"))
    f = f.with_columns(
        local=pl.col("raw").str.split("@").list.first(), dom=pl.col("raw").str.split("@").list.last()
    )
    raw, local, dom, v = pl.col("raw"), pl.col("local"), pl.col("dom"), pl.lit(pl.Series(rng.random(n)))
    cut = (pl.lit(pl.Series(rng.random(n))) * (local.str.len_chars() - 1).cast(pl.Float64)).cast(pl.Int64) + 1
    undotted = local.str.replace_all(".", "", literal=True)
    dotted = (
        pl.when(local.str.contains(".", literal=True))
        .then(undotted)
        .otherwise(local.str.slice(0, cut) + "." + local.str.slice(cut))
    )
    gmail = dom.is_in(["gmail.com", "googlemail.com"])
    other_gmail = pl.when(dom == "gmail.com").then(pl.lit("googlemail.com")).otherwise(pl.lit("gmail.com"))
    tag = pl.lit(pl.Series(vocab.TAG_WORDS)[rng.integers(0, len(vocab.TAG_WORDS), n)])
    email = (
        pl.when(gmail & (v < 0.10)).then(dotted + "@" + dom)
        .when(gmail & (v < 0.13)).then(local + "@" + other_gmail)
        .when((v >= 0.13) & (v < 0.17)).then(local + "+" + tag + "@" + dom)
        .when((v >= 0.17) & (v < 0.19)).then(local.str.to_titlecase() + "@" + dom)
        .when((v >= 0.19) & (v < 0.20)).then(raw.str.to_uppercase())
        .when(~pl.col("is_email") & (v >= 0.20) & (v < 0.21)).then(local + "@" + dom.replace(vocab.DOMAIN_TYPOS))
        .otherwise(raw)
    )  # fmt: skip
    return f.select(email).to_series()


def _contacts(rng: np.random.Generator, f: pl.DataFrame, region: str) -> pl.DataFrame:
    """email (as shown), attr_nsn/attr_split (the phone shown) and external_id, unique per channel."""
    n, cc, channel = f.height, vocab.COUNTRY_CODES[region], pl.col("channel")
    nsns = [pl.col("mobile"), pl.col("home"), pl.col("work"), pl.col("mobile2")]
    mobile_split = pl.lit(first_group(region, "7700"))
    splits = [mobile_split, pl.col("home_split"), pl.col("work_split"), mobile_split]
    on_phone = pl.lit(pl.Series(choice(rng, n, (0.62, 0.28, 0.10, 0))))
    chan = (
        pl.when(channel == "phone")
        .then(on_phone)
        .otherwise(pl.lit(pl.Series(choice(rng, n, (0.9, 0, 0, 0.1)))))
    )
    shown = pl.lit(pl.Series(choice(rng, n, (0.58, 0.22, 0.12, 0.08))))
    attr = (
        pl.when(channel.is_in(["sms", "phone"])).then(chan).otherwise(shown)
    )  # sms, phone: their own number
    tw, ig = pl.lit(pl.Series(rng.random(n))), pl.lit(pl.Series(rng.random(n)))
    h1, h2 = pl.col("handle1"), pl.col("handle2")
    f = f.with_columns(
        email=_email_variant(f, rng),
        chan=pl.when(pick(chan, nsns).is_null()).then(0).otherwise(chan),
        attr=pl.when(pick(attr, nsns).is_null()).then(0).otherwise(attr),
        psid=pl.lit(pl.Series(rng.integers(10**14, 10**17, n)).cast(pl.Utf8)),
        visitor="v_" + pl.lit(rand_str(rng, n, 16, "0123456789abcdefghijklmnopqrstuvwxyz")),
        tw=pl.when(h2.is_null() | (tw < 0.7)).then(h1).otherwise(h2).str.slice(0, 15),
        ig=pl.when(h2.is_not_null() & (ig < 0.6)).then(h2).otherwise(h1).str.to_lowercase(),
    )  # fmt: skip
    f = f.with_columns(
        chan_nsn=pl.when(channel.is_in(PHONE_CHANNELS)).then(pick(pl.col("chan"), nsns)),
        attr_nsn=pick(pl.col("attr"), nsns),
        attr_split=pick(pl.col("attr"), splits),
    )

    # one identity per (channel, id): a repeat becomes another number, address or handle of that person
    def new_number(r: pl.Expr, k: int) -> pl.Expr:
        return "78" + r if region == "GB" else pl.col("chan_nsn").str.slice(0, 3) + "4" + r.str.slice(0, 6)

    f = dedup(f, "chan_nsn", new_number, rng, [channel, pl.col("chan_nsn")])
    e164 = "+" + cc + pl.col("chan_nsn")
    # the channel's own id, in CHANNELS order: whatsapp's wa_id is the number without "+"
    ids = [
        pl.col("email"),
        e164,
        cc + pl.col("chan_nsn"),
        *(pl.col(c) for c in ("psid", "tw", "ig", "visitor")),
        e164,
    ]
    own = pl.when(channel.is_in(["sms", "phone"])).then(pl.col("chan_nsn")).otherwise(pl.col("attr_nsn"))
    f = f.with_columns(external_id=pick(pl.col("ch"), ids), attr_nsn=own)
    fixes = {
        "email": at_email("external_id"),
        "twitter": capped("external_id", 15),
        "instagram": capped("external_id", 30),
    }

    def fix_ext(r: pl.Expr, k: int) -> pl.Expr:
        fixed = same_length("external_id")(r, k)
        for name, fix in fixes.items():
            fixed = pl.when(channel == name).then(fix(r, k)).otherwise(fixed)
        return fixed

    return dedup(f, "external_id", fix_ext, rng, [channel, pl.col("external_id").str.to_lowercase()])


def _fields(rng: np.random.Generator, f: pl.DataFrame, ch: np.ndarray, region: str) -> pl.DataFrame:
    """The identity's columns, each filled at its channel's rate (computed only where filled)."""
    n = f.height

    def k(weights: Sequence[float]) -> pl.Expr:
        return pl.lit(pl.Series(choice(rng, n, weights)))

    def among(values: Sequence[str]) -> pl.Expr:
        return pl.lit(pl.Series(values)[rng.integers(0, len(values), n)])

    countries = [c for c, w in vocab.COUNTRY_VARIANTS[region] for _ in range(w)]
    odd_name = pl.lit(pl.Series(rng.random(n) < 0.08))  # "Mum", "Busy 📵": a profile name that is no name
    social = pl.col("channel").is_in(["whatsapp", "twitter", "instagram"]) & odd_name
    style = k(weights_of(vocab.DISPLAY_STYLES))
    real_name = pl.col("channel").is_in(["facebook", "email"]) & style.is_in(vocab.NOT_REAL_NAME_STYLES)
    f = f.with_columns(
        _phone=k(weights_of(vocab.PHONE_STYLES[region])), _co=k((0.7, 0.15, 0.10, 0.05)), _g=k((0.5, 0.3, 0.2)),
        _city=k((0.75, 0.12, 0.08, 0.05)), _pc=k((0.75, 0.12, 0.08, 0.05)), _birth=k((0.75, 0.2, 0.05)),
        _zip4=pl.lit(rand_str(rng, n, 4)), _country=among(countries), _emoji=among(vocab.EMOJI),
        _odd=among(vocab.ODD_DISPLAY), _social=social, _style=pl.when(real_name).then(0).otherwise(style),
        _swap=pl.lit(pl.Series(rng.random(n) < 0.02)),
        _tier=pl.when(pl.lit(pl.Series(rng.random(n) < 0.1))).then(among(vocab.TIERS)).otherwise("tier"),
    )  # fmt: skip
    fn, ln, g, pc, co, city = (pl.col(c) for c in ("fn", "ln", "gender", "postcode", "company", "city"))
    title = pl.when(g == "female").then(pl.lit("Ms ")).otherwise(pl.lit("Mr "))
    parts = {"F": fn, "L": ln, "N": pl.coalesce("nk", "fn"), "F1": fn.str.slice(0, 1), "L1": ln.str.slice(0, 1),
             "E": pl.col("_emoji"), "O": pl.col("_odd"), "T": title, "FL": (fn + ln).str.to_lowercase()}  # fmt: skip
    lower = pc.str.to_lowercase()
    postcode = [pc, pc.str.replace(" ", ""), lower, lower.str.replace(" ", "")]
    if region != "GB":
        postcode[1] = pc + "-" + pl.col("_zip4")  # ZIP+4
    birth = pl.from_epoch("birth", "d").dt
    values = {
        "display_name": pl.when(pl.col("_social")).then(pl.col("_odd"))
        .otherwise(templates(pl.col("_style"), vocab.DISPLAY_STYLES, parts)),
        "first_name": pl.when(pl.col("_swap")).then(ln).otherwise(fn),
        "last_name": pl.when(pl.col("_swap")).then(fn).otherwise(ln),
        "email": pl.when(pl.col("channel") == "email").then(pl.col("external_id")).otherwise(pl.col("email")),
        "phone": format_phone(pl.col("attr_nsn"), pl.col("attr_split"), pl.col("_phone"), region),
        "company": pick(pl.col("_co"), [co, co.str.to_lowercase(), co.str.replace(r"\s+\S+$", ""), co.str.to_uppercase()]),
        "gender": pl.when(pl.col("channel") == "facebook").then(pl.when(g != "unknown").then(g))
        .otherwise(pick(pl.col("_g"), [g.str.slice(0, 1).str.to_uppercase(), g.str.to_titlecase(), g])),
        "city": pick(pl.col("_city"), [city, pl.coalesce("city_alt", "city"), city.str.to_lowercase(), city.str.to_uppercase()]),
        "postcode": pick(pl.col("_pc"), postcode),
        "country": pl.col("_country"),
        "birth_date": pick(pl.col("_birth"), [birth.strftime(s) for s in ("%Y-%m-%d", vocab.DATE_STYLES[region], "%d %b %Y")]),
        "loyalty_tier": pl.col("_tier"),
    }  # fmt: skip
    filled = {c: np.flatnonzero(rng.random(n) < np.asarray(vocab.FIELD_P[c])[ch]) for c in values}
    created = pl.lit(pl.Series(rng.integers(T0, T1 - 30 * 86400, n)))
    age = pl.lit(pl.Series(rng.exponential(200 * 86400, n).astype(np.int64)))
    updated = pl.min_horizontal(created + age, T1)
    ts_style, at = pl.Series(choice(rng, n, (0.85, 0.10, 0.05))), pl.lit(pl.Series(rng.random(n) < 0.5))
    handle = (
        pl.when((pl.col("channel") == "twitter") & at)
        .then("@" + pl.col("external_id"))
        .otherwise("external_id")
    )
    return f.with_columns(
        **{c: sparse(f, filled[c], value) for c, value in values.items()},
        screen_name=pl.when(pl.col("channel").is_in(["twitter", "instagram"])).then(handle),
        created_s=created, updated_s=updated, created_at=iso(created, ts_style), updated_at=iso(updated, ts_style),
    )  # fmt: skip


def _identities(rng: np.random.Generator, people: pl.DataFrame, pid: np.ndarray, region: str) -> pl.DataFrame:
    """Each identity's channel, id and (noisy, channel-typical, often missing) fields; keeps helper columns."""
    ch = _channels(rng, pid)
    f = people[pid].with_columns(pid=pl.lit(pl.Series(pid)), ch=pl.lit(pl.Series(ch)))
    f = f.with_columns(channel=pl.col("ch").replace_strict(dict(enumerate(CHANNELS)), return_dtype=pl.Utf8))
    return _fields(rng, _contacts(rng, _typed_names(rng, f), region), ch, region)


# ---------------------------------------------------------------- invalid rows, messages, truth
def _dirty(rng: np.random.Generator, f: pl.DataFrame, fraction: float) -> tuple[pl.DataFrame, ...]:
    """Break a few rows on purpose: malformed emails, unparseable phones, bad timestamps, repeated rows."""
    n, total = f.height, round(fraction * f.height)
    if total == 0:
        return f, f.clear(), _empty(("channel", "external_id", "kind"))
    n_dup = min(total, max(2, round(0.15 * total)))
    n_email = n_phone = round(0.35 * (total - n_dup))
    perm = rng.permutation(n)
    e_rows = perm[f["email"].is_not_null().to_numpy()[perm]][:n_email]
    rest = perm[~np.isin(perm, e_rows)]
    n_time = total - n_dup - len(e_rows) - n_phone
    p_rows, t_rows, d_rows = np.split(rest[: n_phone + n_time + n_dup], [n_phone, n_phone + n_time])

    def mask(rows: np.ndarray) -> pl.Expr:
        flags = np.zeros(n, bool)
        flags[rows] = True
        return pl.lit(pl.Series(flags))

    def among(values: Sequence[str]) -> pl.Expr:
        return pl.lit(pl.Series(values)[rng.integers(0, len(values), n)])

    parts = pl.col("email").str.split("@")
    bad_email = among(vocab.BAD_EMAILS).str.replace_all("{l}", parts.list.first(), literal=True)
    bad_email = bad_email.str.replace_all("{d}", parts.list.last(), literal=True)
    in_created, bad_ts = pl.lit(pl.Series(rng.random(n) < 0.5)), among(vocab.BAD_TIMESTAMPS)
    is_e, is_t = mask(e_rows), mask(t_rows)
    f = f.with_columns(
        email=pl.when(is_e).then(bad_email).otherwise("email"),
        external_id=pl.when(is_e & (pl.col("channel") == "email")).then(bad_email).otherwise("external_id"),
        phone=pl.when(mask(p_rows)).then(among(vocab.BAD_PHONES)).otherwise("phone"),
        created_at=pl.when(is_t & in_created).then(bad_ts).otherwise("created_at"),
        updated_at=pl.when(is_t & ~in_created).then(bad_ts).otherwise("updated_at"),
    )  # fmt: skip
    later = pl.col("updated_s") + pl.lit(pl.Series(rng.integers(3600, 90 * 86400, len(d_rows))))
    dups = f[d_rows].with_columns(
        updated_at=iso(later), display_name=pl.col("display_name").str.to_uppercase()
    )
    kinds = ((e_rows, "bad_email"), (p_rows, "bad_phone"), (t_rows, "bad_timestamp"), (d_rows, "duplicate"))
    log = pl.concat([f[rows].select("channel", "external_id", kind=pl.lit(kind)) for rows, kind in kinds])
    return f, dups, log


@cache
def _agents() -> pl.Series:
    """A pool of 20 agent names (the same for every seed)."""
    rng, pool = np.random.default_rng(2024), vocab.name_pool("en_GB")
    male = pool.male[rng.choice(len(pool.male), 10, p=pool.male_p)]
    female = pool.female[rng.choice(len(pool.female), 10, p=pool.female_p)]
    last = pool.last[rng.choice(len(pool.last), 20, p=pool.last_p)]
    return pl.Series(np.concatenate([male, female]) + " " + last, dtype=pl.Utf8)


def _messages(rng: np.random.Generator, f: pl.DataFrame, per_identity: float, region: str) -> pl.DataFrame:
    """0..k threads per identity, customer and agent messages alternating; bodies quote names, emails, phones."""
    threads = rng.poisson(max(per_identity, 0.0) / 3.0, f.height)
    t = int(threads.sum())
    if t == 0:
        return _empty(MESSAGE_COLUMNS)
    agents, titles = _agents(), pl.Series(vocab.EMAIL_TITLES)
    by_nick = pl.lit(pl.Series(rng.random(t) < 0.3))
    first = pl.when(by_nick).then(pl.coalesce("nick", "first")).otherwise("first")
    order = pl.when(pl.lit(pl.Series(rng.random(t) < 0.5))).then("#" + pl.lit(rand_str(rng, t, 7)))
    needed = ["channel", "external_id", "first", "nick", "last", "email1", "postcode", "mobile", "created_s"]
    style = pl.Series(choice(rng, t, weights_of(vocab.PHONE_STYLES[region])))
    th = f.select(needed)[np.repeat(np.arange(f.height), threads)].select(
        "channel", "external_id", "last", "email1", "postcode", first=first,
        phone=format_phone(pl.col("mobile"), pl.lit(first_group(region, "7700")), style, region),
        size=pl.lit(pl.Series(1 + np.minimum(rng.poisson(2.0, t), 9))),
        start=pl.col("created_s") + (pl.lit(pl.Series(rng.random(t))) * (T1 - pl.col("created_s")) * 0.9).cast(pl.Int64),
        seq=pl.lit(pl.Series(rng.permutation(t))), agent=pl.lit(agents[rng.integers(0, len(agents), t)]),
        order=order.otherwise("ORD-" + pl.lit(rand_str(rng, t, 6))), subject=pl.lit(titles[rng.integers(0, len(titles), t)]),
    ).with_columns(pl.col("seq").rank("ordinal").over("channel")).sort("channel", "seq")  # fmt: skip
    th = th.with_columns(
        thread_id=pl.col("channel") + "-" + pl.col("seq").cast(pl.Utf8).str.zfill(7),
        subject=pl.col("subject").str.replace_all("{order}", pl.col("order"), literal=True),
        full=pl.col("first") + " " + pl.col("last"),
        agent_first=pl.col("agent").str.split(" ").list.first(),
    )
    size = th["size"].to_numpy()
    thread = np.repeat(np.arange(t), size)
    pos, m = rank_within(thread), len(thread)
    gaps = rng.exponential(3 * 3600, m).astype(np.int64)
    gaps[pos == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[np.r_[0, np.cumsum(size)[:-1]]][thread]

    def among(values: Sequence[str]) -> pl.Expr:
        return pl.lit(pl.Series(values)[rng.integers(0, len(values), m)])

    customer, subject = pl.lit(pl.Series(pos % 2 == 0)), pl.col("subject")
    body = pl.when(customer).then(among(vocab.CUSTOMER_TEXTS)).otherwise(among(vocab.AGENT_TEXTS))
    for name in ("first", "last", "full", "email1", "phone", "postcode", "order", "agent_first"):
        body = body.str.replace_all("{" + name + "}", pl.col(name), literal=True)
    agent = pl.when(pl.lit(pl.Series(rng.random(m) < 0.1))).then(among(agents.to_list())).otherwise("agent")
    return th[thread].select(
        "thread_id", message_id="msg-" + pl.int_range(1, pl.len() + 1).cast(pl.Utf8).str.zfill(9),
        channel="channel", external_id="external_id",
        author_kind=pl.when(customer).then(pl.lit("customer")).otherwise(pl.lit("agent")),
        agent_name=pl.when(~customer).then(agent), body=body,
        title=pl.when(pl.col("channel") == "email").then(pl.when(pl.lit(pl.Series(pos == 0))).then(subject).otherwise("Re: " + subject)),
        created_at=iso(pl.col("start") + pl.lit(pl.Series(elapsed))),
    )  # fmt: skip


def _people_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Identities per person, summing to exactly n."""
    weights = np.asarray(vocab.IDS_PER_PERSON)
    mean = float(np.arange(len(weights)) @ weights / weights.sum())
    counts = choice(rng, int(n / mean * 1.2) + 20, vocab.IDS_PER_PERSON)
    while counts.sum() < n:
        counts = np.concatenate([counts, choice(rng, len(counts), vocab.IDS_PER_PERSON)])
    cum = np.cumsum(counts)
    people = int(np.searchsorted(cum, n)) + 1
    counts = counts[:people]
    counts[-1] -= int(cum[people - 1] - n)
    return counts


def generate(n_identities: int, seed: int = 7, messages_per_identity: float = 2.0, region: str = "GB",
             dirty_fraction: float = 0.005) -> SampleData:  # fmt: skip
    """Generate n_identities channel identities of fewer people, their messages and the ground truth."""
    region = region.upper()
    if region not in vocab.COUNTRY_CODES:
        raise ValueError(f"region must be one of {', '.join(vocab.COUNTRY_CODES)}, got {region!r}")
    if not 0.0 <= dirty_fraction <= 0.5:
        raise ValueError("dirty_fraction must be between 0 and 0.5")
    if n_identities <= 0:
        return SampleData(_empty(IDENTITY_COLUMNS), _empty(MESSAGE_COLUMNS), _empty(TRUTH_COLUMNS))
    rng = np.random.default_rng(seed)
    counts = _people_counts(rng, n_identities)
    people = make_people(rng, len(counts), region)
    pid = rng.permutation(np.repeat(np.arange(len(counts)), counts))  # rows in random order, people scattered
    f, dups, dirty = _dirty(rng, _identities(rng, people, pid, region), dirty_fraction)
    messages = _messages(rng, f, messages_per_identity, region)
    entity_of_person = pl.lit(pl.Series(rng.permutation(len(counts))))  # entity ids say nothing about order
    entity = "P" + entity_of_person.gather(pl.col("pid")).cast(pl.Utf8).str.zfill(7)
    truth = f.select("channel", "external_id", entity_id=entity)
    identities = f.select(IDENTITY_COLUMNS)
    if dups.height:  # the planted duplicates go to random places in the file
        at = np.sort(rng.integers(0, f.height + 1, dups.height))
        order = np.insert(np.arange(f.height), at, np.arange(f.height, f.height + dups.height))
        identities = pl.concat([identities, dups.select(IDENTITY_COLUMNS)])[order]
    return SampleData(identities.cast(pl.Utf8), messages, truth, dirty)


# ---------------------------------------------------------------- files, statistics, command line
def write_sample(data: SampleData, out_dir: Path, *, formats: str = "mixed") -> list[Path]:
    """Write one identities and one messages file per channel in its native layout, plus the truth."""
    if formats not in ("mixed", "csv", "jsonl", "parquet"):
        raise ValueError(f"formats must be mixed, csv, jsonl or parquet, got {formats!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind, frame in (("identities", data.identities), ("messages", data.messages)):
        for channel in CHANNELS:
            for stale in out_dir.glob(f"{kind}_{channel}.*"):  # a previous run in another format
                stale.unlink()
            part = frame.filter(pl.col("channel") == channel)
            if part.is_empty():
                continue
            if "loyalty_tier" in part.columns and part["loyalty_tier"].null_count() == part.height:
                part = part.drop("loyalty_tier")  # an extra attribute only where the channel has it
            part = part.rename(
                {k: v for k, v in vocab.NATIVE_RENAMES.get(channel, {}).items() if k in part.columns}
            )
            fmt = vocab.FILE_FORMATS[channel] if formats == "mixed" else formats
            path = out_dir / f"{kind}_{channel}.{fmt}"
            if fmt == "csv":
                part.write_csv(path)
            elif fmt == "jsonl":
                part.write_ndjson(path)
            else:
                part.write_parquet(path)
            written.append(path)
    # the truth goes in a sub-folder, so that `idres ingest <out_dir>` never takes it for an export
    truth_dir = out_dir / "truth"
    truth_dir.mkdir(exist_ok=True)
    truth, other = ("truth.parquet", "truth.csv") if formats == "parquet" else ("truth.csv", "truth.parquet")
    (truth_dir / other).unlink(missing_ok=True)
    (data.truth.write_parquet if formats == "parquet" else data.truth.write_csv)(truth_dir / truth)
    return [*written, truth_dir / truth]


def _shared(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    """Values of `key` that identities of more than one entity show, with how many entities and identities."""
    values = frame.select("entity_id", key=key).drop_nulls()
    return (
        values.group_by("key")
        .agg(pl.col("entity_id").n_unique(), identities=pl.len())
        .filter(pl.col("entity_id") > 1)
    )


def difficulty(data: SampleData) -> dict[str, float | int]:
    """How hard the data is: thin identities, different people sharing a full name, a phone, an email."""
    key = ["channel", "external_id"]
    ids = data.identities.unique(key, keep="first").join(data.truth, on=key)
    ch, present = pl.col("channel"), lambda *cs: pl.any_horizontal(pl.col(c).is_not_null() for c in cs)
    evidence = ids.select(pl.sum_horizontal(e.cast(pl.Int8) for e in (
        present("display_name", "first_name", "last_name"), present("email") | (ch == "email"),
        present("phone") | ch.is_in(PHONE_CHANNELS), present("screen_name"), present("postcode", "city"),
        present("birth_date", "company"),
    ))).to_series().to_numpy()  # fmt: skip
    per_entity = ids.group_by("entity_id").len()["len"]
    names = _shared(ids, ascii_key(pl.col("first_name")) + " " + ascii_key(pl.col("last_name")))
    phone = pl.coalesce(pl.when(ch.is_in(PHONE_CHANNELS)).then("external_id"), "phone")
    digits = phone.str.replace_all(r"\D", "")
    phones = _shared(ids, pl.when(digits.str.len_chars() >= 10).then(digits.str.slice(-10)))
    emails = _shared(ids, pl.col("email").str.to_lowercase())
    return {
        "identities": ids.height, "rows": data.identities.height, "entities": per_entity.len(),
        "messages": data.messages.height, "entities_with_1_identity": int((per_entity == 1).sum()),
        "entities_with_2_to_4": int(per_entity.is_between(2, 4).sum()), "entities_with_6_plus": int((per_entity >= 6).sum()),
        "share_no_evidence": round(float(np.mean(evidence == 0)), 4),
        "share_single_evidence": round(float(np.mean(evidence == 1)), 4),
        "share_at_most_two_evidence": round(float(np.mean(evidence <= 2)), 4),
        "full_names_shared_by_different_people": names.height, "people_sharing_a_full_name": int(names["entity_id"].sum()),
        "phones_shared_by_different_people": phones.height, "identities_with_a_shared_phone": int(phones["identities"].sum()),
        "emails_shared_by_different_people": emails.height, "dirty_rows": data.dirty.height,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: generate a sample and write it to files, printing a JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m data.generator", description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "samples")
    parser.add_argument("--messages-per-identity", type=float, default=2.0)
    parser.add_argument("--region", default="GB", choices=sorted(vocab.COUNTRY_CODES))
    parser.add_argument("--dirty-fraction", type=float, default=0.005)
    parser.add_argument("--formats", default="mixed", choices=("mixed", "csv", "jsonl", "parquet"))
    parser.add_argument("--stats", action="store_true", help="also print how hard the data is")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.identities, args.seed, args.messages_per_identity, args.region, args.dirty_fraction)
    generated = time.perf_counter()
    files = write_sample(data, args.out, formats=args.formats)
    summary: dict[str, Any] = {
        "identities": data.identities.height, "messages": data.messages.height,
        "generate_seconds": round(generated - started, 2), "write_seconds": round(time.perf_counter() - generated, 2),
        "files": [str(path) for path in files],
    }  # fmt: skip
    if args.stats:
        summary["difficulty"] = difficulty(data)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
