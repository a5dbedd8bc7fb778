"""store/redirects.py: the one resolver of merge redirects (chains, cycles, many ids at once)."""

from __future__ import annotations

import pytest

from store import Store, redirects, utcnow


def _customers(store: Store, rows: list[tuple[int, str, int | None]]) -> None:
    """Customers (id, status, merged_into) written directly, corrupt ones included."""
    now = utcnow()
    with store.transaction():
        for customer_id, status, merged_into in rows:
            store.execute(
                "INSERT INTO customers (customer_id, status, merged_into, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [customer_id, status, merged_into, now, now],
            )


def test_a_chain_is_followed_to_its_survivor_with_the_ids_walked(store: Store) -> None:
    # 1 -> 2 -> 3 (active); 4 active; 5 anonymized; 6 -> 5
    _customers(store, [(1, "merged", 2), (2, "merged", 3), (3, "active", None), (4, "active", None),
                       (5, "anonymized", None), (6, "merged", 5)])  # fmt: skip
    one = redirects.resolve_one(store, 1)
    assert (one.survivor, one.chain, one.status) == (3, (1, 2, 3), "active")
    assert one.redirected_from == [1, 2]
    assert redirects.resolve_one(store, 4).redirected_from == []
    assert redirects.survivors(store, [1, 2, 3, 4, 6]) == {1: 3, 2: 3, 3: 3, 4: 4, 6: 5}
    # only active survivors are live: the anonymized one and the unknown id drop out
    assert redirects.live(store, [1, 4, 6, 99]) == [3, 4]


def test_unknown_ids_and_chains_into_a_missing_customer_have_no_survivor(store: Store) -> None:
    _customers(store, [(1, "merged", 42)])
    assert redirects.resolve_one(store, 7) == redirects.Redirect(7, (7,), None, None)
    assert redirects.resolve_one(store, 1) == redirects.Redirect(1, (1, 42), None, None)


@pytest.mark.parametrize("loop", [[(1, "merged", 1)], [(1, "merged", 2), (2, "merged", 3), (3, "merged", 1)]])
def test_a_redirect_cycle_is_refused_with_the_ids(store: Store, loop: list[tuple[int, str, int]]) -> None:
    _customers(store, [*loop, (9, "active", None)])
    with pytest.raises(redirects.RedirectCycleError, match="cycle starting at 1: 1 -> "):
        redirects.resolve(store, [9, 1])
    # the downward walk ends on a cycle too (each member is listed once)
    assert redirects.members(store, [1])[1] == {c for c, _, _ in loop}


def test_many_ids_resolve_in_as_many_statements_as_the_longest_chain(store: Store) -> None:
    # 2,000 customers (above the inline limit): every odd one merged into the next even one, and
    # every multiple of 4 merged into the one after it (chains of up to three hops)
    rows = []
    for c in range(1, 2001):
        if c % 2:
            rows.append((c, "merged", c + 1))
        elif c % 4 == 0 and c < 2000:
            rows.append((c, "merged", c + 1 if (c + 1) % 2 == 0 else c + 2))
        else:
            rows.append((c, "active", None))
    _customers(store, rows)
    expected = {}
    for c, _, _ in rows:
        current = c
        while (step := next(r for r in rows if r[0] == current))[1] == "merged":
            current = int(step[2])  # type: ignore[arg-type]
        expected[c] = current
    statements = []
    original = store.rows

    def counting(statement: str, params: object = None) -> list[dict[str, object]]:
        statements.append(statement)
        return original(statement, params)  # type: ignore[arg-type]

    store.rows = counting  # type: ignore[method-assign]
    try:
        found = redirects.survivors(store, range(1, 2001))
    finally:
        store.rows = original  # type: ignore[method-assign]
    assert found == expected
    assert len(statements) <= 4  # one per hop level, not one per id


def test_members_and_person_collect_everyone_merged_in(store: Store) -> None:
    # 2 -> 1, 5 -> 2, 3 -> 4; 6 alone
    _customers(store, [(1, "active", None), (2, "merged", 1), (5, "merged", 2), (3, "merged", 4),
                       (4, "active", None), (6, "active", None)])  # fmt: skip
    assert redirects.members(store, [1, 2, 4, 6, 77]) == {
        1: {1, 2, 5},
        2: {2, 5},
        4: {3, 4},
        6: {6},
        77: {77},
    }
    assert redirects.person(store, [1, 4]) == [1, 2, 3, 4, 5]
    assert redirects.pointers(store) == {2: 1, 5: 2, 3: 4}
    graph = redirects.pointers(store)
    assert [redirects.follow(graph, c) for c in (5, 2, 1, 3, 9)] == [1, 1, 1, 4, 9]
    assert redirects.follow({7: 8, 8: 7}, 7, max_hops=5) in (7, 8)  # a corrupt cycle ends
