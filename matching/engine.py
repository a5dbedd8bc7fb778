"""run_match: blocking, comparisons, model and customer-level suggestions in one call."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import polars as pl

from matching.attributes import prepare_attributes
from matching.blocking import Candidates, block
from matching.clusters import PrivateValues, private_value_floor, private_values
from matching.comparisons import Levels, compare
from matching.config import ConfigError, MatchConfig
from matching.conflicts import conflict_changes, lowered
from matching.frequency import Frame, build_frame
from matching.learning import LabelFit, learn_from_labels, stored_levels
from matching.linking import comparable_pairs, cross_source, source_codes
from matching.model import (
    ModelParameters,
    estimate_u,
    fit,
    identifier_scale,
    match_weights,
)
from matching.name_cells import calibrate_full_names, name_cells
from matching.namesakes import collision_items, collisions, fit_collision_bits
from matching.pairs import PairColumns, pair_columns, pairs_frame
from matching.phones import with_national_digits
from matching.suggestions import (
    SUGGESTION_SCHEMA,
    evidence_columns,
    evidence_hashes,
    evidence_json,
    suggestion_rows,
    with_evidence,
)

T = TypeVar("T")
REQUIRED = ("identity_id", "customer_id")
SHARED_VALUES_SCHEMA = {"field": pl.String, "value": pl.String, "customers": pl.Int64}


def widely_shared(frame: Frame, config: MatchConfig) -> pl.DataFrame:
    """field, value, customers of every compared value held by at least shared_min_customers customers."""
    parts = []
    for spec in config.active_comparisons():
        if not spec.shared_values or spec.column is None:
            continue
        enc = frame.col(spec.column, shared=True)
        many = np.flatnonzero(enc.customers >= config.shared_min_customers)
        if len(many):
            parts.append(
                pl.DataFrame(
                    {
                        "field": [spec.name] * len(many),
                        "value": [str(v) for v in enc.vocab[many]],
                        "customers": enc.customers[many].astype(np.int64),
                    },
                    schema=SHARED_VALUES_SCHEMA,
                )
            )
    if not parts:
        return pl.DataFrame(schema=SHARED_VALUES_SCHEMA)
    return pl.concat(parts).sort(["customers", "field", "value"], descending=[True, False, False])


@dataclass
class MatchResult:
    """Everything a match run produces (see matching/__init__.py for the columns)."""

    pairs: pl.DataFrame
    suggestions: pl.DataFrame
    rule_counts: pl.DataFrame
    model: ModelParameters
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # field, value, customers: values held by at least shared_min_customers customers
    shared_values: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SHARED_VALUES_SCHEMA))


def _ids(values: Any) -> np.ndarray:
    if values is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values, pl.DataFrame):
        values = values.get_column(values.columns[0])
    if isinstance(values, pl.Series):
        return values.drop_nulls().cast(pl.Int64).to_numpy()
    return np.asarray(list(values) if isinstance(values, Iterable) else [values], dtype=np.int64)


# threads for independent steps (1: all in the caller's thread); comparisons of PARALLEL_PAIRS
# pairs or more run one comparison per thread
WORKERS = os.cpu_count() or 1
PARALLEL_PAIRS = 100_000


def compare_all(frame: Frame, config: MatchConfig, li: np.ndarray, r: np.ndarray) -> list[Levels]:
    """Every active comparison over the pairs (li[i], r[i]) of frame rows."""
    return compare_sets(frame, config, [(li, r)])[0]


def compare_sets(
    frame: Frame, config: MatchConfig, sets: list[tuple[np.ndarray, np.ndarray]]
) -> list[list[Levels]]:
    """compare_all of each set of pairs, the sets' comparisons sharing the threads."""
    specs = config.active_comparisons()
    tasks = [(spec, li, r) for li, r in sets for spec in specs]
    workers = min(WORKERS, len(tasks))
    if sum(len(li) for li, _ in sets) < PARALLEL_PAIRS or workers < 2:
        done = [compare(spec, frame, li, r) for spec, li, r in tasks]
    else:
        # the frame's statistics are cached by then (prepare computes them), so comparisons only
        # read it; most of their work is numpy, polars and rapidfuzz, which release the GIL
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda task: compare(task[0], frame, task[1], task[2]), tasks))
    return [done[i * len(specs) : (i + 1) * len(specs)] for i in range(len(sets))]


