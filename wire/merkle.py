"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right), and the
tree over n leaves splits at the largest power of two below n. The hub builds
proofs from a `Tree` that can answer the hash of any *perfect* aligned subtree
(2^level leaves starting at a multiple of 2^level) — stored, so a proof costs
O(log n) lookups; the appliance (witness) and the offline verifier only need
the `verify_*` functions. `MemoryTree` is the in-memory `Tree`.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree(Protocol):
    def size(self) -> int: ...

    def perfect(self, level: int, index: int) -> bytes:
        """Hash of leaves [index·2^level, (index+1)·2^level), all present."""
        ...


def range_hash(tree: Tree, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) where the range is one the RFC recursion produces."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        return tree.perfect(n.bit_length() - 1, start // n)
    k = split(n)
    return node_hash(range_hash(tree, start, start + k), range_hash(tree, start + k, end))


def root(tree: Tree, size: int | None = None) -> bytes:
    return range_hash(tree, 0, tree.size() if size is None else size)


def inclusion_proof(tree: Tree, index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size])."""
    if not 0 <= index < size <= tree.size():
        raise ValueError(f"no leaf {index} in a tree of {size} (log size {tree.size()})")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            proof.append(range_hash(tree, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(tree, start, start + k))
            start += k
    return proof[::-1]


def consistency_proof(tree: Tree, old: int, new: int) -> list[bytes]:
    """RFC 6962 PROOF(old, D[0:new])."""
    if not 0 <= old <= new <= tree.size():
        raise ValueError(f"no consistency proof from {old} to {new} (log size {tree.size()})")
    if old == 0 or old == new:
        return []
    proof: list[bytes] = []
    start, end, complete = 0, new, True
    m = old
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(range_hash(tree, start, end))
            break
        k = split(n)
        if m <= k:
            proof.append(range_hash(tree, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(tree, start, start + k))
            start += k
            m -= k
            complete = False
    return proof[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2 (a proof from the empty tree is empty and always holds)."""
    if old < 0 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def aligned_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as the fewest perfect aligned subtrees, left to right, each as (level, index).

    A ranged export carries these for the leaves it leaves out ([0, first) and
    [end, size)), so the verifier can still recompute the signed root.
    """
    blocks = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        blocks.append((level, start >> level))
        start += 1 << level
    return blocks


class MissingNode(LookupError):
    pass


class PartialTree:
    """A tree of `size` leaves of which only some perfect subtrees are known; the rest is derived on demand."""

    def __init__(self, size: int, nodes: dict[tuple[int, int], bytes] | None = None):
        self._size = size
        self.nodes: dict[tuple[int, int], bytes] = dict(nodes or {})

    def size(self) -> int:
        return self._size

    def perfect(self, level: int, index: int) -> bytes:
        known = self.nodes.get((level, index))
        if known is not None:
            return known
        if level == 0:
            raise MissingNode(f"leaf {index} is neither given nor covered by a given subtree")
        value = node_hash(self.perfect(level - 1, 2 * index), self.perfect(level - 1, 2 * index + 1))
        self.nodes[(level, index)] = value
        return value


class MemoryTree:
    """Every perfect subtree kept by level: append is O(log n), lookups O(1)."""

    def __init__(self, leaves: Sequence[bytes] = ()):
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the (level, index, hash) nodes it completed, the leaf included."""
        added = [(0, len(self.levels[0]), leaf)]
        self.levels[0].append(leaf)
        level, index = 0, len(self.levels[0]) - 1
        while index & 1:
            parent = node_hash(self.levels[level][index - 1], self.levels[level][index])
            level, index = level + 1, index >> 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(parent)
            added.append((level, index, parent))
        return added

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]
