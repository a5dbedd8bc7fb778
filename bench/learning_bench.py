"""Learning from agents' decisions: cluster F1 against the number of decisions; prints JSON.

    nice -n 5 .venv/bin/python bench/learning_bench.py [--identities 100000] [--seed 7]
        [--decisions 0,100,200,500,1000] [--noise 0,0.05] [--orders default,informative]
        [--cost-identities 1000000]

The project's channel benchmark (data/generator.py, as bench/match_bench.py prepares it: generate,
normalize, one customer per identity). One unsupervised full match run, then simulated agents
work the queue: the first N suggestions in the queue's order ("default": most probable first,
the review band and related pairs as `idres suggestions list` shows them; "informative":
`matching.learning.informative_first` over the review and possible bands, as `--order
informative` does), each decided from the generator's truth, with a share `noise` of the
decisions deliberately wrong (chosen at random, seeded). The decisions become labels and the run
is finished again with them (the same candidate pairs, comparison levels and unsupervised model
as the first run: EM is deterministic, so a fresh full run gives the same; only learning and
scoring are repeated). Quality: cluster pair precision/recall/F1 (matching.evaluate) after
approving every review-band suggestion (related-only left out), with the agents' decisions
applied as the store applies them (approved pairs merged, rejected pairs never joined
directly); `decisions_only` is the same with the decisions applied but no learning, so the
difference is what learning adds.

Cost (`--cost-identities`): one full `run_match` at that size without labels and one with 1,000
labels (500 true pairs, 500 random pairs, from the truth); learning's share is its timing
(`timings["learning"]`: comparing the labelled pairs, the fit, re-weighting the pairs) over the
full run's total.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from match_bench import prepare as prepare_frame  # noqa: E402

from matching import MatchConfig, run_match  # noqa: E402
from matching.engine import _label_rows, finish, prepare, score_partition  # noqa: E402
from matching.evaluate import cluster_scores, components  # noqa: E402
from matching.learning import informative_first  # noqa: E402


def queue(suggestions: pl.DataFrame, order: str) -> pl.DataFrame:
    """The pending queue agents work through, in the given order."""
    if order == "informative":
        pool = suggestions.filter(pl.col("band").is_in(["review", "auto_approve", "possible"]))
        return informative_first(pool.sort("customer_id_l", "customer_id_r"))
    pool = suggestions.filter(
        (pl.col("band") != "possible") & ((pl.col("band") != "below") | pl.col("related_only"))
    )
    return pool.sort(["probability", "customer_id_l", "customer_id_r"], descending=[True, False, False])


def decide(picked: pl.DataFrame, entity: dict[int, str], noise: float, seed: int) -> pl.DataFrame:
    """Simulated agents' decisions from the truth; a share `noise` of them wrong (seeded)."""
    left = picked.get_column("identity_id_l").to_list()
    right = picked.get_column("identity_id_r").to_list()
    truth = np.array([entity.get(a) == entity.get(b) for a, b in zip(left, right, strict=True)], dtype=bool)
    wrong = np.zeros(len(truth), dtype=bool)
    k = round(noise * len(truth))
    if k:
        wrong[np.random.default_rng(seed).choice(len(truth), size=k, replace=False)] = True
    return pl.DataFrame(
        {
            "identity_id_l": pl.Series(left, dtype=pl.Int64),
            "identity_id_r": pl.Series(right, dtype=pl.Int64),
            "is_match": truth ^ wrong,
            "weight": np.ones(len(truth)),
        }
    )


