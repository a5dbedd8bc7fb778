"""Pure matching engine: polars in, polars out (no duckdb, no prefect).

Entry point::

    from matching import MatchConfig, run_match, ModelParameters

    config = MatchConfig.from_settings(settings.match)        # raises ConfigError on bad config
    result = run_match(identities, config,
                       changed_ids=None,                      # or identity ids new/changed since last run
                       model=None,                            # or ModelParameters / its to_dict()
                       excluded_customer_ids=None)            # or ids of customers to leave out

Input `identities`: one row per identity with `identity_id` (Int64), `customer_id` (Int64) and
the normalized columns of docs/data-model.md (email_norm, email_key, phone_e164,
first/last_name_norm/_key, screen_name_norm, company_norm, city_norm, postcode_norm,
country_norm, birth_date_norm, ...), plus any extra attribute columns that configured
comparisons or blocking rules name. The caller leaves out locked and anonymized customers
(or passes them as `excluded_customer_ids`): their identities take no part in blocking,
frequencies or scoring.

Scale-out: `run_match` is `prepare` (frame statistics + blocking) -> `partition` (candidate
pairs by a hash of the left identity) -> `score_partition` over each `partition_payload` (the
partition's rows with the whole frame's statistics; pure, picklable: a Dask worker can run it)
-> `gather_levels` -> `finish` (model, weights, suggestions). `run_match(..., partitions=k)`
runs that split in-process; its result equals the unpartitioned run. flows/match.py maps the
scoring over the partitions on the flow's task runner (local threads or Dask).

Incremental runs: `changed_ids` restricts scoring to pairs with at least one changed identity,
compared against the whole frame; block caps, term frequencies and shared-value detection are
computed over the whole frame, so those pairs score exactly as in a full run with the same
model. Pass the stored `model` to skip EM (set `refit_on_incremental` for a short refit); the
prior is rescaled to the frame size. A model whose comparisons no longer match the
configuration is ignored and refitted (noted in `result.notes`).

`MatchResult`:
- `pairs`: scored identity pairs: identity_id_l, identity_id_r, customer_id_l, customer_id_r,
  rule (Enum: first blocking rule that produced the pair), match_weight (log2 odds including
  the prior), match_probability, and per comparison `<name>_level` (Enum) and `<name>_weight`
  (Float32, log2 Bayes factor), cluster_weight (Float32, what cluster-level evidence added:
  matching/clusters.py; match_weight = prior + field weights + cluster_weight), related_only
  (Bool), related_reason (String or null).
  Pairs within one customer are never produced.
- `suggestions`: customer pairs with customer_id_l < customer_id_r: probability, match_weight,
  band ('auto_approve' | 'review' | 'possible' | 'below'), related_only, reason, rule, evidence (JSON list of
  {field, value_l, value_r, level, weight} for the non-missing fields), identity_id_l,
  identity_id_r (the best identity pair), evidence_hash (hash of fields, values and levels;
  weights excluded, so a refit alone does not look like new evidence). Holds every pair in
  review or auto_approve, the `possible` band (possible_floor <= probability < review, off the
  default queue) and "related, not merged" pairs (band below, related_only true).
  Customer-level rule: the best identity pair (see suggestions.py for why).
- `rule_counts`: rule, pairs, new_pairs (after dedup with earlier rules),
  oversize_blocks_skipped, largest_block (in an incremental run: among the blocks that hold a
  changed identity, the only ones it reads).
- `model`: ModelParameters (m, u per comparison level, lambda, iterations, converged,
  per-rule match shares), JSON-serializable with to_dict() / from_dict().
- `timings`, `notes`.

Shared values: an email, phone or handle held by at least 3 customers two of whom are clearly
different people (typo-, nickname- and swap-tolerant names), or by many customers, is "shared"
(matching/shared.py): agreement on it weighs 0 unless the pair's own names agree, and a pair
whose probability stays below review only because of it is `related_only` with a reason. Such
pairs are never auto-approved. A value held only by the pair is never shared.

Learning from agents' decisions (matching/learning.py): `run_match(..., labels=frame)` with
identity_id_l, identity_id_r, is_match (optional weight, and `levels`: the comparison levels stored
when the decision was made, JSON {comparison: level}, used only for a pair whose identities are no
longer in the frame) compares the labelled pairs again with the current configuration and fits
per-level weight shifts and a prior shift on top of the unsupervised model
(`ComparisonParams.shift`, `ModelParameters.prior_shift`, `.labels` with the counts); a note says
so. With no labels the model is the unsupervised one. `informative_first` orders a queue most
uncertain first, blocking rules in turn.

Quality helpers live in `matching.evaluate` (pairwise P/R/F1, threshold sweep, B-cubed and
pairwise cluster scores, connected components).
"""

from matching.config import BlockingRuleSpec, ComparisonSpec, ConfigError, MatchConfig
from matching.engine import MatchResult, run_match
from matching.model import ComparisonParams, ModelParameters

__all__ = [
    "BlockingRuleSpec",
    "ComparisonParams",
    "ComparisonSpec",
    "ConfigError",
    "MatchConfig",
    "MatchResult",
    "ModelParameters",
    "run_match",
]
