"""The Merkle tree against a naive reference written straight from RFC 6962 §2.1 (every size 0..64, random larger)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from wire import merkle


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(leaves)) else ref_subproof(m, leaves, True)


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def check_size(n: int, olds=None, indexes=None) -> None:
    data = entries(n)
    tree = merkle.MemoryTree([merkle.leaf_hash(d) for d in data])
    assert merkle.root(tree) == ref_mth(data)
    for i in (range(n) if indexes is None else indexes):
        proof = merkle.inclusion_proof(tree, i, n)
        assert proof == ref_path(i, data)
        assert merkle.verify_inclusion(i, n, merkle.leaf_hash(data[i]), proof, ref_mth(data))
        assert not merkle.verify_inclusion(i, n, merkle.leaf_hash(b"forged"), proof, ref_mth(data))
        if n > 1:
            assert not merkle.verify_inclusion((i + 1) % n, n, merkle.leaf_hash(data[i]), proof, ref_mth(data))
    for m in (range(n + 1) if olds is None else olds):
        proof = merkle.consistency_proof(tree, m, n)
        assert proof == ref_proof(m, data)
        assert merkle.verify_consistency(m, n, ref_mth(data[:m]), ref_mth(data), proof)
        if 0 < m < n:
            assert not merkle.verify_consistency(m, n, hashlib.sha256(b"wrong").digest(), ref_mth(data), proof)
            forked = data[: m - 1] + [b"rewritten"]
            assert not merkle.verify_consistency(m, n, ref_mth(forked), ref_mth(data), proof)
            assert not merkle.verify_consistency(m, n, ref_mth(data[:m]), ref_mth(data[:-1] + [b"y"]), proof)


def test_every_size_up_to_64():
    for n in range(65):
        check_size(n)


def test_old_roots_and_prefix_roots_agree():
    data = entries(100)
    tree = merkle.MemoryTree([merkle.leaf_hash(d) for d in data])
    for m in range(101):
        assert merkle.root(tree, m) == ref_mth(data[:m])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=65, max_value=3000), st.data())
def test_random_larger_sizes(n, data):
    indexes = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5))
    olds = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=5))
    check_size(n, olds=olds, indexes=indexes)


def test_truncated_or_padded_proofs_fail():
    data = entries(37)
    tree = merkle.MemoryTree([merkle.leaf_hash(d) for d in data])
    root = merkle.root(tree)
    proof = merkle.inclusion_proof(tree, 5, 37)
    assert not merkle.verify_inclusion(5, 37, merkle.leaf_hash(data[5]), proof[:-1], root)
    assert not merkle.verify_inclusion(5, 37, merkle.leaf_hash(data[5]), proof + [root], root)
    cproof = merkle.consistency_proof(tree, 20, 37)
    old = merkle.root(tree, 20)
    assert not merkle.verify_consistency(20, 37, old, root, cproof[:-1])
    assert not merkle.verify_consistency(20, 37, old, root, cproof + [root])
    assert not merkle.verify_consistency(37, 20, root, old, cproof)  # a shrinking log is never consistent


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_range_and_the_blocks_around_it_rebuild_the_root(data):
    """What a ranged audit export relies on: [0,first) and [end,size) as aligned blocks + the range's leaves."""
    size = data.draw(st.integers(0, 200))
    first = data.draw(st.integers(0, size))
    end = data.draw(st.integers(first, size))
    entries = [f"e{i}".encode() for i in range(size)]
    full = merkle.MemoryTree([merkle.leaf_hash(e) for e in entries])
    nodes = {}
    for start, stop in ((0, first), (end, size)):
        blocks = merkle.aligned_blocks(start, stop)
        assert sum(1 << level for level, _ in blocks) == stop - start
        assert all((index << level) >= start and ((index + 1) << level) <= stop for level, index in blocks)
        nodes.update({(level, index): full.perfect(level, index) for level, index in blocks})
    nodes.update({(0, i): merkle.leaf_hash(entries[i]) for i in range(first, end)})
    assert merkle.root(merkle.PartialTree(size, nodes)) == ref_mth(entries)
    if first < end:  # one leaf short: the root cannot be rebuilt, and says which leaf
        del nodes[(0, end - 1)]
        try:
            merkle.root(merkle.PartialTree(size, nodes))
        except merkle.MissingNode as exc:
            assert f"leaf {end - 1}" in str(exc)
        else:
            raise AssertionError("a missing leaf went unnoticed")