def clusters(
    identity_ids: pl.Series, suggestions: pl.DataFrame, labels: pl.DataFrame, threshold: float
) -> pl.DataFrame:
    """Components of review-band pairs plus approved labels, rejected labels never an edge."""
    edges = suggestions.filter((pl.col("probability") >= threshold) & ~pl.col("related_only")).select(
        "identity_id_l", "identity_id_r"
    )
    if labels.height:
        key = ["identity_id_l", "identity_id_r"]
        decided = labels.with_columns(
            pl.min_horizontal(*key).alias("identity_id_l"), pl.max_horizontal(*key).alias("identity_id_r")
        )
        edges = edges.with_columns(
            pl.min_horizontal(*key).alias("identity_id_l"), pl.max_horizontal(*key).alias("identity_id_r")
        ).join(decided.select(*key), on=key, how="anti")
        edges = pl.concat([edges, decided.filter(pl.col("is_match")).select(*key)])
    ids = identity_ids.cast(pl.Int64).sort()
    index = pl.DataFrame({"identity_id": ids, "i": np.arange(len(ids), dtype=np.int64)})
    e = edges.join(index.rename({"identity_id": "identity_id_l", "i": "a"}), on="identity_id_l").join(
        index.rename({"identity_id": "identity_id_r", "i": "b"}), on="identity_id_r"
    )
    labels_of = components(ids.to_numpy(), e.get_column("a").to_numpy(), e.get_column("b").to_numpy())
    return pl.DataFrame({"identity_id": ids, "cluster": labels_of})


def scores(identity_ids: pl.Series, suggestions: pl.DataFrame, labels: pl.DataFrame, truth: pl.DataFrame,
           threshold: float) -> dict[str, float]:  # fmt: skip
    """Cluster pair precision / recall / F1 (rounded)."""
    cs = cluster_scores(clusters(identity_ids, suggestions, labels, threshold), truth)
    return {k: round(cs[f"pair_{k}"], 4) for k in ("precision", "recall", "f1")}


def curve(args: argparse.Namespace) -> dict[str, Any]:
    """The learning curve at args.identities."""
    config = MatchConfig()
    frame, truth, times = prepare_frame(args.identities, args.seed)
    ids = frame.get_column("identity_id")
    entity = dict(
        zip(truth.get_column("identity_id").to_list(), truth.get_column("entity").to_list(), strict=True)
    )
    t = time.perf_counter()
    prepared = prepare(frame, config)
    levels = score_partition(prepared.frame, config, prepared.cand.left, prepared.cand.right)
    base = finish(prepared, levels)
    times["first_run_s"] = round(time.perf_counter() - t, 2)
    fixed = replace(prepared, model=base.model)  # the same unsupervised model, EM not repeated
    thr = config.review_threshold
    empty = pl.DataFrame(
        schema={"identity_id_l": pl.Int64, "identity_id_r": pl.Int64, "is_match": pl.Boolean}
    )
    out: dict[str, Any] = {
        "identities": frame.height,
        "true_pairs_in_truth": int(
            truth.group_by("entity").len().select((pl.col("len") * (pl.col("len") - 1) / 2).sum()).item()
        ),
        "suggestions": base.suggestions.group_by("band").len().sort("band").to_dicts(),
        "no_decisions": scores(ids, base.suggestions, empty, truth, thr),
        "runs": [],
        **times,
    }
    for order in args.orders.split(","):
        for noise in [float(x) for x in args.noise.split(",")]:
            for run in session(args, fixed, levels, base, ids, entity, truth, order, noise):
                run["gain"] = round(run["learned"]["f1"] - out["no_decisions"]["f1"], 4)
                out["runs"].append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    return out


