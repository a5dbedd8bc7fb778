"""How each contact-centre channel sees a person: which fields it carries and how they are spelled.

Each channel's export has its vendor's columns (WhatsApp `wa_id`/`profile_name`, Facebook
`psid`/`full_name`, the rest `external_id` plus contract columns). Thin identities are the
rule: an SMS identity is a number, an X identity a handle; a web-chat pre-chat form has typed
names and emails (with typos); a voice call has the number the agent saw and maybe a name and
birth date the agent noted.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from data.independent.names import COUNTRY_SPELLINGS, fold
from data.independent.people import Person
from data.independent.phones import spell, whatsapp_id

# channel label in the export file name -> idres's canonical channel (aliases x, webchat, voice)
CHANNELS: dict[str, str] = {
    "email": "email",
    "sms": "sms",
    "whatsapp": "whatsapp",
    "facebook": "facebook",
    "x": "twitter",
    "instagram": "instagram",
    "webchat": "chat",
    "voice": "phone",
}
CHANNEL_WEIGHTS: dict[str, int] = {
    "email": 22,
    "sms": 13,
    "whatsapp": 16,
    "facebook": 11,
    "x": 6,
    "instagram": 9,
    "webchat": 15,
    "voice": 8,
}
NEEDS_MOBILE = {"sms", "whatsapp"}
_KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"
_DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmail.con", "gmail.co", "gmai.com", "gnail.com"),
    "hotmail.com": ("hotmial.com", "hotmail.con", "hotmal.com"),
    "yahoo.com": ("yaho.com", "yahoo.con"),
    "outlook.com": ("outlok.com", "outlook.con"),
}
_START = datetime(2022, 1, 1)


def typo(text: str, rng: random.Random) -> str:
    """One keystroke error: a dropped, doubled, swapped or neighbouring-key letter."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.randrange(4)
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i] + text[i:]
    if op == 2:
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    row = next((r for r in _KEYBOARD.split() if text[i].lower() in r), None)
    if row is None:
        return text[:i] + text[i + 1 :]
    j = row.index(text[i].lower())
    near = row[max(j - 1, 0)] if rng.random() < 0.5 or j + 1 >= len(row) else row[j + 1]
    return text[:i] + near + text[i + 1 :]


def typed_email(address: str, rng: random.Random) -> str:
    """An address as typed into a form: mostly right, sometimes a typo in the local part or domain."""
    if rng.random() >= 0.12:
        return address if rng.random() < 0.9 else address.capitalize()
    local, domain = address.split("@", 1)
    if domain in _DOMAIN_TYPOS and rng.random() < 0.5:
        return f"{local}@{rng.choice(_DOMAIN_TYPOS[domain])}"
    return f"{typo(local, rng)}@{domain}"


def _surname(person: Person, rng: random.Random) -> str:
    last = person.married_name if person.married_name and rng.random() < 0.5 else person.last
    if person.country == "ES" and " " in last and rng.random() < 0.5:  # one of two Spanish surnames
        last = last.split()[0]
    return last


def full_name(person: Person, rng: random.Random) -> str | None:
    """A display name as a person or a platform writes it; None when there is none."""
    first, last = person.first, _surname(person, rng)
    form = rng.choices(
        ("full", "nick", "first", "lower", "reversed", "typo", "initial", "upper", "ascii", "none"),
        (44, 10, 12, 8, 3, 6, 4, 3, 4, 6),
    )[0]
    if form == "nick":
        return f"{person.nick or first} {last}"
    if form == "first":
        return person.nick if person.nick and rng.random() < 0.4 else first
    if form == "lower":
        return f"{first} {last}".lower()
    if form == "reversed":
        return f"{last}, {first}" if rng.random() < 0.5 else f"{last} {first}"
    if form == "typo":
        return f"{typo(first, rng)} {last}" if rng.random() < 0.5 else f"{first} {typo(last, rng)}"
    if form == "initial":
        return f"{first[0]}. {last}"
    if form == "upper":
        return f"{first} {last}".upper()
    if form == "ascii":
        return f"{fold(first).capitalize()} {fold(last).capitalize()}"
    if form == "none":
        return None
    return f"{first} {last}"