class Probe:
    """Every comparison over no pairs (which fills the frame's encodings and statistics), taken
    from the front of the list by a background thread and from the back by the thread that
    joins it once blocking is done. Two comparisons may then derive one statistic at once: the
    same values twice, one kept."""

    def __init__(self, frame: Frame, specs: list[Any]) -> None:
        self.frame, self.specs = frame, specs
        self.out: list[Levels | None] = [None] * len(specs)
        self.lo, self.hi = 0, len(specs)
        self.lock = threading.Lock()

    def _take(self, front: bool) -> int | None:
        with self.lock:
            if self.lo >= self.hi:
                return None
            if front:
                self.lo += 1
                return self.lo - 1
            self.hi -= 1
            return self.hi

    def run(self, front: bool) -> None:
        """Compare the specs not yet taken, from the front or the back."""
        empty = np.zeros(0, dtype=np.int32)
        while (i := self._take(front)) is not None:
            self.out[i] = compare(self.specs[i], self.frame, empty, empty)

    def levels(self) -> list[Levels]:
        """The probe's levels, in the specs' order (after every run has returned)."""
        return [lv for lv in self.out if lv is not None]


def excluded_matrix(config: MatchConfig) -> np.ndarray:
    """(rules, comparisons) bool: comparisons a rule forces to agree, left out of that rule's EM stratum."""
    comps = config.active_comparisons()
    out = np.zeros((len(config.active_rules()), len(comps)), dtype=bool)
    for i, rule in enumerate(config.active_rules()):
        cols = rule.columns()
        explicit = set(rule.exclude_comparisons or [])
        for j, comp in enumerate(comps):
            out[i, j] = comp.name in explicit or bool(cols & set(comp.own_columns()))
    return out


def _random_pairs(
    frame: Frame, k: int, rng: np.random.Generator, source: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, frame.n, size=k, dtype=np.int64)
    b = rng.integers(0, frame.n, size=k, dtype=np.int64)
    # u is the agreement of pairs that could be compared: across sources only when link_only
    keep = (frame.customer[a] != frame.customer[b]) & cross_source(source, a, b)
    return a[keep].astype(np.int32), b[keep].astype(np.int32)


def cross_customer_pairs(frame: Frame) -> float:
    """Number of identity pairs whose identities belong to different customers."""
    sizes = np.unique(frame.customer, return_counts=True)[1].astype(np.float64)
    return frame.n * (frame.n - 1) / 2 - float((sizes * (sizes - 1) / 2).sum())


def solve_prior(weights: np.ndarray, all_pairs: float, start: float) -> float:
    """lambda with lambda * all_pairs = expected matches among the blocked pairs (M-step fixed point).

    Pairs outside the blocks count as non-matches (blocking is built to find nearly all).
    """
    lam = start
    buf = np.empty(len(weights))  # model.probability step by step in one buffer (millions of pairs)
    for _ in range(100):
        logit = np.log2(lam / (1 - lam))
        np.add(weights, logit, out=buf)
        np.clip(buf, -200, 200, out=buf)
        np.negative(buf, out=buf)
        np.exp2(buf, out=buf)
        np.add(1.0, buf, out=buf)
        np.divide(1.0, buf, out=buf)
        new = float(np.clip(buf.sum() / max(all_pairs, 1.0), 1e-15, 0.5))
        if abs(new - lam) <= 1e-4 * lam:
            return new
        lam = new
    return lam