def session(args: argparse.Namespace, fixed: Any, levels: Any, base: Any, ids: pl.Series,
            entity: dict[int, str], truth: pl.DataFrame, order: str, noise: float) -> list[dict[str, Any]]:  # fmt: skip
    """Agents deciding `--batch` suggestions between match runs, up to the largest --decisions."""
    thr = fixed.config.review_threshold
    marks = sorted(int(x) for x in args.decisions.split(",") if int(x) > 0)
    labels = decide(base.suggestions.head(0), entity, 0.0, 0)
    current, runs = base, []
    rng = np.random.default_rng(args.seed)
    wrong = np.zeros(0, dtype=bool)
    while marks and labels.height < marks[-1]:
        key = ["identity_id_l", "identity_id_r"]
        q = queue(current.suggestions, order).join(labels.select(*key), on=key, how="anti")
        want = min(
            args.batch, marks[-1] - labels.height, *(m - labels.height for m in marks if m > labels.height)
        )
        picked = q.head(want)
        if picked.height == 0:
            break
        labels = pl.concat([labels, decide(picked, entity, 0.0, 0)])
        # the share `noise` of all decisions so far is wrong, the wrong ones chosen at random
        wrong = np.concatenate([wrong, np.zeros(labels.height - len(wrong), dtype=bool)])
        missing = round(noise * labels.height) - int(wrong.sum())
        if missing > 0:
            wrong[rng.choice(np.flatnonzero(~wrong), size=missing, replace=False)] = True
        decided = labels.with_columns(pl.col("is_match") ^ pl.Series(wrong))
        rows, stored = _label_rows(fixed.frame, decided)
        t = time.perf_counter()
        current = finish(replace(fixed, label_rows=rows, label_stored=stored), levels)
        took = time.perf_counter() - t
        if labels.height in marks:
            runs.append({
                "order": order,
                "noise": noise,
                "decisions": labels.height,
                "labelled_matches": int(decided.get_column("is_match").sum()),
                "wrong": int(wrong.sum()),
                "learned": scores(ids, current.suggestions, decided, truth, thr),
                "decisions_only": scores(ids, base.suggestions, decided, truth, thr),
                "prior_shift_bits": current.model.prior_shift,
                "contradicted": current.model.labels.get("contradicted"),
                "finish_s": round(took, 2),
                "learning_s": round(current.timings.get("learning", 0.0), 3),
            })  # fmt: skip
    return runs


def cost(n: int, seed: int) -> dict[str, Any]:
    """Learning's share of a full match run at n identities (1,000 labels from the truth)."""
    frame, truth, _ = prepare_frame(n, seed)
    rng = np.random.default_rng(seed)
    pairs = (
        truth.with_columns(pl.int_range(pl.len()).over("entity").alias("_k"))
        .filter(pl.col("_k") < 2)
        .group_by("entity")
        .agg(pl.col("identity_id"))
        .filter(pl.col("identity_id").list.len() == 2)
        .head(500)
    )
    same = pairs.select(
        pl.col("identity_id").list.get(0).alias("identity_id_l"),
        pl.col("identity_id").list.get(1).alias("identity_id_r"),
    )
    ids = frame.get_column("identity_id").to_numpy()
    other = pl.DataFrame({"identity_id_l": rng.choice(ids, 500), "identity_id_r": rng.choice(ids, 500)})
    labels = pl.concat(
        [
            same.with_columns(pl.lit(True).alias("is_match")),
            other.with_columns(pl.lit(False).alias("is_match")),
        ]
    )
    config = MatchConfig()
    plain = run_match(frame, config)
    with_labels = run_match(frame, config, labels=labels)
    total = with_labels.timings["total"]
    return {
        "identities": frame.height,
        "labels": labels.height,
        "run_without_labels_s": round(plain.timings["total"], 2),
        "run_with_labels_s": round(total, 2),
        "learning_s": round(with_labels.timings["learning"], 3),
        "learning_share_of_run": round(with_labels.timings["learning"] / total, 4),
        "timings_with_labels": {k: round(v, 2) for k, v in with_labels.timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--decisions", default="0,100,200,500,1000")
    parser.add_argument("--noise", default="0,0.05")
    parser.add_argument("--orders", default="default,informative")
    parser.add_argument("--batch", type=int, default=100, help="decisions between two match runs")
    parser.add_argument(
        "--cost-identities", type=int, default=0, help="also measure learning's cost at this size"
    )
    args = parser.parse_args()
    report: dict[str, Any] = {"seed": args.seed}
    if args.identities:  # 0: only the cost
        report["curve"] = curve(args)
    if args.cost_identities:
        report["cost"] = cost(args.cost_identities, args.seed)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
