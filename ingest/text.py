"""Unicode text folding for identity values: a pure-polars path for ASCII, Python once per distinct non-ASCII value.

Three foldings, each as a scalar function (the reference) and a polars expression builder (the fast path):
- `fold` (`fold_text`): NFKC, case-folded, whitespace collapsed and trimmed; diacritics kept.
- `plain` (`plain_text`): `fold` without diacritics (NFKD, combining marks dropped, ß/ø/æ/œ/ł/đ/þ transliterated).
- `name_key` (`key_text`): `plain` keeping only the letters a-z (no spaces, hyphens, apostrophes, digits);
  Cyrillic and Greek letters are romanized, other scripts drop out.
Empty results are null. For ASCII input the expressions never leave polars; for other values the scalar
function runs once per distinct value (`map_non_ascii`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import polars as pl

_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
_MARKS = re.compile(r"[\u0300-\u036f]")  # combining diacritical marks (not e.g. Japanese voicing marks)
_NOT_AZ = re.compile(r"[^a-z]+")
_LATIN = {
    "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ŀ": "l",
    "ħ": "h", "ŧ": "t", "ĸ": "k", "ŋ": "n", "ſ": "s", "ƒ": "f", "ɨ": "i", "ʉ": "u", "ə": "e", "ȥ": "z",
}  # fmt: skip
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "ё": "e", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
}  # fmt: skip
_GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}  # fmt: skip
LATIN_TABLE = str.maketrans(_LATIN)  # letters without a Unicode decomposition, for `plain`
KEY_TABLE = str.maketrans({**_LATIN, **_CYRILLIC, **_GREEK})  # `name_key` also romanizes Cyrillic and Greek


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip(" ")


def fold(text: str) -> str | None:
    """NFKC, case-folded, whitespace collapsed and trimmed; None when nothing is left."""
    out = _collapse(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()))
    return out or None


def plain(text: str) -> str | None:
    """`fold` without diacritics: NFKD, combining marks dropped, the transliteration table applied."""
    folded = fold(text)
    if folded is None:
        return None
    stripped = _MARKS.sub("", unicodedata.normalize("NFKD", folded)).translate(LATIN_TABLE)
    return _collapse(unicodedata.normalize("NFC", stripped)) or None


def name_key(text: str) -> str:
    """The diacritic-free match key of one string: ASCII letters a-z only (ß→ss, ø→o, æ→ae); may be ''."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _NOT_AZ.sub("", folded.translate(KEY_TABLE))


def _name_key_or_none(text: str) -> str | None:
    return name_key(text) or None


def is_ascii(e: pl.Expr) -> pl.Expr:
    """True where the string is pure ASCII (null for null)."""
    return e.str.len_bytes() == e.str.len_chars()


def collapse_ascii(e: pl.Expr) -> pl.Expr:
    """Whitespace/control runs to one space, trimmed (the ASCII half of `fold`)."""
    return e.str.replace_all(r"[\s\x00-\x1f\x7f]+", " ").str.strip_chars(" ")


def map_non_ascii(values: pl.Series, function: Callable[[str], str | None]) -> pl.Series:
    """Apply `function` once per distinct non-ASCII value; ASCII values and nulls map to null."""
    out = pl.Series(values.name, [None] * values.len(), dtype=pl.String)
    mask = (values.str.len_bytes() != values.str.len_chars()).fill_null(False)
    if not mask.any():
        return out
    index = mask.arg_true()
    subset = values.gather(index)
    distinct = subset.unique()
    mapped = pl.Series([function(v) for v in distinct.to_list()], dtype=pl.String)
    return out.scatter(index, subset.replace_strict(distinct, mapped, return_dtype=pl.String))


def hybrid(
    e: pl.Expr, ascii_path: Callable[[pl.Expr], pl.Expr], function: Callable[[str], str | None]
) -> pl.Expr:
    """`ascii_path(e)` for ASCII strings, `function` once per distinct other value; empty results are null."""
    slow = e.map_batches(lambda s: map_non_ascii(s, function), return_dtype=pl.String, is_elementwise=True)
    return pl.when(is_ascii(e)).then(ascii_path(e)).otherwise(slow).replace("", None)


def fold_text(e: pl.Expr) -> pl.Expr:
    """Expression: `fold` (NFKC, case-folded, whitespace collapsed, diacritics kept)."""
    return hybrid(e, lambda x: collapse_ascii(x).str.to_lowercase(), fold)


def plain_text(e: pl.Expr) -> pl.Expr:
    """Expression: `plain` (case-folded, diacritic-free, whitespace collapsed)."""
    return hybrid(e, lambda x: collapse_ascii(x).str.to_lowercase(), plain)


def key_text(e: pl.Expr) -> pl.Expr:
    """Expression: `name_key` (a-z only), null when empty."""
    return hybrid(e, lambda x: x.str.to_lowercase().str.replace_all("[^a-z]+", ""), _name_key_or_none)
