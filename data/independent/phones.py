"""Real multi-country phone numbers from phonenumbers' metadata, spelled the ways people type them.

A number is drawn by keeping the leading digits of the library's example number of that type
(which fix the number range: mobile `6`/`7` in France, `15x`/`16x`/`17x` in Germany, ...) and
drawing the rest at random until the library calls it valid, so every number is valid in its
country and numbers of one country look alike (the hard case for "last digits" keys).
"""

from __future__ import annotations

import random
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

_KEEP_LEADING = 2  # digits of the example number kept: enough to stay in the type's range


class PhoneBook:
    """Draws unique valid numbers per country (no two people get the same number by chance)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def draw(self, country: str, kind: str = "mobile") -> PhoneNumber:
        """A valid, not yet used number of `country`; kind is mobile or landline."""
        code, nsn = _example(country, kind)
        head = nsn[:_KEEP_LEADING]
        for _ in range(200):
            digits = head + str(self.rng.randrange(10 ** (len(nsn) - len(head)))).zfill(len(nsn) - len(head))
            number = PhoneNumber(
                country_code=code,
                national_number=int(digits),
                italian_leading_zero=digits.startswith("0") or None,
            )
            key = f"{code}:{digits}"
            if key not in self.used and phonenumbers.is_valid_number(number):
                self.used.add(key)
                return number
        raise RuntimeError(f"could not draw a valid {kind} number for {country}")


@cache
def _example(country: str, kind: str) -> tuple[int, str]:
    kind_type = PhoneNumberType.MOBILE if kind == "mobile" else PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(country, kind_type)
    assert example is not None and example.country_code is not None, f"no example {kind} number for {country}"
    return example.country_code, phonenumbers.national_significant_number(example)


def e164(number: PhoneNumber) -> str:
    """+<country code><national number>."""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def whatsapp_id(number: PhoneNumber) -> str:
    """WhatsApp's wa_id: the international number as digits, without '+'."""
    return e164(number)[1:]


def spell(number: PhoneNumber, rng: random.Random, style: str | None = None) -> str:
    """The number as a person or a vendor export writes it (national, international, 00, E.164, bare)."""
    style = (
        style
        or rng.choices(
            ("e164", "international", "national", "national_bare", "double_zero"), (30, 20, 30, 12, 8)
        )[0]
    )
    if style == "e164":
        return e164(number)
    if style == "international":
        return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    if style == "double_zero":
        return "00" + e164(number)[1:]
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    if style == "national_bare":
        return "".join(ch for ch in national if ch.isdigit())
    return national