def u_pairs(frame: Frame, config: MatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """The random cross-customer pairs u is estimated from (seeded: the same pairs every run)."""
    rng = np.random.default_rng(config.seed)
    across = source_codes(frame.df, config) if config.link_type == "link_only" else None
    return _random_pairs(frame, config.u_sample_pairs, rng, across)


def train(
    frame: Frame,
    config: MatchConfig,
    cand: Candidates,
    levels: list[Levels],
    u_levels: list[Levels] | None = None,
) -> ModelParameters:
    """Estimate u from random pairs and m, lambda by EM on (a sample of) the blocked pairs.

    `u_levels`: the comparisons of u_pairs, when already made (run_match makes them with the
    candidates').
    """
    across = source_codes(frame.df, config) if config.link_type == "link_only" else None
    if u_levels is None:
        u_levels = compare_all(frame, config, *u_pairs(frame, config))
    u_params = estimate_u(u_levels)
    # EM strata are each rule's own pairs (a pair found by two rules is in both), sampled uniformly
    strata = cand.by_rule
    if strata.height > config.em_max_pairs:
        strata = strata.sample(config.em_max_pairs, seed=config.seed)
    pick = strata.get_column("pos").to_numpy()
    rule_of = strata.get_column("rule").to_numpy().astype(np.int64)
    sample = [
        Levels(
            lv.name,
            lv.level_names,
            lv.neutral,
            lv.levels[pick],
            None if lv.tf is None else lv.tf[pick],
            lv.tf_level,
        )
        for lv in levels
    ]
    params, lam_r, iters, converged = fit(
        sample, rule_of, excluded_matrix(config), u_params, config.em_max_iterations, config.em_tolerance
    )
    rules = config.active_rules()
    # starting prior: expected matching pairs (credited to the first rule) over all pairs;
    # run_match then solves it exactly with every comparison (see solve_prior)
    counts = np.bincount(cand.rule.astype(np.int64), minlength=len(rules))
    all_pairs = comparable_pairs(frame.customer, across, across is not None)
    lam = float(np.clip((lam_r * counts).sum() / max(all_pairs, 1.0), 1e-12, 0.5))
    return ModelParameters(
        params, lam, frame.n, iters, converged, len(sample[0].levels) if sample else 0,
        len(u_levels[0].levels) if u_levels else 0, {r.name: float(x) for r, x in zip(rules, lam_r, strict=True)},
    )  # fmt: skip


@dataclass
class Prepared:
    """A run up to blocking: the prepared frame, the candidate pairs and what scoring them needs."""

    frame: Frame
    config: MatchConfig
    cand: Candidates
    model: ModelParameters | None
    notes: list[str]
    timings: dict[str, float]
    started: float
    focused: bool
    # labelled identity pairs (matching/learning.py): frame rows, is_match, weight; and the labels
    # whose identities are not in the frame, with their stored comparison levels (or none)
    label_rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    label_stored: pl.DataFrame | None = None
    u_levels: list[Levels] | None = None  # the comparisons of u_pairs, made beside the candidates'


def prepare(
    identities: pl.DataFrame,
    settings: MatchConfig | Any = None,
    changed_ids: pl.Series | Iterable[int] | None = None,
    model: ModelParameters | dict[str, Any] | None = None,
    excluded_customer_ids: pl.Series | Iterable[int] | None = None,
    labels: pl.DataFrame | None = None,
) -> Prepared:
    """Check the input, build the frame and block; the frame's statistics are computed here, once.

    `labels` (identity_id_l, identity_id_r, is_match, optional weight and levels): agents'
    decisions the model learns from (matching/learning.py).

    Scoring partitions (`score_partition`) then only does per-pair work, so a worker that
    receives the prepared frame repeats none of the whole-frame encoding.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    config = settings if isinstance(settings, MatchConfig) else MatchConfig.from_settings(settings)
    # national significant digits beside the E.164 form (matching/phones.py): derived, not stored
    identities = with_national_digits(identities)
    missing = [c for c in REQUIRED if c not in identities.columns]
    if missing:
        raise ConfigError(f"identities frame lacks required column(s) {missing}")
    identities = prepare_attributes(identities, config)  # composite columns, folded extras, dates
    config.check_columns(identities.columns)
    if isinstance(model, dict):
        model = ModelParameters.from_dict(model)
    excluded = _ids(excluded_customer_ids)
    df = identities
    if len(excluded):
        df = df.filter(~pl.col("customer_id").is_in(pl.Series(excluded, dtype=pl.Int64).implode()))
    frame = build_frame(df, config.shared_min_holders, config.shared_min_customers, config.namesake_holders)
    changed = None
    if changed_ids is not None:
        ids = pl.Series(_ids(changed_ids), dtype=pl.Int64)
        changed = df.get_column("identity_id").cast(pl.Int64).is_in(ids.implode()).to_numpy()
    timings["prepare"] = time.perf_counter() - t0
    t = time.perf_counter()
    # incremental with a stored model: only the rows in candidate pairs need codes and per-row
    # values (their statistics still count every row), which skips most of the frame's encoding
    focused = changed is not None and model is not None
    empty = np.zeros(0, dtype=np.int32)
    with ThreadPoolExecutor(1) as pool:
        # otherwise the whole frame's encodings and statistics do not depend on the candidates:
        # computed on a second core while blocking runs (both are mostly numpy and polars, which
        # release the GIL)
        later = focused or WORKERS < 2
        probe_all = Probe(frame, config.active_comparisons())
        background = None if later else pool.submit(probe_all.run, True)
        cand = block(
            frame.df,
            config.active_rules(),
            config.max_block_size,
            frame.customer,
            changed,
            source=source_codes(frame.df, config),
            link_only=config.link_type == "link_only",
        )
        timings["blocking"] = time.perf_counter() - t
        t = time.perf_counter()
        notes: list[str] = []
        label_rows, label_stored = _label_rows(frame, labels)
        if focused:
            extra = [] if label_rows is None else [label_rows[0], label_rows[1]]
            frame.set_focus(np.concatenate([cand.left, cand.right, *extra]))
        # fills the frame's encodings and statistics
        if background is None:
            probe = compare_all(frame, config, empty, empty)
        else:
            probe_all.run(False)  # blocking done: this thread takes the comparisons left
            background.result()
            probe = probe_all.levels()
    if model is not None and not model.fits(probe):
        notes.append("stored model does not fit the configured comparisons: refitted from scratch")
        model = None
        if focused:  # training compares random pairs of any rows
            frame.set_focus(None)
            focused = False
            compare_all(frame, config, empty, empty)
    # with the statistics computed beside blocking, what they took beyond it
    timings["statistics"] = time.perf_counter() - t
    return Prepared(frame, config, cand, model, notes, timings, t0, focused, label_rows, label_stored)


def _label_rows(
    frame: Frame, labels: pl.DataFrame | None
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, pl.DataFrame | None]:
    """Labels split into those whose two identities are frame rows (re-compared with this
    configuration) and the others (kept with their stored levels, when given)."""
    if labels is None or labels.height == 0:
        return None, None
    from matching.learning import latest_labels

    latest = latest_labels(labels)
    index = pl.DataFrame(
        {
            "identity_id": frame.df.get_column("identity_id").cast(pl.Int64),
            "_row": np.arange(frame.n, dtype=np.int32),
        }
    )
    joined = latest.join(
        index.rename({"identity_id": "identity_id_l", "_row": "_row_l"}), on="identity_id_l", how="left"
    ).join(index.rename({"identity_id": "identity_id_r", "_row": "_row_r"}), on="identity_id_r", how="left")
    inside = joined.filter(pl.col("_row_l").is_not_null() & pl.col("_row_r").is_not_null())
    outside = joined.filter(pl.col("_row_l").is_null() | pl.col("_row_r").is_null()).drop("_row_l", "_row_r")
    rows = (
        inside.get_column("_row_l").to_numpy().astype(np.int32),
        inside.get_column("_row_r").to_numpy().astype(np.int32),
        inside.get_column("is_match").to_numpy().astype(bool),
        inside.get_column("weight").to_numpy().astype(np.float64),
    )
    return rows, outside


def partition(prepared: Prepared, partitions: int) -> list[np.ndarray]:
    """Candidate positions split by a hash of the left identity id: `partitions` disjoint index arrays."""
    ids = prepared.frame.df.get_column("identity_id").cast(pl.Int64).to_numpy()
    left = ids[prepared.cand.left].astype(np.uint64)
    # Fibonacci hashing spreads consecutive ids (a new batch) over every partition
    bucket = ((left * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) % np.uint64(max(partitions, 1))
    return [np.flatnonzero(bucket == np.uint64(p)) for p in range(max(partitions, 1))]


def partition_payload(prepared: Prepared, positions: np.ndarray) -> tuple[Frame, np.ndarray, np.ndarray]:
    """What scoring one partition needs: the frame cut to its pairs' rows, and the pairs in those rows.

    A worker receives rows in proportion to its pairs, not the whole frame.
    """
    li, r = prepared.cand.left[positions], prepared.cand.right[positions]
    rows = np.unique(np.concatenate([li, r]))
    local_l = np.searchsorted(rows, li).astype(np.int32)
    local_r = np.searchsorted(rows, r).astype(np.int32)
    return prepared.frame.subset(rows), local_l, local_r


def score_partition(frame: Frame, config: MatchConfig, li: np.ndarray, r: np.ndarray) -> list[Levels]:
    """Comparison levels of one partition's pairs (pure: no store, no model)."""
    return compare_all(frame, config, li, r)


def _take(values: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, np.nan) if values is None else values


def gather_levels(parts: list[list[Levels]], positions: list[np.ndarray], total: int) -> list[Levels]:
    """Reassemble partition results in candidate order (the unpartitioned run's order)."""
    order = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    inverse = np.empty(total, dtype=np.int64)
    inverse[order] = np.arange(len(order))
    out = []
    for c, first in enumerate(parts[0]):
        column = [part[c] for part in parts]
        levels = np.concatenate([lv.levels for lv in column])[inverse]
        has_tf = any(lv.tf is not None for lv in column)
        tf = np.concatenate([_take(lv.tf, len(lv.levels)) for lv in column])[inverse] if has_tf else None
        has_shared = any(lv.shared_count is not None for lv in column)
        shared = (
            np.concatenate([_take(lv.shared_count, len(lv.levels)) for lv in column])[inverse]
            if has_shared
            else None
        )
        out.append(
            Levels(
                first.name,
                first.level_names,
                first.neutral,
                levels,
                tf,
                first.tf_level,
                shared,
                first.u_exact,
            )
        )
    return out


def run_match(
    identities: pl.DataFrame,
    settings: MatchConfig | Any = None,
    changed_ids: pl.Series | Iterable[int] | None = None,
    model: ModelParameters | dict[str, Any] | None = None,
    excluded_customer_ids: pl.Series | Iterable[int] | None = None,
    partitions: int = 1,
    labels: pl.DataFrame | None = None,
) -> MatchResult:
    """Match identities (optionally only pairs touching `changed_ids`); see matching/__init__.py.

    `partitions` > 1 scores the candidate pairs in that many hash partitions, as the match flow
    does on a Dask cluster; the result is identical.
    """
    prepared = prepare(identities, settings, changed_ids, model, excluded_customer_ids, labels)
    t = time.perf_counter()
    cand = prepared.cand
    if partitions > 1:
        positions = partition(prepared, partitions)
        parts = []
        for pos in positions:
            frame, li, r = partition_payload(prepared, pos)
            parts.append(score_partition(frame, prepared.config, li, r))
        levels = gather_levels(parts, positions, len(cand.left))
    elif prepared.model is None:
        # the random pairs u is estimated from are compared with the candidates, on the same
        # threads, instead of at the start of training (beside the model-free work of finish)
        frame, config = prepared.frame, prepared.config
        levels, prepared.u_levels = compare_sets(
            frame, config, [(cand.left, cand.right), u_pairs(frame, config)]
        )
    else:
        levels = score_partition(prepared.frame, prepared.config, cand.left, cand.right)
    prepared.timings["comparisons"] = time.perf_counter() - t
    return finish(prepared, levels)


def finish(prepared: Prepared, levels: list[Levels]) -> MatchResult:
    """Model (fit or reuse), weights and customer-level suggestions from the gathered levels."""
    with ThreadPoolExecutor(1) as pool:
        # what needs no model (the namesake flags, the pairs frame's ids and levels) is computed on
        # a second core while the model is fitted (EM is single-threaded numpy)
        frame, config, cand = prepared.frame, prepared.config, prepared.cand
        cells = _beside(pool, name_cells, frame, config, levels, cand.left, cand.right)
        namesakes = _beside(pool, collisions, frame, config, levels, cand.left, cand.right)
        columns = _beside(pool, pair_columns, frame, config, cand, levels)
        private = _beside(pool, private_values, frame, config, levels)
        return _finish(prepared, levels, pool, cells, namesakes, columns, private)


def _beside(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """fn(*args) started on the pool's thread (with cores to spare), its result when called.

    The pool has one thread: what is submitted runs in order, so a later task may read an
    earlier one's result. On one core fn runs when its result is first asked for.
    """
    if WORKERS >= 2:
        return pool.submit(fn, *args).result
    done: list[T] = []

    def later() -> T:
        if not done:
            done.append(fn(*args))
        return done[0]

    return later


def _finish(
    prepared: Prepared,
    levels: list[Levels],
    pool: ThreadPoolExecutor,
    cells: Callable[[], np.ndarray],
    namesakes: Callable[[], tuple[np.ndarray, np.ndarray]],
    columns: Callable[[], PairColumns],
    private: Callable[[], dict[str, PrivateValues]],
) -> MatchResult:
    frame, config, cand, model = prepared.frame, prepared.config, prepared.cand, prepared.model
    timings, notes = dict(prepared.timings), list(prepared.notes)
    t = time.perf_counter()
    trained = model is None
    if model is None:
        model = train(frame, config, cand, levels, prepared.u_levels)
    elif config.refit_on_incremental and len(cand.left):
        params, _lam_r, iters, conv = fit(
            levels, cand.rule.astype(np.int64), excluded_matrix(config), model.comparisons, 5,
            config.em_tolerance, init=model.comparisons,
        )  # fmt: skip
        model = ModelParameters(
            params,
            model.lambda_,
            model.n_identities,
            iters,
            conv,
            len(cand.left),
            model.u_sample_pairs,
            model.rule_lambdas,
        )
    if model.prior_shift or any(c.shift for c in model.comparisons):
        model = unlearned(model)  # a stored model's label shifts are fitted again from the labels
    fields, total = match_weights(levels, model.comparisons, 0.5)  # 0.5: no prior yet
    if trained:
        link_only = config.link_type == "link_only"
        source = source_codes(frame.df, config) if link_only else None
        all_pairs = comparable_pairs(frame.customer, source, link_only)
        model.lambda_ = solve_prior(total, all_pairs, model.lambda_)
        before = model.comparisons
        model = identifier_scale(model, config, rule_pairs(cand, config))
        # only the comparisons identifier_scale changed are weighed again
        fields, total = match_weights(levels, model.comparisons, 0.5, previous=(before, fields))
        model.lambda_ = solve_prior(total, all_pairs, model.lambda_)
    timings["model"] = time.perf_counter() - t
    t = time.perf_counter()
    learned = learn(prepared, model)
    if learned is not None:
        model = learned
        # the learned weight of a level is its unsupervised weight plus its shift: add the shifts
        # instead of weighing every pair again (a tenth of the time at 1M identities)
        for c, (lv, learnt) in enumerate(zip(levels, model.comparisons, strict=True)):
            if learnt.shift:
                fields[c] += learnt.shifts().astype(np.float32)[lv.levels]
        total = fields.sum(axis=0, dtype=np.float64)
        notes.append(learning_note(model.labels))
    total = total + model.prior_bits(frame.n)
    # a full-name agreement weighs as often as its cell's names are one person on this data
    total = calibrate_full_names(
        frame, config, levels, model, fields, total, cand.left, cand.right, trained, cells()
    )
    timings["learning"] = time.perf_counter() - t
    t = time.perf_counter()
    # a contact value private to a few customers, as often one person's as the data shows
    # (matching/clusters.py)
    floor, private_items = private_value_floor(
        frame, config, levels, fields, cand.left, cand.right, private()
    )
    # a full name two customers hold on one channel is at least two people's (matching/namesakes.py)
    agree, flag = namesakes()
    if trained:
        model.namesake_bits = fit_collision_bits(total, agree, flag)
    shifted = total + model.namesake_bits * flag
    raised = np.maximum(shifted, floor)
    # the cluster evidence items (Python strings) on the second thread while the pairs frame and
    # the suggestion rows are built; they are read for the suggestions' best pairs only
    cluster_items = _beside(
        pool,
        _cluster_items,
        frame,
        config,
        cand,
        flag & (shifted >= floor),
        model.namesake_bits,
        private_items,
    )
    pairs = pairs_frame(columns(), config, levels, fields, raised)
    # match weight = prior + field weights + cluster_weight (the cluster evidence's part)
    pairs = pairs.with_columns(
        pl.Series("cluster_weight", (raised - total).astype(np.float32)),
        pl.Series("_pair", np.arange(len(raised), dtype=np.int64)),
    )
    specs = config.active_comparisons()
    head, best = suggestion_rows(
        pairs, specs, config.review_threshold, config.auto_approve_threshold, config.possible_floor
    )
    suggestions = pl.DataFrame(schema=SUGGESTION_SCHEMA)
    if head.height:
        best = best.with_columns(cluster_items().gather(best.get_column("_pair")).alias("cluster_evidence"))
        # the evidence's values and JSON (polars) are built on the second thread while the channel
        # walk (Python) runs, then its hashes here while the JSON is finished there
        evidence = _beside(pool, evidence_columns, best, frame.df, specs)
        text = _beside(pool, lambda: evidence_json(evidence(), specs))
        # approving a suggestion joins two clusters: one channel held twice counts against it
        changed = conflict_changes(head, frame.df, config, model)
        hashes = evidence_hashes(evidence(), specs)
        suggestions = lowered(with_evidence(head, pl.DataFrame([text(), hashes])), changed, config)
    pairs = pairs.drop("_row_l", "_row_r", "_shared_hit", "_pair")
    shared_values = widely_shared(frame, config)
    for row in shared_values.head(5).iter_rows(named=True):
        notes.append(
            f"{row['field']} value {row['value']!r} is held by {row['customers']:,} customers: "
            "treated as shared (no evidence), one finding instead of a suggestion per pair"
        )
    timings["suggestions"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - prepared.started
    return MatchResult(pairs, suggestions, cand.rule_counts, model, timings, notes, shared_values)


def _cluster_items(
    frame: Frame, config: MatchConfig, cand: Candidates, flagged: np.ndarray, bits: float, private: pl.Series
) -> pl.Series:
    """Per pair: its cluster evidence item, the namesakes' (matching/namesakes.py) or else the private value's."""
    items = collision_items(frame, config, cand.left, cand.right, flagged, bits)
    return pl.DataFrame({"n": items, "p": private}).select(pl.coalesce("n", "p")).to_series()


def rule_pairs(cand: Candidates, config: MatchConfig) -> dict[str, float]:
    """Pairs each blocking rule found (a pair found by two rules counts in both)."""
    names = [r.name for r in config.active_rules()]
    counts = cand.by_rule.group_by("rule").len()
    return {names[int(r)]: float(n) for r, n in counts.iter_rows()}


def learning_note(summary: dict[str, Any]) -> str:
    """One line on what the model learned from agents' decisions."""
    text = (
        f"learned from {summary['labels']:,} labelled pairs of agents' decisions "
        f"({summary['matches']:,} match, {summary['non_matches']:,} non-match"
    )
    if summary.get("contradicted"):
        text += f"; {summary['contradicted']:,} contradicted by the rest, down-weighted"
    if summary.get("not_usable"):
        text += f"; {summary['not_usable']:,} not usable: identities gone and the configuration changed"
    return text + ")"


def unlearned(model: ModelParameters) -> ModelParameters:
    """The model without label shifts (the unsupervised part)."""
    from dataclasses import replace

    plain = [replace(c, shift=[]) for c in model.comparisons]
    return replace(model, comparisons=plain, prior_shift=0.0, labels={})


def learn(prepared: Prepared, model: ModelParameters) -> ModelParameters | None:
    """The model with label shifts fitted to the run's labelled pairs (None without usable labels)."""
    from dataclasses import replace

    rows, stored = prepared.label_rows, prepared.label_stored
    if rows is None:
        return None
    base = model
    level_parts, y_parts, w_parts = [], [], []
    left, right, is_match, weight = rows
    if len(left):
        level_parts.append(compare_all(prepared.frame, prepared.config, left, right))
        y_parts.append(is_match)
        w_parts.append(weight)
    dropped = 0
    if stored is not None and stored.height:
        kept, stored_lv, dropped = stored_levels(stored, base.comparisons)
        if kept.height:
            level_parts.append(stored_lv)
            y_parts.append(kept.get_column("is_match").to_numpy().astype(bool))
            w_parts.append(kept.get_column("weight").to_numpy().astype(np.float64))
    if not y_parts:
        return None
    levels = [_concat_levels([part[c] for part in level_parts]) for c in range(len(base.comparisons))]
    fit: LabelFit = learn_from_labels(
        levels, np.concatenate(y_parts), np.concatenate(w_parts), base.comparisons,
        base.prior_bits(prepared.frame.n),
    )  # fmt: skip
    summary = {
        "labels": fit.labels_used,
        "matches": fit.matches,
        "non_matches": fit.non_matches,
        "contradicted": fit.contradicted,
        "not_usable": dropped,
        "agreement_before": fit.agreement_before,
        "agreement_after": fit.agreement_after,
        "prior_shift_bits": fit.prior_shift,
    }
    return replace(base, comparisons=fit.comparisons, prior_shift=fit.prior_shift, labels=summary)


def _concat_levels(parts: list[Levels]) -> Levels:
    first = parts[0]
    if len(parts) == 1:
        return first
    tf = None
    if any(p.tf is not None for p in parts):
        tf = np.concatenate([_take(p.tf, len(p.levels)) for p in parts])
    return Levels(
        first.name,
        first.level_names,
        first.neutral,
        np.concatenate([p.levels for p in parts]),
        tf,
        first.tf_level,
        None,
        first.u_exact,
    )
