"""Every spelling of a person's values that idres can recognise, for the erasure and its verification.

An address or a number is searched for as stored (raw), normalized and as the provider-folded
e-mail key; a phone number also in E.164, international and national format (`+447491614434`,
`+44 7491 614434`, `07491 614434`, `07491614434`, `447491614434`) and, in free text, as its digits
with any spaces, dots, dashes or brackets between them. Full names are searched for as written,
case-folded and as the diacritic-free name key (`alicemoss`), unless another live customer has the
same name (then it is theirs too, and finding it proves nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from anonymize import scrub

# a full name shorter than this ("Al Li") would match inside unrelated words and numbers
MIN_NAME_LENGTH = 6
# a phone's national number shorter than this is not searched for as loose digits (too many false hits)
MIN_PHONE_DIGITS = 6
_SEPARATOR = r"[ ().-]{0,2}"


@dataclass
class Spellings:
    """The literal forms (lower-case) and the phone patterns (RE2 and Python compatible) of one person."""

    literals: list[str] = field(default_factory=list)
    phone_patterns: list[str] = field(default_factory=list)
    names_not_searched: int = 0  # full names other live customers share

    def phone_digits(self) -> list[str]:
        """The national significant digits each phone pattern spells (a cheap pre-check for files)."""
        return [pattern_digits(pattern) for pattern in self.phone_patterns]

    def to_json(self) -> dict[str, Any]:
        """A plain dict (kept encrypted while a request is `erasing`)."""
        return {
            "literals": self.literals,
            "phone_patterns": self.phone_patterns,
            "names_not_searched": self.names_not_searched,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spellings:
        """The inverse of `to_json`."""
        return cls(
            list(data["literals"]), list(data["phone_patterns"]), int(data.get("names_not_searched", 0))
        )

    def compiled(self) -> list[re.Pattern[bytes]]:
        """The phone patterns compiled for searching bytes."""
        return [re.compile(pattern.encode("ascii")) for pattern in self.phone_patterns]


_SUFFIX = "(?:[^0-9]|$)"
_BODY = re.compile(r"((?:\d" + re.escape(_SEPARATOR) + r")*\d)$")


def pattern_digits(pattern: str) -> str:
    """The digits a phone pattern of `phone_forms` spells, without separators."""
    match = _BODY.search(pattern.removesuffix(_SUFFIX))
    return re.sub(r"\D", "", match.group(1).replace(_SEPARATOR, "")) if match else ""


def phone_forms(number: str, default_region: str = "GB") -> tuple[set[str], str | None]:
    """The literal spellings of one phone number and its free-text pattern (None when unparseable)."""
    try:
        parsed = phonenumbers.parse(number, None if number.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return {number.strip().lower()}, None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    digits = e164.lstrip("+")
    forms = {number.strip().lower(), e164, digits, "00" + digits, national, international}
    forms |= {re.sub(r"[^\d+]", "", form) for form in (national, international)}
    significant = phonenumbers.national_significant_number(parsed)
    if len(significant) < MIN_PHONE_DIGITS:
        return forms, None
    code = str(parsed.country_code)
    prefix = rf"(?:(?:\+|00)?{_SEPARATOR}{code}{_SEPARATOR}(?:\(0\){_SEPARATOR})?|\(?0{_SEPARATOR})?"
    body = _SEPARATOR.join(significant)
    return forms, rf"(?:^|[^0-9+]){prefix}{body}{_SUFFIX}"


def _name_forms(first: Any, last: Any, display: Any) -> set[str]:
    forms: set[str] = set()
    if first and last:
        full = f"{first} {last}"
        forms |= {" ".join(full.split()).lower(), " ".join(full.split()).casefold()}
        forms.add(name_key(full))
    # a display name is a full name only with two words or more; a lone "Mariana" is anyone's first name
    if display and len(str(display).split()) >= 2:
        forms |= {" ".join(str(display).split()).casefold(), name_key(str(display))}
    return {form for form in forms if len(form) >= MIN_NAME_LENGTH}


def name_key(text: str) -> str:
    """The diacritic-free, letters-only key of a name (as `ingest` builds first/last name keys)."""
    from ingest.text import name_key as key

    return key(text)


def person_spellings(
    identities: list[dict[str, Any]], customers: list[dict[str, Any]], values: scrub.PersonValues,
    shared_names: set[str], default_region: str = "GB",
) -> Spellings:  # fmt: skip
    """Every recognisable spelling of the person's identifiers and (unshared) full names."""
    literals = {value.lower() for value in values.searchable()}
    patterns: set[str] = set()
    numbers = {row.get("phone") for row in identities} | {row.get("phone_e164") for row in identities}
    numbers |= {number for row in customers for number in (row.get("phones") or [])}
    for number in sorted(n for n in numbers if n):
        forms, pattern = phone_forms(str(number), default_region)
        literals |= {form.lower() for form in forms if len(form) >= scrub.MIN_VALUE_LENGTH}
        if pattern:
            patterns.add(pattern)
    names: set[str] = set()
    for row in [*identities, *customers]:
        names |= _name_forms(row.get("first_name"), row.get("last_name"), row.get("display_name"))
        names |= _name_forms(
            row.get("first_name_norm"), row.get("last_name_norm"), row.get("display_name_norm")
        )
        if row.get("first_name_key") and row.get("last_name_key"):
            key = f"{row['first_name_key']}{row['last_name_key']}"
            if len(key) >= MIN_NAME_LENGTH:
                names.add(key)
    kept = {name for name in names if name not in shared_names}
    return Spellings(
        literals=sorted(literals | kept, key=lambda v: (-len(v), v)),
        phone_patterns=sorted(patterns),
        names_not_searched=len(names) - len(kept),
    )


def name_candidates(identities: list[dict[str, Any]], customers: list[dict[str, Any]]) -> set[str]:
    """The person's full-name forms, to ask the store which of them other live customers share."""
    names: set[str] = set()
    for row in [*identities, *customers]:
        names |= _name_forms(row.get("first_name"), row.get("last_name"), row.get("display_name"))
        if row.get("first_name_key") and row.get("last_name_key"):
            names.add(f"{row['first_name_key']}{row['last_name_key']}")
    return names
