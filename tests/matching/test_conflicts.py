"""Channel evidence of the clusters a suggestion joins (matching/conflicts.py) and the source comparison."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from matching import MatchConfig
from matching.comparisons import compare
from matching.conflicts import channel_conflicts
from matching.frequency import build_frame
from matching.model import ComparisonParams, ModelParameters
from matching.suggestions import SUGGESTION_SCHEMA

LEVELS = ["missing", "other_source", "same_source"]


def _model(m_same: float = 0.02, u_same: float = 0.14) -> ModelParameters:
    params = ComparisonParams("channel", LEVELS, [0.0, 1 - m_same, m_same], [0.0, 1 - u_same, u_same],
                              [True, False, False])  # fmt: skip
    return ModelParameters([params], 1e-4, 10)


def _identities(channels: list[str]) -> pl.DataFrame:
    n = len(channels)
    return pl.DataFrame({"identity_id": range(1, n + 1), "customer_id": range(1, n + 1), "channel": channels})


def _suggestion(left: int, right: int, probability: float) -> dict[str, object]:
    return {
        "customer_id_l": left, "customer_id_r": right, "probability": probability,
        "match_weight": math.log2(probability / (1 - probability)), "band": "review", "related_only": False,
        "reason": "", "rule": "full_name", "evidence": "[]", "identity_id_l": left, "identity_id_r": right,
        "evidence_hash": "h",
    }  # fmt: skip


def _suggestions(*rows: tuple[int, int, float]) -> pl.DataFrame:
    return pl.DataFrame([_suggestion(*r) for r in rows], schema=SUGGESTION_SCHEMA)


def test_the_source_comparison_says_whether_two_identities_come_from_one_channel() -> None:
    frame = build_frame(
        pl.DataFrame(
            {
                "identity_id": [1, 2, 3, 4],
                "customer_id": [1, 2, 3, 4],
                "channel": ["email", "email", "chat", None],
            }
        ),
        2,
        20,
    )
    spec = next(c for c in MatchConfig().active_comparisons() if c.kind == "source")
    lv = compare(spec, frame, np.array([0, 0, 0], dtype=np.int32), np.array([1, 2, 3], dtype=np.int32))
    assert [lv.level_names[i] for i in lv.levels] == ["same_source", "other_source", "missing"]


def test_a_link_that_would_put_two_identities_of_one_channel_in_one_cluster_is_lowered() -> None:
    # 1 (email) - 2 (chat) is strong; 2 - 3 would join a second email identity to 1's cluster
    ids = _identities(["email", "chat", "email"])
    sugg = _suggestions((1, 2, 0.999), (2, 3, 0.9))
    out = channel_conflicts(sugg, ids, MatchConfig(), _model())
    strong = out.filter(pl.col("customer_id_r") == 2)
    assert strong.get_column("probability")[0] == 0.999 and strong.get_column("band")[0] == "review"
    weak = out.filter(pl.col("customer_id_r") == 3)
    # weight: log2(0.9/0.1) + log2(0.02/0.14) (1 and 3 on one channel) = 3.17 - 2.81 = 0.36 bits
    assert weak.height == 1 and weak.get_column("band")[0] == "possible"
    expected = 1 / (1 + 2 ** -(math.log2(9) + math.log2(0.02 / 0.14)))
    assert abs(weak.get_column("probability")[0] - expected) < 1e-9
    items = json.loads(weak.get_column("evidence")[0])
    assert items[-1]["field"] == "cluster_channels" and "1 more identity pair" in items[-1]["level"]


def test_clusters_on_other_channels_keep_their_scores() -> None:
    ids = _identities(["email", "chat", "sms"])
    sugg = _suggestions((1, 2, 0.999), (2, 3, 0.9))
    out = channel_conflicts(sugg, ids, MatchConfig(), _model())
    assert out.sort("customer_id_r").get_column("probability").to_list() == [0.999, 0.9]


def test_the_penalty_is_what_the_data_says_of_one_channel() -> None:
    # where one person often holds two identities on a channel (m close to u), it hardly counts
    ids = _identities(["email", "chat", "email"])
    sugg = _suggestions((1, 2, 0.999), (2, 3, 0.9))
    out = channel_conflicts(sugg, ids, MatchConfig(), _model(m_same=0.13))
    assert out.filter(pl.col("customer_id_r") == 3).get_column("band")[0] == "review"


def test_without_a_source_comparison_nothing_changes() -> None:
    ids = _identities(["email", "chat", "email"])
    sugg = _suggestions((1, 2, 0.999), (2, 3, 0.9))
    config = MatchConfig.from_settings({"comparisons": [{"name": "channel", "enabled": False}]})
    assert channel_conflicts(sugg, ids, config, _model()).equals(sugg)
