"""Small identity frames for the matching tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

COLUMNS: dict[str, Any] = {
    "identity_id": pl.Int64,
    "customer_id": pl.Int64,
    "channel": pl.String,
    "external_id": pl.String,
    "email_norm": pl.String,
    "email_key": pl.String,
    "phone_e164": pl.String,
    "phone_valid": pl.Boolean,
    "first_name_norm": pl.String,
    "last_name_norm": pl.String,
    "first_name_key": pl.String,
    "last_name_key": pl.String,
    "display_name_norm": pl.String,
    "screen_name_norm": pl.String,
    "company_norm": pl.String,
    "city_norm": pl.String,
    "postcode_norm": pl.String,
    "country_norm": pl.String,
    "birth_date_norm": pl.Date,
}


def make_identities(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Identities frame from partial rows: ids default to the row number, keys derive from norms."""
    full = []
    for i, row in enumerate(rows, start=1):
        r = dict.fromkeys(COLUMNS)
        r.update(identity_id=i, customer_id=i, channel="chat", external_id=f"x{i}")
        r.update(row)
        for part in ("first", "last"):
            if r[f"{part}_name_norm"] is not None and r[f"{part}_name_key"] is None:
                r[f"{part}_name_key"] = "".join(ch for ch in r[f"{part}_name_norm"] if ch.isalpha())
        if r["email_norm"] is not None and r["email_key"] is None:
            r["email_key"] = r["email_norm"]
        full.append(r)
    return pl.DataFrame(full, schema=COLUMNS)


def filler(n: int, start: int = 1000) -> list[dict[str, Any]]:
    """n unrelated people with distinct values, so random pairs and term frequencies look realistic."""
    firsts = [
        "alice",
        "brian",
        "chloe",
        "derek",
        "emma",
        "frank",
        "grace",
        "henry",
        "irene",
        "jack",
        "kate",
        "liam",
    ]
    rows = []
    for i in range(n):
        f = firsts[i % len(firsts)]
        last = f"surname{i}x"
        rows.append(
            {
                "identity_id": start + i,
                "customer_id": start + i,
                "first_name_norm": f,
                "last_name_norm": last,
                "email_norm": f"{f}.{last}@example{i % 7}.com",
                "phone_e164": f"+44770{i:07d}",
                "city_norm": ["leeds", "york", "bath", "hull"][i % 4],
                "birth_date_norm": date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            }
        )
    return rows


def labelled(n_people: int = 300, seed: int = 3) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Two noisy identities per person (email channel and phone/social channel) and the truth."""
    import random

    rnd = random.Random(seed)
    firsts = [
        "olivia",
        "noah",
        "amelia",
        "oscar",
        "isla",
        "arthur",
        "ava",
        "leo",
        "mia",
        "harry",
        "ivy",
        "jack",
    ]
    rows, truth = [], {}
    for p in range(n_people):
        f = firsts[p % len(firsts)]
        last = "".join(rnd.choice("bcdfgklmnprstv") + rnd.choice("aeiou") for _ in range(3))
        email = f"{f}.{last}{p}@mail{p % 5}.com"
        phone = f"+447{rnd.randrange(10**9):09d}"
        a = {"first_name_norm": f, "last_name_norm": last, "email_norm": email, "city_norm": "leeds"}
        typo = last[:2] + last[3] + last[2] + last[4:] if p % 4 == 0 else last
        b = {"first_name_norm": f, "last_name_norm": typo, "phone_e164": phone}
        if p % 3 == 0:
            b["email_norm"] = email
        if p % 5 == 0:
            a["phone_e164"] = phone
        for row in (a, b):
            row["identity_id"] = len(rows) + 1
            row["customer_id"] = len(rows) + 1
            truth[len(rows) + 1] = p
            rows.append(row)
    return rows, truth
