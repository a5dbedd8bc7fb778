"""Learning from agents' decisions: labelled pairs anchor the per-level weights of the model.

A label is an identity pair an agent decided (approved or merged by hand: a match; rejected or
undone: a non-match). Each match run compares the labelled pairs again with the current
configuration (so a changed configuration re-scores old labels instead of dropping them) and
fits, on top of the unsupervised Fellegi-Sunter model, one shift per comparison level plus one
shift of the prior (log2 odds), by a penalised logistic fit on the same comparison vectors:

    logit2 P(match) = prior_bits + shift_0 + sum_c (log2(m_c/u_c)[level] + shift_c[level])

so weights stay per field and per level, and the evidence stays explainable (the shift is part of
each level's weight; `ModelParameters.weights_table` shows both). Why a discriminative fit and
not labels as fixed EM responsibilities: agents decide the pairs the queue shows them, i.e. pairs
selected by their score, which biases any m estimated from them (all approved pairs agree on
something); P(match | comparison vector) is unbiased under a selection that depends only on the
comparison vector, so the fit may use exactly the pairs agents decided.

Robustness to wrong decisions (see the constants): a Gaussian prior pulls every shift to 0
(a label that agrees with the model exerts almost no pull: its gradient is p - y ~ 0), each
level's shift is capped, weights stay monotone across a comparison's levels with disagreement
never positive, and each decision counts by the probability that the agent was right given the fit
(a label-noise model: a decision against a model sure of the opposite pulls almost nothing).
With no labels, nothing changes: every shift is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from matching.comparisons import Levels
from matching.model import ComparisonParams

LABEL_SCHEMA = {
    "identity_id_l": pl.Int64,
    "identity_id_r": pl.Int64,
    "is_match": pl.Boolean,
    "weight": pl.Float64,
}

# Constants (where they come from):
# - LEVEL_PRECISION: the Gaussian prior's precision on a level shift, per bit^2. A label's pull on
#   a shift is at most ln 2 ~ 0.69 (logistic gradient), so k wrong labels alone move a level by at
#   most ~0.69 k / LEVEL_PRECISION bits: 3 wrong ones ~0.5 bit, while hundreds of right ones move it
#   to what the data say. Chosen on bench/learning_bench.py (5% wrong decisions), not fitted.
# - PRIOR_PRECISION: the same for the shift of the prior; looser, because the prior is what the
#   unsupervised model identifies worst (it assumes blocking finds every match) and every label
#   informs it.
# - LEVEL_CAP_BITS / PRIOR_CAP_BITS: the farthest labels may move a level's weight / the prior.
#   A level's unsupervised weight is within a few bits of its truth on the project's benchmarks
#   (README "Matching quality"); the prior can be off by the gap between the review threshold and
#   the best-F1 threshold (0.8 vs 0.01 at 100k: ~8.6 bits).
# - AGENT_ERROR_RATE: the share of decisions assumed wrong (a symmetric label-noise model, Copas
#   1988; Frenay & Verleysen 2014): a label's pull is weighted by the probability that the agent
#   was right given the fit, so a decision against a model that is sure of the opposite (the
#   model's p of the decided outcome well below the error rate) is taken for a mistake and pulls
#   almost nothing, while decisions near the boundary count fully. 5% is the robustness
#   target and of the order of the disagreement between human labellers reported for record
#   linkage clerical review (a few percent).
# - CONTRADICTED_P: a label whose outcome the fitted model still gives below 5% is reported as
#   "contradicted" (counted, shown in the report; its weight is already discounted by the above).
LEVEL_PRECISION = 4.0
PRIOR_PRECISION = 1.0
LEVEL_CAP_BITS = 4.0
PRIOR_CAP_BITS = 10.0
AGENT_ERROR_RATE = 0.05
CONTRADICTED_P = 0.05
NOISE_ROUNDS = 8
NEWTON_STEPS = 25
LN2 = float(np.log(2.0))


@dataclass
class LabelFit:
    """What learning from labels produced: the shifted comparisons, the prior shift and counts."""

    comparisons: list[ComparisonParams]
    prior_shift: float
    labels_used: int
    matches: int
    non_matches: int
    contradicted: int
    agreement_before: float | None = None  # share of labels the unsupervised model gets right at 0.5
    agreement_after: float | None = None
    notes: list[str] = field(default_factory=list)


def empty_labels() -> pl.DataFrame:
    """A label frame with no rows (the schema `learn_from_labels` expects)."""
    return pl.DataFrame(schema=LABEL_SCHEMA)


def _base_weights(params: ComparisonParams) -> np.ndarray:
    """log2(m/u) per level without any label shift."""
    return replace(params, shift=[]).log2_bf()


def _monotone_nonincreasing(values: np.ndarray) -> np.ndarray:
    """The closest (least squares) non-increasing sequence: pool adjacent violators."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    return np.concatenate([np.full(int(c), s / c) for s, c in blocks]) if blocks else values


