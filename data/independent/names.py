"""Name, address and email vocabularies per country, taken from Faker's locale providers.

Designed apart from data/vocab.py on purpose: another source of names (Faker's per-locale
lists), other frequencies and other nicknames, so that a model tuned on one generator is tested
on data it has not seen. Where Faker ships frequencies (en_US first and last names, en_GB
surnames) they are used; elsewhere Faker gives plain lists and a Zipf-like law over a seeded
order stands in (1 / (rank + 10) ** 0.9: the top name gets about 2%, as the commonest surname
does in most European countries).
"""

from __future__ import annotations

import importlib
import random
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
from faker import Faker

# country -> Faker locale, and the share of people living there (a UK-based contact centre
# serving European and US customers)
LOCALES: dict[str, str] = {
    "GB": "en_GB",
    "US": "en_US",
    "DE": "de_DE",
    "FR": "fr_FR",
    "ES": "es_ES",
    "IT": "it_IT",
    "NL": "nl_NL",
    "IE": "en_IE",
}
COUNTRY_SHARES: dict[str, float] = {
    "GB": 0.34,
    "US": 0.14,
    "DE": 0.12,
    "FR": 0.12,
    "ES": 0.09,
    "IT": 0.08,
    "NL": 0.06,
    "IE": 0.05,
}
# how each country writes its own name in a free-text "country" field
COUNTRY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "GB": ("United Kingdom", "UK", "GB", "England"),
    "US": ("United States", "USA", "US"),
    "DE": ("Germany", "Deutschland", "DE"),
    "FR": ("France", "FR"),
    "ES": ("Spain", "España", "ES"),
    "IT": ("Italy", "Italia", "IT"),
    "NL": ("Netherlands", "Nederland", "NL"),
    "IE": ("Ireland", "IE"),
}
EMAIL_DOMAINS: dict[str, tuple[str, ...]] = {
    "GB": ("gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "btinternet.com", "sky.com"),
    "US": ("gmail.com", "yahoo.com", "hotmail.com", "aol.com", "outlook.com", "icloud.com"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de", "gmx.net", "outlook.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "hotmail.fr", "laposte.net", "sfr.fr"),
    "ES": ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
    "IT": ("gmail.com", "libero.it", "virgilio.it", "hotmail.it", "tiscali.it", "alice.it"),
    "NL": ("gmail.com", "hotmail.nl", "ziggo.nl", "kpnmail.nl", "live.nl"),
    "IE": ("gmail.com", "eircom.net", "hotmail.com", "yahoo.ie", "outlook.ie"),
}
# a few families of nicknames per language (written for this generator; not idres's table)
NICKNAMES: dict[str, tuple[str, ...]] = {
    "william": ("Bill", "Will", "Billy", "Liam"),
    "robert": ("Bob", "Rob", "Bobby", "Robbie"),
    "elizabeth": ("Liz", "Beth", "Lizzie", "Betty"),
    "margaret": ("Maggie", "Peggy", "Meg"),
    "james": ("Jim", "Jimmy", "Jamie"),
    "michael": ("Mike", "Mick", "Mikey"),
    "katherine": ("Kate", "Katie", "Kathy"),
    "catherine": ("Cathy", "Kate", "Cat"),
    "richard": ("Rick", "Dick", "Richie"),
    "thomas": ("Tom", "Tommy"),
    "anthony": ("Tony", "Ant"),
    "christopher": ("Chris", "Kit"),
    "daniel": ("Dan", "Danny"),
    "jennifer": ("Jen", "Jenny"),
    "alexander": ("Alex", "Sasha", "Xander"),
    "patricia": ("Pat", "Trish", "Patty"),
    "joseph": ("Joe", "Joey"),
    "samuel": ("Sam", "Sammy"),
    "benjamin": ("Ben", "Benny"),
    "matthew": ("Matt",),
    "nicholas": ("Nick", "Nicky"),
    "jonathan": ("Jon", "Johnny"),
    "edward": ("Ed", "Ted", "Eddie"),
    "susan": ("Sue", "Suzy"),
    "deborah": ("Debbie", "Deb"),
    "rebecca": ("Becky", "Becca"),
    "victoria": ("Vicky", "Tori"),
    "frederick": ("Fred", "Freddie"),
    "andrew": ("Andy", "Drew"),
    "stephen": ("Steve",),
    "steven": ("Steve",),
    "timothy": ("Tim",),
    "gregory": ("Greg",),
    "jessica": ("Jess", "Jessie"),
    "abigail": ("Abby", "Gail"),
    "donald": ("Don", "Donnie"),
    "kenneth": ("Ken", "Kenny"),
    "ronald": ("Ron", "Ronnie"),
    "lawrence": ("Larry",),
    "henry": ("Harry", "Hank"),
    "johannes": ("Hans", "Jo"),
    "friedrich": ("Fritz",),
    "katharina": ("Kathi", "Katja"),
    "susanne": ("Susi",),
    "andreas": ("Andi",),
    "matthias": ("Matze",),
    "franziska": ("Franzi",),
    "maximilian": ("Max",),
    "nicolas": ("Nico",),
    "frederic": ("Fred",),
    "christophe": ("Chris",),
    "alexandre": ("Alex",),
    "isabelle": ("Isa",),
    "veronique": ("Véro",),
    "stephanie": ("Steph",),
    "emmanuel": ("Manu",),
    "jose": ("Pepe",),
    "francisco": ("Paco", "Pancho", "Curro"),
    "manuel": ("Manolo", "Manu"),
    "dolores": ("Lola",),
    "ignacio": ("Nacho",),
    "concepcion": ("Concha",),
    "rosario": ("Charo",),
    "giuseppe": ("Beppe", "Peppe", "Pino"),
    "francesco": ("Franco", "Checco"),
    "giovanni": ("Gianni", "Vanni"),
    "alessandro": ("Sandro", "Ale"),
    "salvatore": ("Totò", "Turi"),
    "elisabetta": ("Betta",),
    "cornelis": ("Kees",),
    "hendrik": ("Henk",),
    "jacobus": ("Koos", "Jaap"),
    "pieter": ("Piet",),
    "wilhelmus": ("Wim",),
}


def fold(text: str) -> str:
    """Lower-case ASCII letters of a name (diacritics dropped), for lookups and handles."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum())).lower()


@dataclass(frozen=True)
class Table:
    """Values with cumulative sampling probabilities."""

    values: tuple[str, ...]
    cumulative: np.ndarray

    def sample(self, rng: random.Random) -> str:
        """One value drawn by frequency."""
        index = int(np.searchsorted(self.cumulative, rng.random(), side="right"))
        return self.values[min(index, len(self.values) - 1)]


def _table(values: object, seed: int) -> Table:
    if isinstance(values, dict):  # Faker's OrderedDict: value -> relative frequency
        names, weights = list(values), np.array(list(values.values()), dtype=np.float64)
    else:
        names = sorted(set(values))  # type: ignore[call-overload]
        random.Random(seed).shuffle(names)
        weights = np.power(np.arange(len(names)) + 10.0, -0.9)
    cumulative = np.cumsum(weights) / weights.sum()
    return Table(tuple(names), cumulative)


@dataclass(frozen=True)
class Locale:
    """What the generator draws from for one country."""

    country: str
    male: Table
    female: Table
    surnames: Table
    addresses: tuple[tuple[str, str, str], ...]  # (street name, city, postcode)


@cache
def locale(country: str, seed: int = 0) -> Locale:
    """Name tables and an address pool for one country (cached per seed)."""
    code = LOCALES[country]
    provider = importlib.import_module(f"faker.providers.person.{code}").Provider
    male = getattr(provider, "first_names_male", None) or provider.first_names
    female = getattr(provider, "first_names_female", None) or provider.first_names
    fake = Faker(code)
    fake.seed_instance(seed * 1000 + sorted(LOCALES).index(country))
    # a pool of cities, each with a few streets and postcodes (households add a house number)
    addresses = []
    for _ in range(300):
        city = fake.city()
        for _ in range(6):
            addresses.append((fake.street_name(), city, fake.postcode()))
    return Locale(
        country=country,
        male=_table(male, seed + 1),
        female=_table(female, seed + 2),
        surnames=_table(provider.last_names, seed + 3),
        addresses=tuple(addresses),
    )


def nickname(first: str, rng: random.Random) -> str | None:
    """A nickname of this first name, or None when it has none."""
    options = NICKNAMES.get(fold(first))
    return rng.choice(options) if options else None
