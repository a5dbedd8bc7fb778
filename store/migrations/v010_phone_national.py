"""Migration 10: the national significant digits of each identity's phone, stored as a matching key."""

from domain.phones import COUNTRY_CODES, EXTENSION, MIN_DIGITS
from store.schema import Migration


def _strip_country_code(digits: str) -> str:
    """SQL of domain.phones' country-code strip (the codes are prefix-free: at most one applies)."""
    cases = " ".join(
        f"WHEN substr({digits}, 1, {k}) IN ({', '.join(repr(c) for c in COUNTRY_CODES[k])}) "
        f"THEN substr({digits}, {k + 1})"
        for k in (3, 2, 1)
    )
    return f"CASE {cases} ELSE {digits} END"


# identities loaded before this migration: the same digits ingest now stores (domain/phones.py),
# from the E.164 form, else from the raw number (international with + or 00, else national with
# its trunk zeros dropped); a test checks the two agree
_TEXT = "trim(phone)"
_DIGITS = f"regexp_replace(regexp_replace({_TEXT}, '{EXTENSION}', ''), '[^0-9]', '', 'g')"
_FROM_RAW = (
    f"CASE WHEN starts_with({_TEXT}, '+') OR starts_with({_DIGITS}, '00') "
    f"THEN {_strip_country_code(f'regexp_replace({_DIGITS}, ' + repr('^00') + ', ' + repr('') + ')')} "
    f"ELSE regexp_replace({_DIGITS}, '^0+', '') END"
)
# a number written as a float (4.4770090013e11, ingest.guards) has no digits of its own
_SCIENTIFIC = r"^\s*[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+\s*$"
_KEY = f"CASE WHEN phone_e164 IS NULL AND regexp_matches(phone, '{_SCIENTIFIC}') THEN NULL WHEN phone_e164 IS NOT NULL THEN {_strip_country_code('ltrim(phone_e164, ' + repr('+') + ')')} ELSE {_FROM_RAW} END"

STATEMENTS = (
    "ALTER TABLE identities ADD COLUMN IF NOT EXISTS phone_national VARCHAR",
    f"""UPDATE identities SET phone_national = CASE WHEN length(k) >= {MIN_DIGITS} THEN k END
    FROM (SELECT identity_id AS id, {_KEY} AS k FROM identities
          WHERE phone IS NOT NULL OR phone_e164 IS NOT NULL) AS keyed
    WHERE identities.identity_id = keyed.id""",
)

MIGRATION = Migration(
    10, "national significant digits of phones", STATEMENTS, {"identities": {"phone_national": "contact"}}
)
