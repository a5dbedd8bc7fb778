"""People and households: who a person is before any channel sees them.

A household (1-4 people) shares an address, often a surname and sometimes a home landline.
Each person has a country (most live where their phone and name come from; a few expats keep a
foreign mobile), a gender, names drawn by frequency, maybe a nickname, a birth date, a mobile,
personal email addresses and a social handle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from phonenumbers import PhoneNumber

from data.independent.names import COUNTRY_SHARES, EMAIL_DOMAINS, Locale, fold, locale, nickname
from data.independent.phones import PhoneBook

HOUSEHOLD_SIZES = ((1, 62), (2, 22), (3, 10), (4, 6))
_COUNTRIES = tuple(COUNTRY_SHARES)
_COUNTRY_WEIGHTS = tuple(COUNTRY_SHARES.values())


@dataclass
class Person:
    """One real person (the truth entity)."""

    person_id: str
    country: str
    gender: str
    first: str
    last: str
    nick: str | None
    birth: date
    street: str
    city: str
    postcode: str
    mobile: PhoneNumber | None
    landline: PhoneNumber | None
    married_name: str | None = None  # a second surname some identities use
    emails: list[str] = field(default_factory=list)
    handle: str = ""


def main_surname(person: Person) -> str:
    """The surname people build addresses and handles from: the first of two Spanish surnames."""
    return person.last.split()[0] if person.country == "ES" else person.last


class Population:
    """Draws households of people; emails and handles are unique across the whole population."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.phones = PhoneBook(random.Random(seed + 1))
        self.used_emails: set[str] = set()
        self.used_handles: set[str] = set()
        self.count = 0

    def _locale(self, country: str) -> Locale:
        return locale(country, self.seed)

    def household(self) -> list[Person]:
        """The next household's members."""
        rng = self.rng
        size = rng.choices([s for s, _ in HOUSEHOLD_SIZES], [w for _, w in HOUSEHOLD_SIZES])[0]
        country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
        loc = self._locale(country)
        street, city, postcode = rng.choice(loc.addresses)
        street = f"{rng.randint(1, 240)} {street}"
        surname = self._surname(loc)
        landline = self.phones.draw(country, "landline") if size > 1 and rng.random() < 0.45 else None
        if size == 1 and rng.random() < 0.15:
            landline = self.phones.draw(country, "landline")
        members = []
        for index in range(size):
            # partners keep their own surname a fifth of the time; children take the family's
            last = surname if index == 0 or rng.random() < 0.8 else self._surname(loc)
            members.append(self._person(loc, last, street, city, postcode, landline, adult=index < 2))
        return members

    def _surname(self, loc: Locale) -> str:
        last = loc.surnames.sample(self.rng)
        if loc.country == "ES":  # Spanish people carry two surnames; many forms give one
            last = f"{last} {loc.surnames.sample(self.rng)}"
        return last

    def _person(
        self,
        loc: Locale,
        last: str,
        street: str,
        city: str,
        postcode: str,
        landline: PhoneNumber | None,
        adult: bool,
    ) -> Person:
        rng = self.rng
        self.count += 1
        gender = rng.choice("mf")
        first = (loc.male if gender == "m" else loc.female).sample(rng)
        years = rng.randint(19, 85) if adult else rng.randint(14, 25)
        birth = date(2025, 6, 30) - timedelta(days=years * 365 + rng.randrange(365))
        mobile_country = loc.country
        if rng.random() < 0.04:  # an expat keeps the mobile from home
            mobile_country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
        mobile = self.phones.draw(mobile_country) if rng.random() < 0.9 else None
        person = Person(
            person_id=f"p{self.count:07d}",
            country=loc.country,
            gender=gender,
            first=first,
            last=last,
            nick=nickname(first, rng) if rng.random() < 0.6 else None,
            birth=birth,
            street=street,
            city=city,
            postcode=postcode,
            mobile=mobile,
            landline=landline,
        )
        if gender == "f" and adult and rng.random() < 0.05:
            person.married_name = self._surname(loc)
        person.emails.append(self.email(person))
        person.handle = self.handle(person)
        return person

    def email(self, person: Person, work: bool = False) -> str:
        """A new unique personal (or work) address built the ways people build them."""
        rng = self.rng
        first, last = fold(person.first), fold(main_surname(person))
        nick = fold(person.nick) if person.nick else first
        year = str(person.birth.year)
        local = rng.choices(
            (
                f"{first}.{last}",
                f"{first}{last}",
                f"{first[0]}{last}",
                f"{first}_{last}",
                f"{last}.{first}",
                f"{nick}{year[2:]}",
                f"{first}{rng.randint(1, 999)}",
                f"{nick}.{last}{year}",
                f"{last}{first[0]}",
            ),
            (22, 14, 12, 6, 5, 9, 12, 6, 6),
        )[0]
        if work:
            domain = f"{fold(person.city)[:10] or 'acme'}-{rng.choice(('ltd', 'group', 'partners'))}.com"
            local = rng.choice((f"{first}.{last}", f"{first[0]}.{last}", first))
        else:
            domain = rng.choice(EMAIL_DOMAINS[person.country])
        address = f"{local}@{domain}"
        while address in self.used_emails:  # john.smith@gmail.com is taken: people add digits
            address = f"{local}{rng.randint(1, 9999)}@{domain}"
        self.used_emails.add(address)
        return address

    def handle(self, person: Person) -> str:
        """A social handle (X, Instagram): from the name, the nickname, or nothing of either."""
        rng = self.rng
        first, last = fold(person.first), fold(main_surname(person))
        nick = fold(person.nick) if person.nick else first
        base = rng.choices(
            (
                f"{first}{last}",
                f"{first}_{last}",
                f"{first[0]}{last}",
                f"{nick}{last[:3]}",
                f"{last}{first}",
                f"{nick}_{rng.randint(1, 99)}",
                rng.choice(("sunny", "moon", "pixel", "rider", "coffee", "blue", "wolf")) + first[:3],
            ),
            (24, 12, 14, 10, 6, 18, 16),
        )[0][:15]
        candidate = base
        while candidate in self.used_handles:
            candidate = f"{base[:11]}{rng.randint(1, 9999)}"
        self.used_handles.add(candidate)
        return candidate
