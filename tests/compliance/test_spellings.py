"""The spellings erasure searches for: phone formats, loose digits in free text, full names only."""

from __future__ import annotations

import re

from anonymize.scrub import PersonValues
from compliance.spellings import pattern_digits, person_spellings, phone_forms


def test_a_number_is_searched_in_every_format_and_as_loose_digits_in_text() -> None:
    forms, pattern = phone_forms("+447491614434")
    assert {"+447491614434", "447491614434", "07491 614434", "07491614434", "+44 7491 614434"} <= forms
    assert pattern is not None and pattern_digits(pattern) == "7491614434"
    for text in ("call 07491 614434 now", "+44 (0)7491 614 434", "x07491-614-434.", "7491614434"):
        assert re.search(pattern, text), text
    assert not re.search(pattern, "order 074916144345")  # a longer number is someone else's


def test_a_lone_display_name_is_nobodys_full_name_and_shared_names_are_not_searched() -> None:
    identities = [{"display_name": "Mariana", "first_name": None, "last_name": None, "phone": None}]
    assert person_spellings(identities, [], PersonValues(), set()).literals == []
    identities = [
        {"first_name": "Ann", "last_name": "Leeward", "first_name_key": "ann", "last_name_key": "leeward"}
    ]
    kept = person_spellings(identities, [], PersonValues(), set()).literals
    assert {"ann leeward", "annleeward"} <= set(kept)
    shared = person_spellings(identities, [], PersonValues(), {"ann leeward", "annleeward"})
    assert shared.literals == [] and shared.names_not_searched == 2
