"""The quality benchmark keys its truth as the store keys identities."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from bench.quality_bench import canonical_truth
from bench.quality_datasets import CONTACT_TOML, Dataset


def test_truth_ids_are_normalized_like_the_stores_channel_ids() -> None:
    truth = pl.DataFrame(
        {
            "channel": ["email", "email", "sms", "chat"],
            "external_id": ["WS@EX.COM", " ws@ex.com", "07911 123456", "Chat-1"],
            "entity_id": ["p1", "p1", "p2", "p3"],
        }
    )
    dataset = Dataset("toy", "contact", [Path("unused")], CONTACT_TOML, truth)
    keyed = canonical_truth(dataset)
    # the store holds one email identity ws@ex.com and the sms identity under its E.164 form;
    # other channels' ids are kept as written
    assert keyed.rows() == [
        ("email", "ws@ex.com", "p1"),
        ("sms", "+447911123456", "p2"),
        ("chat", "Chat-1", "p3"),
    ]
