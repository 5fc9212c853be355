"""broker.signing.merkle: RFC 9162 tree hash, inclusion proofs and their verification.

Known answers: the Certificate Transparency test vectors (leaves d0..d7 and the roots of the trees
of their first 1..8 leaves; the inclusion proofs of leaves 0 and 5 in the 8-leaf tree), as in the
certificate-transparency project's merkle tests (github.com/google/certificate-transparency,
python/ct/crypto/merkle_test.py) and transparency-dev/merkle. Beyond them, the level-by-level
tree is checked against the RFC's recursive definition written out below, for every size.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.signing import merkle

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOFS = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, literally: split at the largest power of two below n."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n]), literally."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _leaves(size: int) -> list[bytes]:
    return [b"leaf %d" % i for i in range(size)]


def test_the_certificate_transparency_roots() -> None:
    for size, root in enumerate(CT_ROOTS, start=1):
        assert merkle.tree_hash(CT_LEAVES[:size]).hex() == root


def test_the_certificate_transparency_inclusion_proofs() -> None:
    tree = merkle.MerkleTree([merkle.leaf_hash(d) for d in CT_LEAVES])
    for index, expected in CT_PROOFS.items():
        proof = tree.proof(index)
        assert [h.hex() for h in proof] == expected
        leaf = merkle.leaf_hash(CT_LEAVES[index])
        assert merkle.root_from_proof(index, 8, leaf, proof).hex() == CT_ROOTS[-1]


def test_every_size_up_to_70_is_the_recursive_definition() -> None:
    for size in range(1, 71):
        leaves = _leaves(size)
        tree = merkle.MerkleTree([merkle.leaf_hash(d) for d in leaves])
        assert tree.root == _mth(leaves)
        for index in range(size):
            assert list(tree.proof(index)) == _path(index, leaves)
            assert len(tree.proof(index)) == merkle.proof_length(index, size)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_leaf_of_any_batch_size_proves_its_root(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, merkle.MAX_TREE_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(size)]
    tree = merkle.MerkleTree(leaves)
    proof = tree.proof(index)
    assert len(proof) == merkle.proof_length(index, size) <= 10
    assert merkle.root_from_proof(index, size, leaves[index], proof) == tree.root


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_flipped_byte_or_another_index_or_size_leads_elsewhere(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, merkle.MAX_TREE_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(size)]
    tree = merkle.MerkleTree(leaves)
    proof = tree.proof(index)
    where = data.draw(st.integers(0, 32 * (len(proof) + 1) - 1), label="byte")
    bit = 1 << data.draw(st.integers(0, 7), label="bit")
    if where < 32:  # the leaf hash itself
        leaf = bytearray(leaves[index])
        leaf[where] ^= bit
        assert merkle.root_from_proof(index, size, bytes(leaf), proof) != tree.root
    else:
        flipped = bytearray(b"".join(proof))
        flipped[where - 32] ^= bit
        hashes = [bytes(flipped[i : i + 32]) for i in range(0, len(flipped), 32)]
        assert merkle.root_from_proof(index, size, leaves[index], hashes) != tree.root
    other_index = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="index2")
    other_size = data.draw(
        st.integers(1, merkle.MAX_TREE_SIZE).filter(lambda n: n != size and n > index),
        label="size2",
    )
    # What is signed is (size, root): leaf 0 of 257 and of 258 do reach the same root with the
    # same 9 hashes, so the root message must name the size (docs/signing.md section 3.3).
    for at, of in ((other_index, size), (index, other_size)):
        try:
            root = merkle.root_from_proof(at, of, leaves[index], proof)
        except ValueError:  # another length of proof: refused before any comparison
            assert merkle.proof_length(at, of) != len(proof)
        else:
            assert (of, root) != (size, tree.root)


def test_the_same_path_can_reach_the_same_root_in_another_size() -> None:
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(258)]
    proof = merkle.MerkleTree(leaves).proof(0)
    assert merkle.root_from_proof(0, 257, leaves[0], proof) == merkle.MerkleTree(leaves).root


def test_wrong_proof_lengths_are_refused() -> None:
    tree = merkle.MerkleTree(_leaves(5))
    proof = tree.proof(3)
    leaf = _leaves(5)[3]
    with pytest.raises(ValueError, match="too many"):
        merkle.root_from_proof(3, 5, leaf, [*proof, proof[0]])
    with pytest.raises(ValueError, match="too few"):
        merkle.root_from_proof(3, 5, leaf, proof[:-1])
    with pytest.raises(ValueError, match="not below"):
        merkle.root_from_proof(5, 5, leaf, proof)
    with pytest.raises(ValueError, match="at least one"):
        merkle.MerkleTree([])
    with pytest.raises(IndexError):
        tree.proof(5)


def test_the_lone_last_leaf_is_carried_up_not_duplicated() -> None:
    leaves = _leaves(3)
    tree = merkle.MerkleTree([merkle.leaf_hash(d) for d in leaves])
    duplicated = merkle.MerkleTree([merkle.leaf_hash(d) for d in [*leaves, leaves[-1]]])
    assert tree.root != duplicated.root
    assert tree.proof(2) == (merkle.node_hash(*map(merkle.leaf_hash, leaves[:2])),)
