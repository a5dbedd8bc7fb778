"""Whether a display name is a person's name, before ingest splits it into first and last name.

Chat and social profiles carry display names that are no name at all: "Mum", "Busy 📵",
"Living my best life", "Hey there! I am using WhatsApp.", "🙂". Split into first/last name, two
strangers with the same status line agree exactly on both names, which outweighs a phone or
email disagreement (three such names made 111 false review-band pairs on the project's
generator at 10k). A display name is taken for a person's name unless one of these holds:
- no word has a letter (emoji, digits, punctuation only: "🙂", "~", "07911 123456");
- a word is not name-like: it has a digit or a symbol other than ' ’ . - ("there!", "mum_of_3");
- a word is one no name contains (`STOP_WORDS`: pronouns, greetings, app names, "not", "no");
- every word is a status or role word (`STATUS_WORDS`: "mum", "away", "coffee addict");
- it has more than `MAX_WORDS` words (a sentence, not a name).
Words that are also common names or surnames ("Grace", "Hope", "Will", "King") are in neither list;
the status words may be surnames ("Love", "Best") and only count when no other word is a name.
Bracketed parts ("Jane (work)") and emoji beside a name ("Sarah 🌸") do not count. The raw and
folded display name are kept either way: only the split into first/last name is withheld.
"""

from __future__ import annotations

import polars as pl

MAX_WORDS = 5  # "Maria del Carmen García López" has five


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# words a person's name does not contain: pronouns and function words of status lines,
# greetings, messaging apps and presence states
STOP_WORDS = _words(
    "i i'm im me my mine myself am is are was you your we our this not no just using "
    "hey hi hello hiya howdy whatsapp facebook messenger instagram telegram viber wechat "
    "available unavailable online offline"
)
# status, role and placeholder words: not a name on their own or together ("mum", "coffee addict",
# "unknown user"), but some are surnames, so a name beside them keeps the display name a name
STATUS_WORDS = _words(
    "mum mom mam mummy mommy mama dad daddy nan nana nanny gran granny grandma grandad grandpa "
    "wife husband hubby bro sis babe baby bestie family "
    "life living best love lover happy blessed busy away today tomorrow "
    "coffee tea addict dog cat person proud mother father work home office "
    "private unknown user guest anonymous customer test name none null nobody someone "
    "boss the of"  # "The Boss", but "Jan the Elder"
)
_BRACKETED = r"\s*[(\[][^)\]]*[)\]]"
_NOT_NAME_LIKE = r"[^\p{L}\p{M}'’.\-]"  # after the edge commas are stripped ("Smith, John")


def person_names(names: pl.Series) -> pl.Series:
    """Per display name: True if it is a person's name (rules in the module docstring), False if
    not or null. Each distinct name is judged once (display names repeat: "Mum", "🙂")."""
    values = names.cast(pl.String)
    distinct = values.drop_nulls().unique()
    verdicts = _judged(distinct)
    return values.replace_strict(distinct, verdicts, default=False, return_dtype=pl.Boolean).rename(
        names.name
    )


def _judged(names: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"d": names}).with_row_index("i")
    words = frame.select(
        "i",
        w=pl.col("d").str.to_lowercase().str.replace_all(_BRACKETED, " ").str.split(" "),
    ).explode("w")
    words = words.with_columns(pl.col("w").str.strip_chars(",;:")).filter(pl.col("w").str.contains(r"\p{L}"))
    w = pl.col("w")
    verdict = words.group_by("i").agg(
        person=~w.str.contains(_NOT_NAME_LIKE).any()
        & ~w.is_in(list(STOP_WORDS)).any()
        & ~w.is_in(list(STOP_WORDS | STATUS_WORDS)).all()
        & (pl.len() <= MAX_WORDS)
    )
    out = frame.join(verdict, on="i", how="left", maintain_order="left")
    return out.get_column("person").fill_null(False)


def is_person_name(text: str | None) -> bool:
    """True if one display name is a person's name (`person_names` on one value)."""
    return bool(person_names(pl.Series([text], dtype=pl.String))[0])
