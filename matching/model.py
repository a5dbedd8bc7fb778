"""Fellegi-Sunter model: u from random pairs, m and the prior by EM on blocked pairs, weights.

Scoring: match_weight = log2(lambda / (1 - lambda)) + sum of per-field log2(m / u); the
probability is 2^w / (1 + 2^w). For a term-frequency level (exact on a name, email, ...) u
is replaced by the frequency of the agreed value, so "smith" weighs less than "zebulon".
Neutral levels (missing, n/a, shared value, swapped surname) weigh 0.

EM (unsupervised): pairs are stratified by the blocking rule that found them. Within a
rule's pairs the fields the rule blocked on agree by construction, so they say nothing about
match status there and are left out of that stratum's likelihood (Splink does the same, one
training rule at a time; here all strata are fitted jointly). Each stratum has its own share
of matches lambda_r; m is shared. u stays fixed from random pairs. The E-step uses the
term-frequency u of each pair's agreed value, which sharpens m for names and emails.
After EM, an identifier's term-frequency u (phone, email, handle: a blocking rule on the column
alone) is scaled by the share of that rule's pairs that EM finds are not matches (`identifier_scale`).
The prior for a random pair is the expected number of matching pairs among the blocked pairs
(sum of lambda_r * pairs_r) over all cross-customer pairs, assuming blocking finds nearly all.

Agents' decisions (matching/learning.py) add a shift per level (`ComparisonParams.shift`) and to
the prior (`ModelParameters.prior_shift`), fitted after EM; EM itself never sees them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from matching.comparisons import Levels
from matching.config import MatchConfig
from matching.frequency import distinct_inverse


@dataclass
class ComparisonParams:
    """m and u per level of one comparison."""

    name: str
    levels: list[str]
    m: list[float]
    u: list[float]
    neutral: list[bool]
    tf_level: int | None = None
    # per level, bits added to log2(m/u) by learning from agents' decisions (matching/learning.py);
    # empty: no labels (the unsupervised model)
    shift: list[float] = field(default_factory=list)
    # the term-frequency u of the exact level times this: the share of exact agreements that are
    # not matches (see engine.identifier_scale); 1.0 = the plain term frequency
    tf_scale: float = 1.0

    def shifts(self) -> np.ndarray:
        """The label shift per level (zeros without labels)."""
        return np.asarray(self.shift, dtype=np.float64) if self.shift else np.zeros(len(self.levels))

    def log2_bf(self) -> np.ndarray:
        """Per-level match weight log2(m/u) plus the label shift, 0 on neutral levels."""
        m, u = np.asarray(self.m), np.asarray(self.u)
        base = np.log2(np.maximum(m, 1e-12) / np.maximum(u, 1e-12)) + self.shifts()
        return np.where(self.neutral, 0.0, base)


@dataclass
class ModelParameters:
    """A fitted model; JSON-serializable via to_dict/from_dict so a store can keep and reuse it."""

    comparisons: list[ComparisonParams]
    lambda_: float
    n_identities: int
    iterations: int = 0
    converged: bool = False
    em_pairs: int = 0
    u_sample_pairs: int = 0
    rule_lambdas: dict[str, float] = field(default_factory=dict)
    # learning from agents' decisions (matching/learning.py): bits added to the prior's log2 odds,
    # and what the fit used (labels, matches, non_matches, down_weighted, agreement before/after)
    prior_shift: float = 0.0
    labels: dict[str, Any] = field(default_factory=dict)
    # bits a pair agreeing on a full name that two customers hold on one channel gets (<= 0;
    # matching/namesakes.py), fitted with the model so an incremental run scores as a full one
    namesake_bits: float = 0.0
    # log2 odds that a pair agreeing on a full name is one person, per cell of holders and chance
    # holders ("5:-3"), measured on the pairs' other fields (matching/name_cells.py)
    name_cells: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelParameters:
        """Inverse of to_dict."""
        data = dict(data)
        # a model stored before the monotonicity rule is held to it on load
        data["comparisons"] = [monotone(ComparisonParams(**c)) for c in data["comparisons"]]
        return cls(**data)

    def by_name(self) -> dict[str, ComparisonParams]:
        """Comparison parameters keyed by comparison name."""
        return {c.name: c for c in self.comparisons}

    def fits(self, levels: list[Levels]) -> bool:
        """True when the model has the same comparisons and level names as these results."""
        have = self.by_name()
        return len(have) == len(levels) and all(
            lv.name in have and have[lv.name].levels == lv.level_names for lv in levels
        )

    def prior(self, n_identities: int) -> float:
        """lambda for a frame of this size: matches per identity stay constant, pairs grow as n^2."""
        if n_identities <= 1 or self.n_identities <= 1:
            return self.lambda_
        return float(min(self.lambda_ * (self.n_identities - 1) / (n_identities - 1), 0.5))

    def prior_bits(self, n_identities: int) -> float:
        """log2 odds of the prior for a frame of this size, with the label shift."""
        lam = self.prior(n_identities)
        return float(np.log2(lam / (1 - lam)) + self.prior_shift)

    def weights_table(self) -> pl.DataFrame:
        """comparison, level, m, u, weight (with the label shift), weight_unsupervised, for reporting."""
        rows = [
            (
                c.name,
                lvl,
                c.m[i],
                c.u[i],
                float(c.log2_bf()[i]),
                float(c.log2_bf()[i] - (0.0 if c.neutral[i] else c.shifts()[i])),
            )
            for c in self.comparisons
            for i, lvl in enumerate(c.levels)
        ]
        schema = ["comparison", "level", "m", "u", "weight", "weight_unsupervised"]
        return pl.DataFrame(rows, schema=schema, orient="row")


def estimate_u(random_levels: list[Levels]) -> list[ComparisonParams]:
    """u per level from comparisons of random cross-customer pairs (m left empty)."""
    out = []
    for lv in random_levels:
        k = len(lv.level_names)
        counts = np.bincount(lv.levels.astype(np.int64), minlength=k).astype(np.float64)
        active = ~np.asarray(lv.neutral)
        # add-one smoothing (U_PSEUDO): a level never seen among K random pairs has u below ~1/K;
        # 1/K is the conservative (weight-lowering) bound
        u = np.where(active, counts + U_PSEUDO, 0.0)
        u = u / max(u.sum(), 1.0)
        if lv.tf_level is not None and lv.u_exact is not None:
            # exact agreement is rare among random pairs: use the exact collision probability
            rest = active.copy()
            rest[lv.tf_level] = False
            floor = 1.0 / (len(lv.levels) + k)
            u[rest] = np.maximum(u[rest] * (1.0 - lv.u_exact) / max(u[rest].sum(), 1e-12), floor)
            u[lv.tf_level] = lv.u_exact
            u = u / u.sum()
        out.append(
            ComparisonParams(
                lv.name, list(lv.level_names), [0.0] * k, u.tolist(), list(lv.neutral), lv.tf_level
            )
        )
    return out


# Smoothing constants (where they come from):
# - M_PRIOR_RATIO: prior m of the active levels, strongest first, each level M_PRIOR_RATIO times
#   as likely among matches as the one above (exact ~0.6, one typo ~0.2, ...). It is the shape of
#   the m tables EM finds on the project's generator and on Febrl (exact 0.55-0.9, each weaker level
#   a third to a tenth of the one above), chosen, not fitted; it matters only where the data do not
#   identify m (a level no match shows, a comparison every blocking rule forces).
# - M_PRIOR_UNIFORM: share of the prior spread evenly, so no level's prior m is below ~1-2%: the
#   typo rate of real contact data is a few percent per field (Christen 2012, ch. 3), so "never seen
#   among matches" in a sample means "rare", not "impossible".
# - M_PSEUDO_PAIRS: the prior's weight in matched pairs per level (Dirichlet pseudo-counts): two
#   pseudo-pairs are nothing against thousands of EM pairs but keep an unseen level off m = 0.
# - U_PSEUDO: add-one (Laplace) smoothing of u over the random pairs: a level never seen among K
#   random pairs gets u ~ 1/K, the usual upper bound; a smaller u would make its weight grow with K.
M_PRIOR_RATIO = 0.35
M_PRIOR_UNIFORM = 0.1
M_PSEUDO_PAIRS = 2.0
U_PSEUDO = 1.0


def prior_m(neutral: list[bool]) -> np.ndarray:
    """The prior m over the active levels (strongest first): geometric, mixed with a uniform share."""
    active = ~np.asarray(neutral, dtype=bool)
    k = int(active.sum())
    m = np.zeros(len(neutral))
    if k == 0:
        return m
    geom = M_PRIOR_RATIO ** np.arange(k)
    m[active] = (1 - M_PRIOR_UNIFORM) * geom / geom.sum() + M_PRIOR_UNIFORM / k
    return m


def _init_m(params: ComparisonParams) -> np.ndarray:
    return prior_m(params.neutral)


def monotone(params: ComparisonParams) -> ComparisonParams:
    """m adjusted so level weights never rise from a stronger to a weaker level, and the last level
    (disagreement: different, none) never weighs more than 0.

    Levels run from strongest to weakest agreement, so a weaker level with a higher m/u than a
    stronger one is an estimation artefact (few pairs, a forced field): pool-adjacent-violators
    replaces each violating run of levels by its pooled ratio sum(m)/sum(u), which keeps sum(m).
    Disagreement adding weight (u ~ 0 on a field that random pairs rarely fill, e.g. country
    "different" +10.8) is capped at m = u, the mass moved to the agreeing levels in proportion.
    """
    m = np.asarray(params.m, dtype=np.float64).copy()
    # u = 0 (a stored model from before u was smoothed) is floored like log2_bf floors it
    u = np.maximum(np.asarray(params.u, dtype=np.float64), 1e-12)
    idx = [i for i, z in enumerate(params.neutral) if not z]
    if len(idx) < 2 or m[idx].sum() <= 0:
        return params
    blocks: list[list[int]] = []  # runs of level indices with one pooled ratio
    for i in idx:
        blocks.append([i])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            # a relative tolerance keeps the rule idempotent (a pooled run is not re-pooled)
            if m[a].sum() / u[a].sum() >= (m[b].sum() / u[b].sum()) * (1 - 1e-9):
                break
            blocks[-2:] = [a + b]
    for block in blocks:
        if len(block) > 1:
            m[block] = u[block] * (m[block].sum() / u[block].sum())
    last = idx[-1]
    # no tolerance here: a pooled run ending in the last level can leave m/u at 1 + 1e-16, a
    # positive weight; m = u exactly is weight 0 and stays put when applied again
    if m[last] > u[last]:
        excess = m[last] - u[last]
        m[last] = u[last]
        rest = [i for i in idx if i != last]
        m[rest] += excess * m[rest] / max(m[rest].sum(), 1e-300)
    return replace(params, m=m.tolist())


# the level of a different value that shares a part with the other (an email local part at another
# domain): an identifier's tf_scale does not apply to it
OTHER_VALUE = "same_local"


def _log_u(lv: Levels, u: np.ndarray, tf_scale: float = 1.0) -> np.ndarray:
    # float32 per level, then gathered: the same values as gathering first, a pass less
    logu = np.log(np.maximum(u, 1e-12)).astype(np.float32)[lv.levels]
    if lv.tf is not None:  # term-frequency u wherever the comparison supplied one
        hit = ~np.isnan(lv.tf)
        # tf_scale is measured on agreements on the identifier itself (its own blocking rule): it
        # holds for exact and for a typo of it (close), not for another address that shares the
        # local part at another domain (same_local: "a.hill@yahoo" / "a.hill@gmail"). Scaling that
        # too gave it 8.6 more bits than its stem's frequency says: 97 of 106 such pairs at
        # p >= 0.99 were two people on gen2-100k (gen1-100k: 53 of 72 at p >= 0.8).
        logu[hit] = np.log(np.maximum(lv.tf[hit] * _tf_scales(lv, lv.levels[hit], tf_scale), 1e-12))
    return logu


def _tf_scales(lv: Levels, at: np.ndarray, tf_scale: float) -> np.ndarray:
    """The tf_scale of each term-frequency pair at levels `at`: 1.0 on OTHER_VALUE (see _log_u) and
    on levels the comparison does not scale (Levels.scaled_levels)."""
    scale = np.full(len(at), tf_scale)
    if OTHER_VALUE in lv.level_names:
        scale[at == lv.level_names.index(OTHER_VALUE)] = 1.0
    if lv.scaled_levels is not None:
        scale[~np.isin(at, lv.scaled_levels)] = 1.0
    return scale


def log_bayes_factors(levels: list[Levels], params: list[ComparisonParams]) -> np.ndarray:
    """Per comparison and pair, ln(m/u) with term-frequency u; 0 on neutral levels. Shape (C, n)."""
    out = np.zeros((len(levels), len(levels[0].levels) if levels else 0), dtype=np.float32)
    for c, (lv, p) in enumerate(zip(levels, params, strict=True)):
        m, u = np.asarray(p.m), np.asarray(p.u)
        logm = np.log(np.maximum(m, 1e-12)) + p.shifts() * np.log(2.0)
        neutral = np.asarray(p.neutral)
        # ln(m/u) per level, gathered once per pair (u rounded to float32 as _log_u rounds it);
        # only the term-frequency pairs are weighed one by one
        table = np.where(neutral, 0.0, logm - np.log(np.maximum(u, 1e-12)).astype(np.float32))
        # rounded to float32 before the gather, as the assignment rounds it: a third of the time
        np.take(table.astype(np.float32), lv.levels, out=out[c])
        if lv.tf is not None:
            hit = np.flatnonzero(~np.isnan(lv.tf))
            at = lv.levels[hit]
            logu = np.log(np.maximum(lv.tf[hit] * _tf_scales(lv, at, p.tf_scale), 1e-12)).astype(np.float32)
            out[c, hit] = np.where(neutral[at], 0.0, logm[at] - logu)
    return out


def fit(
    levels: list[Levels],
    rule: np.ndarray,
    excluded: np.ndarray,
    u_params: list[ComparisonParams],
    max_iterations: int,
    tolerance: float,
    init: list[ComparisonParams] | None = None,
) -> tuple[list[ComparisonParams], np.ndarray, int, bool]:
    """EM for m (u fixed) and each rule stratum's match share; returns (params, lambda_r, iterations, converged)."""
    n_rules, n_comp = excluded.shape[0], len(levels)
    lv_arr = np.stack([lv.levels for lv in levels])  # (C, n) int8
    neutral = [np.asarray(p.neutral) for p in u_params]
    active = np.stack([~neutral[c][lv_arr[c]] for c in range(n_comp)]) & ~excluded[rule].T
    # the u side of every pair's log-likelihood ratio is fixed during EM: sum it once
    sum_logu = np.zeros(len(rule))
    for c, (lv, p) in enumerate(zip(levels, u_params, strict=True)):
        sum_logu += np.where(active[c], _log_u(lv, np.asarray(p.u), p.tf_scale), 0.0)
    # the m side depends only on the comparison pattern (levels + rule): a few thousand distinct
    codes = np.where(active, lv_arr + 1, 0).astype(np.int8)  # 0 = not counted (levels < 15)
    key = rule.astype(np.int64)
    for c in range(n_comp):
        key = key * 16 + codes[c]
    pattern, pid = distinct_inverse(key)
    first = np.empty(len(pattern), dtype=np.int64)
    first[pid] = np.arange(len(pid))  # a pair of each pattern (the key fixes its codes and rule)
    pat_codes, pat_rule = codes[:, first], rule[first]
    m = [np.asarray(p.m) if p.m and sum(p.m) > 0 else _init_m(p) for p in (init or u_params)]
    prior = [prior_m(p.neutral) for p in u_params]
    lam = np.full(n_rules, 0.2)
    counts = np.bincount(rule, minlength=n_rules)
    # a pair's posterior depends on its pattern and its sum of log u only: a million pairs hold
    # ~20k distinct (pattern, sum) at 1M identities, so it is computed once per distinct one
    su, su_of = distinct_inverse(sum_logu.view(np.int64))
    combo, combo_of = distinct_inverse(pid * len(su) + su_of)
    combo_pid, combo_logu = combo // len(su), su.view(np.float64)[combo % len(su)]
    iterations, converged = 0, False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is returned
        pat_logm = np.log(lam / (1 - lam))[pat_rule]
        for c in range(n_comp):
            logm = np.concatenate([[0.0], np.log(np.maximum(m[c], 1e-12))])
            pat_logm = pat_logm + logm[pat_codes[c]]
        logit = pat_logm[combo_pid] - combo_logu
        post = (1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60))))[combo_of]
        weight = np.bincount(pid, weights=post, minlength=len(first))
        new_m = []
        for c in range(n_comp):
            sums = np.bincount(pat_codes[c], weights=weight, minlength=len(m[c]) + 1)[1:]
            # Dirichlet pseudo-counts from the prior keep a level unseen among matches off
            # m = 0 (-inf), and give a comparison that no stratum counts the prior's m
            mc = np.where(neutral[c], 0.0, sums + M_PSEUDO_PAIRS * prior[c] * (~neutral[c]).sum())
            new_m.append(mc / max(mc.sum(), 1e-12))
        lam = np.clip(
            np.bincount(rule, weights=post, minlength=n_rules) / np.maximum(counts, 1), 1e-6, 1 - 1e-6
        )
        # Not converging within em_max_iterations (the 2,000-identity demo; also 1M runs) is slow
        # linear convergence, not oscillation: the largest m change falls monotonically by ~1.6%
        # per iteration (demo: 9e-4 at iteration 91, 7.8e-4 at 100; converged at 280). Strata of a
        # few dozen pairs that nearly all match (lambda_r -> 1: email, phone, handle rules) leave
        # their non-match side almost unidentified, so EM's rate (the fraction of missing
        # information) is close to 1 and m drifts on a flat likelihood ridge. Iteration 100 vs
        # 280 on the demo: level weights differ by <= 0.24 bits (phone "different"), 7 of 145
        # suggestions sit on the other side of the review threshold. Running to convergence is not
        # better, though: a cap scaled up for small samples (the same pairs x iterations budget as
        # 100 x em_max_pairs) made the 10k benchmark converge and its quality drop (pairwise F1
        # 0.1887 -> 0.1858, B-cubed F1 0.7213 -> 0.7205; 100k converges at 95 either way). So the
        # cap stays, and `converged` is reported in the run's model.
        change = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True))
        m = new_m
        if change < tolerance:
            converged = True
            break
    out = [monotone(replace(p, m=mc.tolist(), shift=[])) for p, mc in zip(u_params, m, strict=True)]
    return out, lam, iterations, converged


