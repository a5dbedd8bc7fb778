"""Partitioned scoring (as the match flow runs it on Dask) gives exactly the unpartitioned result."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from matching import MatchConfig, run_match
from matching.engine import partition, prepare
from tests.matching.idframes import labelled, make_identities


@pytest.fixture(scope="module")
def identities() -> pl.DataFrame:
    rows, _ = labelled(150)
    return make_identities(rows)


def test_partitions_are_disjoint_and_cover_every_candidate(identities: pl.DataFrame) -> None:
    prepared = prepare(identities, MatchConfig())
    positions = partition(prepared, 4)
    allpos = np.concatenate(positions)
    assert len(allpos) == len(prepared.cand.left) > 0
    assert len(np.unique(allpos)) == len(allpos)
    assert sum(len(p) > 0 for p in positions) >= 2  # the hash spreads the pairs
    # a pair's partition depends only on its left identity
    ids = prepared.frame.df.get_column("identity_id").to_numpy()
    owner = {int(ids[prepared.cand.left[q]]): k for k, pos in enumerate(positions) for q in pos}
    assert all(owner[int(ids[prepared.cand.left[q]])] == k for k, pos in enumerate(positions) for q in pos)


@pytest.mark.parametrize("partitions", [2, 7])
def test_partitioned_full_and_incremental_runs_equal_the_single_run(
    identities: pl.DataFrame, partitions: int
) -> None:
    config = MatchConfig()
    single = run_match(identities, config)
    split = run_match(identities, config, partitions=partitions)
    assert_frame_equal(split.pairs, single.pairs)
    assert_frame_equal(split.suggestions, single.suggestions)
    assert split.model.to_dict() == single.model.to_dict()
    changed = pl.Series([3, 40, 41, 99])
    model = single.model.to_dict()
    inc_single = run_match(identities, config, changed_ids=changed, model=model)
    inc_split = run_match(identities, config, changed_ids=changed, model=model, partitions=partitions)
    assert inc_single.pairs.height > 0
    assert_frame_equal(inc_split.pairs, inc_single.pairs)
    assert_frame_equal(inc_split.suggestions, inc_single.suggestions)


def test_threaded_statistics_and_comparisons_equal_the_sequential_run(
    identities: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matching import engine

    config = MatchConfig()
    monkeypatch.setattr(engine, "WORKERS", 1)
    sequential = run_match(identities, config)
    # statistics beside blocking, and every comparison of the candidate and random pairs on a thread
    monkeypatch.setattr(engine, "WORKERS", 3)
    monkeypatch.setattr(engine, "PARALLEL_PAIRS", 1)
    threaded = run_match(identities, config)
    assert threaded.pairs.height > 0
    assert_frame_equal(threaded.pairs, sequential.pairs)
    assert_frame_equal(threaded.suggestions, sequential.suggestions)
    assert threaded.model.to_dict() == sequential.model.to_dict()
