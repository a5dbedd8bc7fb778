"""Column encodings, term frequencies and shared-value detection over the whole identities frame.

Every compared column is encoded once as integer codes (-1 = missing) into a vocabulary, so
comparisons work on numpy arrays and fuzzy scorers run once per distinct value pair.
Frequencies count *distinct customers* holding a value, not identities: a customer who
already holds five identities with a rare email must not make that email look common.

An incremental run scores a few thousand rows against the whole frame: `Frame.focus` (the rows
that appear in candidate pairs) then limits vocabularies and per-row values to those rows,
while value statistics (customers per value, totals, shared flags) still count every row, so
the focused rows get exactly the codes' statistics a full run gives them. Rows outside the
focus read as missing; a focused frame cannot estimate u (that needs random pairs of any rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass
class Encoded:
    """One encoded column: codes per identity row, vocabulary, and per-value statistics."""

    codes: np.ndarray  # int32 per row, -1 where missing
    vocab: np.ndarray  # object array: code -> string
    customers: np.ndarray  # float64 per code: distinct customers holding the value
    total: float  # distinct (customer, value) holdings: the denominator of a term frequency
    shared: np.ndarray | None = None  # bool per code: held by several different people
    partial: bool = False  # vocabulary of the focus rows only (see Frame.focus)

    def tf(self, codes: np.ndarray) -> np.ndarray:
        """Term frequency p(value) of each code (the u of an exact match on that value)."""
        return self.customers[codes] / max(self.total, 1.0)

    def u_exact(self) -> float:
        """Probability that two random customers share a value, among pairs where both have one."""
        if self.partial:
            raise ValueError("u_exact needs every value's frequency: encode without a focus")
        c = self.customers
        t = max(self.total, 2.0)
        return float(max((c * (c - 1)).sum() / (t * (t - 1)), 1.0 / (t * t)))


@dataclass
class Frame:
    """The identities frame prepared for matching: row order is the `idx` used everywhere."""

    df: pl.DataFrame
    customer: np.ndarray  # int64 customer id per row
    shared_min_holders: int
    shared_min_customers: int
    cache: dict[tuple[str, ...], Encoded | dict[str, Encoded] | np.ndarray] = field(default_factory=dict)
    focus: np.ndarray | None = None  # sorted row indices that comparisons will read; None = all
    complete: bool = True  # False for a partition's subset: every statistic must come from the cache
    namesake_holders: int | None = None  # [match] namesake_holders (names.py), None: off
    # per-row values derived from df by name (no statistics: a subset derives its own rows again)
    memo: dict[str, pl.DataFrame] = field(default_factory=dict)

    def subset(self, rows: np.ndarray) -> Frame:
        """These rows (sorted) with the statistics already computed over the whole frame, for one partition.

        A scoring task gets only its pairs' rows; codes and per-row values are cut to them, while
        vocabularies and per-value statistics are kept, so scores equal the whole frame's.
        """
        cache: dict[tuple[str, ...], Encoded | dict[str, Encoded] | np.ndarray] = {}
        for key, value in self.cache.items():
            if isinstance(value, Encoded):
                cache[key] = _cut([value], rows)[0]
            elif isinstance(value, dict):
                cache[key] = dict(zip(value, _cut(list(value.values()), rows), strict=True))
            else:
                cache[key] = value[rows]
        return Frame(
            self.df[pl.Series(rows)], self.customer[rows], self.shared_min_holders,
            self.shared_min_customers, cache, None, complete=False, namesake_holders=self.namesake_holders,
        )  # fmt: skip

    def rows(self, name: str, make: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
        """make(df): per-row values of every row (the focus aside), derived once per frame.

        Comparisons gather them per pair instead of deriving them again for each call's pairs
        (the email local part, a handle's letters: regexes over a million rows).
        """
        hit = self.memo.get(name)
        if hit is None:
            hit = self.memo[name] = make(self.df)
        return hit

    def per_row(
        self, name: str, make: Callable[[pl.DataFrame], pl.Series]
    ) -> Callable[[pl.DataFrame], pl.Series]:
        """make, derived once for the frame's own rows (Frame.rows); other rows (an incremental
        run's focus) as asked. For a value several statistics derive (an email's local part)."""

        def derived(df: pl.DataFrame) -> pl.Series:
            if df is not self.df:
                return make(df)
            return self.rows(name, lambda d: make(d).alias(name).to_frame()).to_series()

        return derived

    def _miss(self, key: tuple[str, ...]) -> None:
        if not self.complete:
            raise RuntimeError(
                f"partition frame lacks statistic {key}: compute it in matching.engine.prepare"
            )

    def set_focus(self, rows: np.ndarray | None) -> None:
        """Restrict vocabularies and per-row values to these rows (statistics still count all rows)."""
        self.focus = None if rows is None else np.unique(rows.astype(np.int64))
        self.cache.clear()

    def _focus_series(self, s: pl.Series) -> pl.Series:
        assert self.focus is not None
        return s.gather(pl.Series(self.focus))

    @property
    def n(self) -> int:
        """Number of identity rows."""
        return self.df.height

    def col(self, name: str, shared: bool = False) -> Encoded:
        """The encoded column (cached); `shared` also computes shared-value flags."""
        key = (name, "shared" if shared else "")
        hit = self.cache.get(key)
        if isinstance(hit, Encoded):
            return hit
        self._miss(key)
        enc = self.joint([name])[name]
        if shared:
            enc = Encoded(enc.codes, enc.vocab, enc.customers, enc.total, self._shared(enc), enc.partial)
        self.cache[key] = enc
        return enc

    def joint(self, names: list[str]) -> dict[str, Encoded]:
        """Encode several string columns into one vocabulary, so codes compare across columns."""
        key = ("joint", *names)
        hit = self.cache.get(key)
        if isinstance(hit, dict):
            return hit
        self._miss(key)
        series = [_as_string(self.df.get_column(c)) for c in names]
        out = self._encode(series, names)
        self.cache[key] = out
        return out

    def derived(self, name: str, make: Callable[[pl.DataFrame], pl.Series]) -> Encoded:
        """Encode a column derived from the frame (e.g. the local part of an email), cached by name."""
        key = ("derived", name)
        hit = self.cache.get(key)
        if isinstance(hit, Encoded):
            return hit
        self._miss(key)
        enc = self._encode([_as_string(make(self.df))], [name])[name]
        self.cache[key] = enc
        return enc

    def hashed(self, name: str, make: Callable[[pl.DataFrame], pl.Series]) -> np.ndarray:
        """64-bit hash per row of a derived column, for equality tests only; 0 where missing."""
        key = ("hashed", name)
        hit = self.cache.get(key)
        if isinstance(hit, np.ndarray):
            return hit
        self._miss(key)
        rows = self.df if self.focus is None else self.df[pl.Series(self.focus)]
        s = _as_string(make(rows))
        hashes = s.hash().to_numpy().astype(np.uint64)
        hashes[s.is_null().to_numpy()] = 0  # a real value hashing to 0 is a 2^-64 event
        if self.focus is None:
            out = hashes
        else:
            out = np.zeros(self.n, dtype=np.uint64)
            out[self.focus] = hashes
        self.cache[key] = out
        return out

    def row_frequency(self, name: str, make: Callable[[pl.DataFrame], pl.Series]) -> np.ndarray:
        """Per row, the term frequency of its derived value among customers (nan where missing)."""
        key = ("freq", name)
        hit = self.cache.get(key)
        if isinstance(hit, np.ndarray):
            return hit
        self._miss(key)
        s = _as_string(make(self.df))
        if self.focus is None:
            # customers per value counted on codes (a sort of int64 keys, not a window n_unique)
            codes, vocab = dense_codes(s)
            holders, total = _customer_counts(codes, self.customer, max(len(vocab), 1))
            out = np.where(codes < 0, np.nan, holders[np.maximum(codes, 0)] / max(total, 1))
        else:
            df = pl.DataFrame({"v": s, "c": self.customer})
            total = df.drop_nulls().unique().height
            wanted = self._focus_series(s)
            held = df.filter(pl.col("v").is_in(wanted.drop_nulls().unique().implode()))
            per_value = held.group_by("v").agg(pl.col("c").n_unique().alias("n"))
            counts = (
                wanted.to_frame("v").join(per_value, on="v", how="left", maintain_order="left")
                .get_column("n").cast(pl.Float64).to_numpy()
            )  # fmt: skip
            out = np.full(self.n, np.nan)
            out[self.focus] = np.where(wanted.is_null().to_numpy(), np.nan, counts / max(total, 1))
        self.cache[key] = out
        return out

    def _encode(self, series: list[pl.Series], names: list[str]) -> dict[str, Encoded]:
        if self.focus is not None:
            return self._encode_focus(series, names)
        stacked = pl.concat(series) if len(series) > 1 else series[0]
        codes_all, vocab_s = dense_codes(stacked)
        vocab = vocab_s.to_numpy().astype(object)
        if len(vocab) == 0:  # an all-missing column: one unused entry keeps code-0 lookups valid
            vocab = np.array([""], dtype=object)
        out: dict[str, Encoded] = {}
        for i, name in enumerate(names):
            codes = codes_all[i * self.n : (i + 1) * self.n]
            customers, total = _customer_counts(codes, self.customer, len(vocab))
            out[name] = Encoded(codes, vocab, customers, total)
        return out

    def _encode_focus(self, series: list[pl.Series], names: list[str]) -> dict[str, Encoded]:
        """As _encode, with the vocabulary of the focus rows; codes of other values are -1."""
        held = pl.concat([self._focus_series(s) for s in series])
        vocab_s = held.drop_nulls().unique().sort()
        vocab = vocab_s.to_numpy().astype(object)
        if len(vocab) == 0:
            vocab = np.array([""], dtype=object)
        index = pl.Series(np.arange(len(vocab_s), dtype=np.int32))
        out: dict[str, Encoded] = {}
        for s, name in zip(series, names, strict=True):
            codes = s.replace_strict(vocab_s, index, default=-1, return_dtype=pl.Int32).to_numpy()
            customers, _ = _customer_counts(codes, self.customer, len(vocab))
            # the denominator counts every value's holders, not only the focused values'
            total = float(pl.DataFrame({"v": s, "c": self.customer}).drop_nulls().unique().height)
            out[name] = Encoded(codes.astype(np.int32), vocab, customers, total, partial=True)
        return out

    def _shared(self, enc: Encoded) -> np.ndarray:
        from matching.shared import shared_codes

        return shared_codes(self, enc)


def _cut(encoded: list[Encoded], rows: np.ndarray) -> list[Encoded]:
    """Encodings sharing one vocabulary, cut to these rows and to the values they hold (order kept).

    The statistics of the kept values are unchanged; `partial` because the others are gone.
    """
    codes = [enc.codes[rows] for enc in encoded]
    used = np.unique(np.concatenate([c[c >= 0] for c in codes]))
    if len(used) == 0:
        used = np.zeros(1, dtype=np.int64)  # one entry keeps code-0 lookups valid
    first = encoded[0]
    out = []
    for enc, c in zip(encoded, codes, strict=True):
        local = np.where(c >= 0, np.searchsorted(used, np.maximum(c, 0)), -1).astype(np.int32)
        shared = None if enc.shared is None else enc.shared[used]
        out.append(Encoded(local, first.vocab[used], enc.customers[used], enc.total, shared, partial=True))
    return out


def dense_codes(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """int32 codes (-1 = null) into the sorted distinct values, and those values.

    The codes a dense rank gives, but only the distinct values are sorted (a hash join maps the
    rows to them): 0.7 s -> 0.15 s of CPU for a million first names.
    """
    # the values present only (most rows of a contact column are empty): 15-75% less time
    known = values.is_not_null()
    held = values.filter(known) if values.null_count() else values
    vocab = held.unique().sort()
    index = pl.DataFrame({"v": vocab, "i": np.arange(len(vocab), dtype=np.int32)})
    joined = pl.DataFrame({"v": held}).join(index, on="v", how="left", maintain_order="left")
    codes = joined.get_column("i").to_numpy().astype(np.int32)
    if held is values:
        return codes, vocab
    out = np.full(len(values), -1, dtype=np.int32)
    out[known.to_numpy()] = codes
    return out, vocab


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique's result by a sort and a mask.

    numpy 2.4's np.unique without return_* arguments takes a hash-table path that is ~90 times
    slower on 8M distinct int64 pair keys (8.4 s against 0.09 s).
    """
    out = np.sort(values)
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def distinct_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) by one argsort: 1.5-2x faster on millions of int64."""
    order = np.argsort(values)
    ranked = values[order]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = ranked[1:] != ranked[:-1]
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ranked[first], inverse


def _as_string(s: pl.Series) -> pl.Series:
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    # blank strings are missing values, not a shared value ""
    return s.str.strip_chars().replace("", None)


def _customer_counts(codes: np.ndarray, customer: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Distinct customers per code, and distinct (code, customer) holdings: one int64 key per row
    (code * span + customer offset) sorted and deduped, not a two-column frame unique."""
    ok = codes >= 0
    if not ok.any():
        return np.zeros(size, dtype=np.float64), 0.0
    held = customer[ok]
    low = int(held.min())
    span = int(held.max()) - low + 1
    if span > (1 << 62) // max(size, 1):  # ids too far apart to pack beside the code: rank them
        held, low = distinct_inverse(held)[1], 0
        span = int(held.max()) + 1
    key = sorted_distinct(codes[ok].astype(np.int64) * span + (held - low))
    counts = np.bincount(key // span, minlength=size).astype(np.float64)
    return counts, float(len(key))


def build_frame(
    df: pl.DataFrame, shared_min_holders: int, shared_min_customers: int, namesake_holders: int | None = None
) -> Frame:
    """Prepare the identities frame (row order preserved) for blocking and comparison."""
    customer = df.get_column("customer_id").cast(pl.Int64).to_numpy()
    return Frame(df, customer, shared_min_holders, shared_min_customers, namesake_holders=namesake_holders)