def match_weights(
    levels: list[Levels],
    params: list[ComparisonParams],
    prior: float,
    previous: tuple[list[ComparisonParams], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-field log2 weights (C, n) float32, total match_weight incl. the prior (n,) float64).

    `previous` (params, fields) of an earlier call on the same levels: the rows of comparisons whose
    params are the very same objects are kept (their fields array is reused in place), the others
    weighed again (identifier_scale changes a few comparisons' u only).
    """
    if not levels or len(levels[0].levels) == 0:
        return np.zeros((len(levels), 0), dtype=np.float32), np.zeros(0)
    if previous is None:
        fields = log_bayes_factors(levels, params)
        changed = list(range(len(levels)))
    else:
        fields = previous[1]
        changed = [c for c, (p, q) in enumerate(zip(params, previous[0], strict=True)) if p is not q]
        for c in changed:
            fields[c] = log_bayes_factors([levels[c]], [params[c]])[0]
    # in place: each value divided in float64 and rounded to float32, as the float64 copy gave
    for c in changed:
        np.divide(fields[c], np.log(2), out=fields[c])
    total = fields.sum(axis=0, dtype=np.float64) + np.log2(prior / (1 - prior))
    return fields, total


def probability(match_weight: np.ndarray) -> np.ndarray:
    """2^w / (1 + 2^w), computed stably."""
    return 1.0 / (1.0 + np.exp2(-np.clip(match_weight, -200, 200)))


def identifier_rules(config: MatchConfig) -> dict[str, str]:
    """comparison name -> the blocking rule on its column alone (every exact agreement is its pair)."""
    by_column: dict[str, str] = {}
    for rule in config.active_rules():
        if rule.on and len(rule.on) == 1 and rule.columns() == {rule.on[0]} and not rule.different_source:
            by_column.setdefault(rule.on[0], rule.name)
    return {
        c.name: by_column[c.column]
        for c in config.active_comparisons()
        if c.term_frequency and c.column in by_column
    }


def identifier_scale(model: ModelParameters, config: MatchConfig, pairs: dict[str, float]) -> ModelParameters:
    """The u of an exact identifier agreement from its blocking rule's EM stratum, not from value frequencies.

    A value's frequency counts every customer holding it, and before matching the customers
    holding one phone or email are mostly one person with several identities: the term frequency
    takes the pair itself for chance agreement (a value held by 2 customers weighs as if two
    strangers shared it). Where a blocking rule is the column alone, its pairs are the pairs
    agreeing on the column, and EM estimates the share of them that match from the other
    fields (`rule_lambdas`, the column itself left out). The term-frequency u is scaled by the
    share that do not match, add-one smoothed (one pseudo non-match among the rule's pairs).
    """
    rules = identifier_rules(config)
    comps = []
    for c in model.comparisons:
        rule = rules.get(c.name)
        if rule is None or c.tf_level is None or rule not in model.rule_lambdas:
            comps.append(c)
            continue
        n = pairs.get(rule, 0.0)
        scale = float(min(1.0, (n * (1.0 - model.rule_lambdas[rule]) + U_PSEUDO) / (n + U_PSEUDO)))
        u = list(c.u)
        u[c.tf_level] = c.u[c.tf_level] * scale / c.tf_scale
        comps.append(replace(c, u=u, tf_scale=scale))
    return replace(model, comparisons=comps)