def _project(shift: np.ndarray, base: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Shifts capped, with the shifted weights monotone over the active levels and disagreement <= 0."""
    out = np.clip(shift, -LEVEL_CAP_BITS, LEVEL_CAP_BITS)
    idx = np.flatnonzero(active)
    if len(idx) == 0:
        return np.zeros_like(shift)
    weights = _monotone_nonincreasing(base[idx] + out[idx])
    weights[-1] = min(weights[-1], 0.0, base[idx][-1] + LEVEL_CAP_BITS)
    new = np.zeros_like(shift)
    new[idx] = np.clip(weights - base[idx], -LEVEL_CAP_BITS, LEVEL_CAP_BITS)
    return new


def _newton(
    x_codes: np.ndarray,
    base_bits: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    n_params: int,
    precision: np.ndarray,
    project: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Penalised logistic fit of the shifts theta (bits); x_codes (n, k) index theta (-1: none)."""
    theta = np.zeros(n_params)
    rows = np.repeat(np.arange(len(y)), x_codes.shape[1])
    cols = x_codes.ravel()
    keep = cols >= 0
    rows, cols = rows[keep], cols[keep]

    def objective(th: np.ndarray) -> float:
        z = LN2 * (base_bits + np.bincount(rows, weights=th[cols], minlength=len(y)))
        return float((weight * (np.logaddexp(0.0, z) - y * z)).sum() + 0.5 * (precision * th * th).sum())

    loss = objective(theta)
    for _ in range(NEWTON_STEPS):
        z = LN2 * (base_bits + np.bincount(rows, weights=theta[cols], minlength=len(y)))
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        grad = LN2 * np.bincount(cols, weights=(weight * (p - y))[rows], minlength=n_params)
        grad += precision * theta
        curv = LN2 * LN2 * weight * p * (1 - p)
        hess = np.zeros((n_params, n_params))
        # X^T diag(curv) X over the one-hot codes of each label (a few dozen parameters)
        for a in range(x_codes.shape[1]):
            ca = x_codes[:, a]
            for b in range(x_codes.shape[1]):
                cb = x_codes[:, b]
                ok = (ca >= 0) & (cb >= 0)
                np.add.at(hess, (ca[ok], cb[ok]), curv[ok])
        hess[np.diag_indices(n_params)] += precision
        step = np.linalg.solve(hess, grad)
        # far from the optimum (labels the model puts at p ~ 0.001) the curvature is tiny and a
        # full Newton step overshoots: halve it until the penalised loss goes down
        alpha, new, new_loss = 1.0, theta, loss
        for _ in range(30):
            new = project(theta - alpha * step)
            new_loss = objective(new)
            if new_loss <= loss:
                break
            alpha /= 2
        else:
            return theta
        done = float(np.abs(new - theta).max()) < 1e-4
        theta, loss = new, new_loss
        if done:
            break
    return theta


def learn_from_labels(
    levels: list[Levels],
    is_match: np.ndarray,
    weight: np.ndarray,
    params: list[ComparisonParams],
    prior_bits: float,
) -> LabelFit:
    """Fit per-level weight shifts and a prior shift to labelled pairs (their comparison levels)."""
    y = np.asarray(is_match, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    plain = [replace(p, shift=[]) for p in params]
    n = len(y)
    if n == 0:
        return LabelFit(plain, 0.0, 0, 0, 0, 0)
    from matching.model import match_weights

    fields, _ = match_weights(levels, plain, 0.5)
    base_bits = fields.sum(axis=0, dtype=np.float64) + prior_bits
    # parameter 0 is the prior shift; then one per active level of each comparison
    offsets, n_params = [], 1
    for p in plain:
        offsets.append(n_params)
        n_params += len(p.levels)
    codes = np.full((n, len(levels) + 1), -1, dtype=np.int64)
    codes[:, 0] = 0
    for c, (lv, p) in enumerate(zip(levels, plain, strict=True)):
        lvl = lv.levels.astype(np.int64)
        codes[:, c + 1] = np.where(np.asarray(p.neutral)[lvl], -1, offsets[c] + lvl)
    precision = np.full(n_params, LEVEL_PRECISION)
    precision[0] = PRIOR_PRECISION
    bases = [_base_weights(p) for p in plain]
    actives = [~np.asarray(p.neutral) for p in plain]

    def project(theta: np.ndarray) -> np.ndarray:
        out = theta.copy()
        out[0] = float(np.clip(out[0], -PRIOR_CAP_BITS, PRIOR_CAP_BITS))
        for c, p in enumerate(plain):
            sl = slice(offsets[c], offsets[c] + len(p.levels))
            out[sl] = _project(out[sl], bases[c], actives[c])
        return out

    # EM over "which decisions are wrong": each label's target is the probability that the agent
    # was right given the current fit, so a decision the model is sure is wrong pulls (almost) nothing
    theta = np.zeros(n_params)
    target = y.copy()
    for round_ in range(NOISE_ROUNDS):
        fitted = _probabilities(codes, base_bits, theta)
        p_y = np.where(y == 1, fitted, 1 - fitted)
        right = (1 - AGENT_ERROR_RATE) * p_y / ((1 - AGENT_ERROR_RATE) * p_y + AGENT_ERROR_RATE * (1 - p_y))
        new_target = np.where(y == 1, right, 1 - right)
        if round_ > 0 and float(np.abs(new_target - target).max()) < 1e-3:
            break
        target = new_target
        theta = _newton(codes, base_bits, target, weight, n_params, precision, project)
    fitted = _probabilities(codes, base_bits, theta)
    p_y = np.where(y == 1, fitted, 1 - fitted)
    contradicted = p_y < CONTRADICTED_P
    shifted = [
        replace(p, shift=theta[offsets[c] : offsets[c] + len(p.levels)].round(6).tolist())
        for c, p in enumerate(plain)
    ]
    before = 1.0 / (1.0 + np.exp2(-np.clip(base_bits, -200, 200)))
    return LabelFit(
        shifted,
        round(float(theta[0]), 6),
        n,
        int(y.sum()),
        int(n - y.sum()),
        int(contradicted.sum()),
        float(((before >= 0.5) == (y == 1)).mean()),
        float(((fitted >= 0.5) == (y == 1)).mean()),
    )


def _probabilities(codes: np.ndarray, base_bits: np.ndarray, theta: np.ndarray) -> np.ndarray:
    shift = np.where(codes >= 0, theta[np.maximum(codes, 0)], 0.0).sum(axis=1)
    return 1.0 / (1.0 + np.exp2(-np.clip(base_bits + shift, -200, 200)))


def latest_labels(labels: pl.DataFrame) -> pl.DataFrame:
    """One label per identity pair (ordered l < r): the last decision on it wins (an undo after an approve)."""
    if labels.height == 0:
        return empty_labels()
    lo = pl.min_horizontal("identity_id_l", "identity_id_r")
    hi = pl.max_horizontal("identity_id_l", "identity_id_r")
    weight = pl.col("weight") if "weight" in labels.columns else pl.lit(1.0)
    extra = [c for c in labels.columns if c not in LABEL_SCHEMA]  # stored levels, provenance
    out = labels.with_row_index("_order").select(
        lo.cast(pl.Int64).alias("identity_id_l"),
        hi.cast(pl.Int64).alias("identity_id_r"),
        pl.col("is_match").cast(pl.Boolean),
        weight.cast(pl.Float64).alias("weight"),
        *extra,
        "_order",
    )
    out = out.filter(pl.col("identity_id_l") != pl.col("identity_id_r"))
    out = out.sort("_order").unique(["identity_id_l", "identity_id_r"], keep="last", maintain_order=True)
    return out.drop("_order")


def informative_first(
    suggestions: pl.DataFrame, rule: str = "rule", weight: str = "match_weight"
) -> pl.DataFrame:
    """Suggestions ordered most informative first: the most uncertain (|match weight| smallest, p
    nearest 0.5) of each blocking rule in turn, so the first decisions cover every rule.

    The store's queue (`store.suggestions.INFORMATIVE_ORDER`) orders the same way.
    """
    if suggestions.height == 0:
        return suggestions
    return (
        suggestions.with_columns(pl.col(weight).abs().alias("_uncertainty"))
        .with_columns(pl.col("_uncertainty").rank("ordinal").over(pl.col(rule).fill_null("")).alias("_turn"))
        .sort(["_turn", "_uncertainty"], maintain_order=True)
        .drop("_turn", "_uncertainty")
    )


def stored_levels(
    labels: pl.DataFrame, params: list[ComparisonParams]
) -> tuple[pl.DataFrame, list[Levels], int]:
    """Labels whose identities are gone, with the comparison levels stored when they were decided.

    `levels` holds a JSON object {comparison: level}; a comparison it does not name was missing
    (level 0). A label without stored levels, or naming a level this model does not have (the
    configuration changed since), cannot be used: (usable labels, their levels, how many dropped).
    """
    import json

    if "levels" not in labels.columns or labels.height == 0:
        return labels.head(0), [_no_levels(p) for p in params], labels.height
    if "weight" not in labels.columns:
        labels = labels.with_columns(pl.lit(1.0).alias("weight"))
    keep, codes = [], []
    for i, text in enumerate(labels.get_column("levels").to_list()):
        if not text:
            continue
        stored = json.loads(text) if isinstance(text, str) else dict(text)
        row = []
        for p in params:
            name = stored.get(p.name)
            if name is None:
                row.append(0)
            elif name in p.levels:
                row.append(p.levels.index(name))
            else:
                break
        else:
            keep.append(i)
            codes.append(row)
    matrix = np.asarray(codes, dtype=np.int8).reshape(len(codes), len(params))
    levels = [
        Levels(p.name, list(p.levels), list(p.neutral), matrix[:, c].copy(), None, p.tf_level)
        for c, p in enumerate(params)
    ]
    return labels[keep], levels, labels.height - len(keep)


def _no_levels(p: ComparisonParams) -> Levels:
    return Levels(p.name, list(p.levels), list(p.neutral), np.zeros(0, dtype=np.int8), None, p.tf_level)
