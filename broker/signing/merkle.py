"""RFC 9162 (Certificate Transparency 2.0) Merkle trees over SHA-256, for batch signatures.

Pure and small: the tree hash of a list of leaves (section 2.1.1), the inclusion proof of one leaf
(section 2.1.3.1) and the root an inclusion proof leads to (section 2.1.3.2). The tree is the
RFC's: a lone last node is carried up a level, never duplicated or padded, so every (index, size)
has exactly one proof length (`proof_length`), which the envelope parser checks before hashing.

The level-by-level build below (pair neighbours, carry the odd last one up) gives the same tree as
the RFC's recursive split at the largest power of two below n; tests/unit/signing/test_merkle.py
checks both against each other and against the Certificate Transparency test vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
MAX_TREE_SIZE = 1024  # leaves of one batch (docs/signing.md section 3.3): <= 10 proof hashes
_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return _sha256(_NODE + left + right).digest()


class MerkleTree:
    """Every level of the tree over `leaf_hashes` (at least one), built once; `root` and
    `proof(index)` read it, so proofs for the whole batch cost no further hashing."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        if not leaf_hashes:
            raise ValueError("a Merkle tree needs at least one leaf")
        level = list(leaf_hashes)
        levels = [level]
        while len(level) > 1:
            paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:  # the lone last node goes up as it is (RFC 9162, no duplication)
                paired.append(level[-1])
            levels.append(paired)
            level = paired
        self._levels = levels

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def proof(self, index: int) -> tuple[bytes, ...]:
        """PATH(index, D[size]) of RFC 9162 section 2.1.3.1: sibling hashes, leaf to root."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} of a tree of {self.size}")
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):  # no sibling: this node was carried up
                path.append(level[sibling])
            index >>= 1
        return tuple(path)


def proof_length(index: int, size: int) -> int:
    """How many hashes the inclusion proof of leaf `index` in a tree of `size` holds (the number
    the RFC 9162 section 2.1.3.2 verification consumes), for 0 <= index < size."""
    count = 0
    last = size - 1
    while last:
        if index & 1 or index != last:  # this node has a sibling at this level
            count += 1
        index >>= 1
        last >>= 1
    return count


def root_from_proof(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that `path` leads to from the leaf hash `leaf` (RFC 9162 section 2.1.3.2, steps
    up to the comparison, which is the caller's: here, the signature over the root message).

    `path` must hold exactly `proof_length(index, size)` hashes (`ValueError` otherwise)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not below size {size}")
    fn, sn, root = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ValueError("the inclusion proof holds too many hashes")
        if fn & 1 or fn == sn:
            root = _sha256(_NODE + sibling + root).digest()
            while not fn & 1 and fn:  # the carried-up levels have no sibling
                fn >>= 1
                sn >>= 1
        else:
            root = _sha256(_NODE + root + sibling).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the inclusion proof holds too few hashes")
    return root


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1 over the leaf data `leaves` (at least one)."""
    return MerkleTree([leaf_hash(data) for data in leaves]).root
