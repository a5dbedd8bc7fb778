"""The `address` comparison: token-based similarity of canonical addresses, with house-number agreement.

Addresses are written in many ways ("12 Stanley St.", "stanley street 12", "Unit 3/12 Stanley
Street"): token order and street-type abbreviations carry no evidence, house numbers carry a lot.
So both sides are canonicalised (folded, punctuation removed, street types and unit words
expanded to one spelling), compared by token-set similarity, and a pair whose house numbers
disagree never reaches the `close` level: the same street with another number is its own level
(`other_number`, a neighbour more often than the same person), learnt like every level by EM.
"""

from __future__ import annotations

import re

import numpy as np

from matching.comparisons import (
    MISSING,
    Levels,
    assign,
    cpdist,
    exact_part,
    finish,
    fuzzy_names,
    on_distinct,
    shared_rule,
)
from matching.config import ComparisonSpec
from matching.frequency import Frame

OTHER_NUMBER = "other_number"
# one spelling per street type / unit word (Febrl, Royal Mail, USPS and Australia Post forms)
ABBREVIATIONS: dict[str, str] = {
    "st": "street", "str": "street", "rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive",
    "drv": "drive", "ln": "lane", "ct": "court", "crt": "court", "pl": "place", "cres": "crescent",
    "cr": "crescent", "cl": "close", "tce": "terrace", "ter": "terrace", "hwy": "highway",
    "pde": "parade", "blvd": "boulevard", "bvd": "boulevard", "sq": "square", "cct": "circuit",
    "gr": "grove", "gdns": "gardens", "mt": "mount", "pkwy": "parkway", "esp": "esplanade",
    "apt": "unit", "apartment": "unit", "flat": "unit", "u": "unit", "ste": "suite",
    "n": "north", "s": "south", "e": "east", "w": "west",
}  # fmt: skip
_SEPARATORS = re.compile(r"[^\w]+|_")
# "12a" is one house number; "3/12" and "3-12" are a unit and a house number
_NUMBER = re.compile(r"\d")


def canonical_address(text: str) -> str | None:
    """Folded address text with punctuation removed and street types spelled out (None when empty)."""
    tokens = [ABBREVIATIONS.get(t, t) for t in _SEPARATORS.split(text.casefold()) if t]
    return " ".join(tokens) or None


def house_numbers(address: str) -> str:
    """The address's number tokens, sorted and joined ("" when it has none)."""
    return " ".join(sorted(t for t in address.split() if _NUMBER.search(t)))


def street_words(address: str) -> str:
    """The address without its number tokens."""
    return " ".join(t for t in address.split() if not _NUMBER.search(t))


def compare_address(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / [shared] / close (numbers agree) / other_number (same street, another number) / far / different."""
    assert spec.column is not None and spec.thresholds is not None
    enc = frame.col(spec.column, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, li, r)
    fuzzy = fuzzy_names(len(spec.thresholds))
    names = [*names, *fuzzy[:1], OTHER_NUMBER, *fuzzy[1:], "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact, frame, li, r), ("exact", exact)]
    todo = ~missing & ~exact
    vocab = enc.vocab
    size = len(vocab)
    numbers: dict[int, str] = {}
    words: dict[int, str] = {}

    def parts(codes: np.ndarray) -> tuple[list[str], list[str]]:
        for code in np.unique(codes).tolist():
            if code not in numbers:
                numbers[code] = house_numbers(str(vocab[code]))
                words[code] = street_words(str(vocab[code]))
        return [numbers[c] for c in codes.tolist()], [words[c] for c in codes.tolist()]

    def number_conflict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        na, _ = parts(a)
        nb, _ = parts(b)
        return np.array(
            [x != y and bool(x) and bool(y) for x, y in zip(na, nb, strict=True)], dtype=np.float32
        )

    def whole(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cpdist([str(v) for v in vocab[a]], [str(v) for v in vocab[b]], "token_set")

    def street(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        _, wa = parts(a)
        _, wb = parts(b)
        return cpdist(wa, wb, "token_set")

    sim = on_distinct(cl, cr, todo, whole, size)
    conflict = on_distinct(cl, cr, todo, number_conflict, size) > 0.5
    same_street = on_distinct(cl, cr, todo & conflict, street, size)
    first = spec.thresholds[0]
    rules.append((fuzzy[0], todo & ~conflict & (sim >= first)))
    rules.append((OTHER_NUMBER, todo & conflict & (same_street >= first)))
    rules += [(n, todo & ~conflict & (sim >= t)) for n, t in zip(fuzzy[1:], spec.thresholds[1:], strict=True)]
    return finish(spec, enc, names, assign(len(li), names, rules), cl)
