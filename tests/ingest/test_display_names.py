"""Which display names are a person's name (ingest.display_names)."""

import polars as pl
import pytest

from ingest.display_names import MAX_WORDS, STATUS_WORDS, STOP_WORDS, is_person_name, person_names
from ingest.text import fold


@pytest.mark.parametrize(
    "name",
    [
        "Jane Smith",
        "Smith, Jane",
        "J. Smith",
        "Mr Smith",
        "Dr. Ama Owusu-Ansah",
        "Sinéad O'Connor",
        "D’Arcy Jones",
        "Maria del Carmen García López",
        "Sarah 🌸",  # an emoji beside a name
        "Jane (work)",  # a bracketed note
        "Jane Love",  # a status word beside a name: a surname
        "George Best",
        "Jan the Elder",
        "Grace",
        "Will King",
        "李小龙",
        "Анна Иванова",
        "janesmith",
    ],
)
def test_person_names(name: str) -> None:
    assert is_person_name(name) and is_person_name(fold(name))


@pytest.mark.parametrize(
    "name",
    [
        "Living my best life",
        "living life",
        "hey whatsapp",
        "Hey there! I am using WhatsApp.",
        "just me",
        "no name",
        "Me",
        "Mum",
        "Dad",
        "Nan",
        "Away",
        "Not today",
        "Busy 📵",
        "Coffee addict ☕",
        "Dog person 🐶",
        "Proud mum of 3",
        "Unknown user",
        "The Boss",
        "🙂",
        "~",
        ".",
        "07911 123456",
        "dave86",
        "n/a",
        "mum_of_two",
        "one two three four five six",
        "",
        None,
    ],
)
def test_not_person_names(name: str | None) -> None:
    assert not is_person_name(name)
    if name:
        assert not is_person_name(fold(name))


def test_the_word_lists_hold_no_common_given_name_and_a_name_has_at_most_max_words() -> None:
    for given in ("grace", "hope", "will", "may", "june", "rose", "faith", "joy", "king", "young"):
        assert given not in STOP_WORDS | STATUS_WORDS
    assert is_person_name(" ".join(["anna"] * MAX_WORDS))
    assert not is_person_name(" ".join(["anna"] * (MAX_WORDS + 1)))


def test_person_names_is_row_aligned_and_keeps_the_series_name() -> None:
    s = pl.Series("display_name_norm", ["mum", None, "jane smith", "🙂", "jane smith"])
    out = person_names(s)
    assert out.name == "display_name_norm"
    assert out.to_list() == [False, False, True, False, True]