def _created(rng: random.Random) -> str:
    return (_START + timedelta(seconds=rng.randrange(4 * 365 * 86400))).isoformat()


def identity(person: Person, channel: str, rng: random.Random, serial: int) -> dict[str, Any]:
    """One identity row of `person` on `channel` (a label of CHANNELS), in that export's columns."""
    row: dict[str, Any] = {"created_at": _created(rng)}
    if channel == "email":
        row["external_id"] = person.emails[-1]
        row["display_name"] = full_name(person, rng) if rng.random() < 0.7 else None
    elif channel == "sms":
        assert person.mobile is not None
        row["external_id"] = spell(person.mobile, rng)
        if rng.random() < 0.12:
            row["display_name"] = full_name(person, rng)
    elif channel == "whatsapp":
        assert person.mobile is not None
        row["wa_id"] = whatsapp_id(person.mobile)
        row["profile_name"] = full_name(person, rng) if rng.random() < 0.85 else "🙂"
    elif channel == "facebook":
        row["psid"] = str(10**15 + serial * 7919 % 10**15)  # unique per serial, not sequential
        row["full_name"] = full_name(person, rng) or f"{person.first} {person.last}"
        if rng.random() < 0.15:
            row["city"] = person.city
    elif channel in ("x", "instagram"):
        handle = person.handle if rng.random() < 0.7 else typo(person.handle, rng)
        row["external_id"] = handle if channel == "instagram" or rng.random() < 0.5 else f"@{handle}"
        row["screen_name"] = handle
        row["display_name"] = full_name(person, rng) if rng.random() < 0.6 else None
    elif channel == "webchat":
        row.update(_prechat_form(person, rng, serial))
    elif channel == "voice":
        row.update(_call(person, rng))
    return row


def _prechat_form(person: Person, rng: random.Random, serial: int) -> dict[str, Any]:
    row: dict[str, Any] = {"external_id": f"wc-{serial:08x}{rng.randrange(16**4):04x}"}
    if rng.random() < 0.6:
        first = person.nick if person.nick and rng.random() < 0.2 else person.first
        row["first_name"] = typo(first, rng) if rng.random() < 0.05 else first
        row["last_name"] = _surname(person, rng) if rng.random() < 0.85 else None
        if rng.random() < 0.15:
            row["first_name"], row["last_name"] = row["first_name"].lower(), (row["last_name"] or "").lower()
    else:
        row["display_name"] = full_name(person, rng)
    if rng.random() < 0.85:
        row["email"] = typed_email(rng.choice(person.emails), rng)
    phones = [p for p in (person.mobile, person.landline) if p is not None]
    if phones and rng.random() < 0.3:
        row["phone"] = spell(
            rng.choice(phones), rng, rng.choice(("national", "national_bare", "international"))
        )
    if rng.random() < 0.4:
        row["country"] = rng.choice(COUNTRY_SPELLINGS[person.country])
    if rng.random() < 0.25:
        row["city"] = person.city
    if rng.random() < 0.2:
        row["postcode"] = person.postcode
    if rng.random() < 0.1:
        row["birth_date"] = person.birth.isoformat()
    return row


def _call(person: Person, rng: random.Random) -> dict[str, Any]:
    phones = [p for p in (person.mobile, person.landline) if p is not None]
    number = person.landline if person.landline is not None and rng.random() < 0.5 else rng.choice(phones)
    row: dict[str, Any] = {"external_id": spell(number, rng, rng.choice(("national", "e164", "e164")))}
    if rng.random() < 0.4:
        row["display_name"] = rng.choice(
            (f"{person.first} {person.last}", f"{person.last.upper()}, {person.first}", f"{person.last}")
        )
    if rng.random() < 0.25:
        row["birth_date"] = person.birth.isoformat()
    if rng.random() < 0.3:
        row["postcode"] = person.postcode
    return row
