"""Batch signatures (envelope v3) attacked from outside: a partner with a valid key, an operator
who writes any header, a plain Kafka client. Each test is one attack and what stops it
(docs/signing.md section 3.3; RFC 9162 section 2.1 for the tree)."""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.clock import FakeClock
from broker.directory.entries import DirectoryState, sign_entries
from broker.directory.load import load_corridor
from broker.errors import SignatureError
from broker.signing import algorithms, merkle
from broker.signing.envelope import (
    MAX_BATCH,
    PROOF_HEADER,
    SIGNATURE_HEADER,
    Header,
    parse_envelope,
    root_message,
)
from broker.signing.keydir import KeyDirectory
from broker.signing.keystore import KeyStore
from broker.signing.pki import create_ca, issue_node
from broker.signing.records import (
    SignedRecord,
    certificate_announcement,
    sign_batch,
    sign_record,
)
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import DEFAULT_ROOT_CACHE, RootCache, Verifier
from tests.unit.signing.conftest import RETENTION, START, Corridor, make_verifier
from tests.unit.signing.test_batch import _draft


def _batch(
    corridor: Corridor, size: int, sender: str = "CN-CQ", first: int = 0
) -> list[SignedRecord]:
    drafts = [_draft(corridor, first + number, sender) for number in range(size)]
    return sign_batch(corridor.nodes[sender], drafts)


def _refusal(verifier: Verifier, headers: list[Header] | tuple[Header, ...], value: bytes) -> str:
    with pytest.raises(SignatureError) as caught:
        verifier.verify(headers, value)
    return caught.value.code


def _path(record: SignedRecord) -> bytes:
    return dict(record.headers)[PROOF_HEADER].split(b";")[2]


def _with(
    headers: tuple[Header, ...] | list[Header], name: str, value: bytes | None
) -> list[Header]:
    out = [(n, v) for n, v in headers if n != name]
    return out if value is None else [*out, (name, value)]


@pytest.fixture
def count_verifications(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls: list[bytes] = []
    real = algorithms.verify

    def counting(key: algorithms.VerifyingKey, signature: bytes, data: bytes) -> None:
        calls.append(data)
        real(key, signature, data)

    monkeypatch.setattr(algorithms, "verify", counting)
    return lambda: len(calls)


def _verifier(corridor: Corridor, roots: RootCache) -> Verifier:
    clock = FakeClock(START)
    replay = MemoryReplayStore(RETENTION, clock)
    return Verifier(
        node_id="LA-VTE", keys=corridor.keystore(), replay=replay, clock=clock, roots=roots
    )


# ------------------------------------------------------------------ the tree
@pytest.mark.parametrize(("real_size", "claimed"), [(4, 3), (8, 5), (8, 6), (8, 7), (1024, 513)])
def test_a_proof_relabelled_to_a_smaller_tree_reaches_the_same_root_but_not_the_signature(
    corridor: Corridor, real_size: int, claimed: int
) -> None:
    """Leaf 0's path in a tree of 8 also leads to the same Merkle root when read as a tree of 5,
    6 or 7 (the right subtree is one opaque hash). Only `tree-size=` in the signed root message
    tells them apart: without it the attacker could claim any size."""
    records = _batch(corridor, real_size)
    record = records[0]
    envelope = parse_envelope(record.headers)
    assert envelope.proof is not None
    leaf = merkle.leaf_hash(envelope.signing_input(record.value))
    path = envelope.proof.path
    real_root = merkle.root_from_proof(0, real_size, leaf, path)
    assert merkle.root_from_proof(0, claimed, leaf, path) == real_root  # the attack's premise
    relabelled = _with(record.headers, PROOF_HEADER, b"0;%d;%s" % (claimed, _path(record)))
    assert parse_envelope(relabelled).proof is not None  # well-formed: the count fits
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    verifier.release(verifier.verify(record.headers, record.value))  # the real root is cached
    assert _refusal(verifier, relabelled, record.value) == "bad-signature"


def test_an_inner_node_cannot_pose_as_a_leaf() -> None:
    """Second preimage through an inner node (RFC 9162 2.1.1 domain separation): the 64 bytes
    of two child hashes, offered as one leaf of a tree of 1, lead to another root."""
    children = [merkle.leaf_hash(b"left"), merkle.leaf_hash(b"right")]
    inner = merkle.MerkleTree(children).root
    assert inner == hashlib.sha256(b"\x01" + children[0] + children[1]).digest()
    as_leaf = merkle.leaf_hash(children[0] + children[1])
    assert merkle.root_from_proof(0, 1, as_leaf, []) != inner
    assert merkle.leaf_hash(b"\x01" + children[0] + children[1]) != inner
    # A leaf is never the 0x01-hash of anything: a root message names another tree-size too.
    assert root_message(1, as_leaf) != root_message(2, inner)


def test_a_proof_from_another_batch_of_the_same_sender_is_a_bad_signature(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    first, second = _batch(corridor, 4), _batch(corridor, 4, first=100)
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    for record in (*first, *second):
        verifier.release(verifier.verify(record.headers, record.value))
    assert count_verifications() == 2  # both roots cached
    victim = first[1]
    for donor in second:  # the other batch's signature and proof, each index
        headers = _with(victim.headers, SIGNATURE_HEADER, dict(donor.headers)[SIGNATURE_HEADER])
        headers = _with(headers, PROOF_HEADER, dict(donor.headers)[PROOF_HEADER])
        assert _refusal(verifier, headers, victim.value) == "bad-signature"
    assert count_verifications() == 2 + 4  # every forgery paid its own verification, none cached


# ------------------------------------------------------------------ the root cache
def test_a_cached_root_does_not_serve_another_sender_nor_another_value(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    """The cache is keyed on (key id, root message, signature): a record only rides on a
    cached root if its own leaf leads to that very root under that very key."""
    keys = corridor.keystore()
    verifier = make_verifier(keys, FakeClock(START))
    records = _batch(corridor, 3)
    verifier.release(verifier.verify(records[0].headers, records[0].value))
    assert count_verifications() == 1
    # A record of the cached batch with another value: its leaf, so its root, differs.
    assert _refusal(verifier, records[1].headers, records[1].value + b"!") == "bad-signature"
    # VN-HAN's headers (its key id and source) with CN-CQ's cached signature and proof.
    vietnam = sign_batch(corridor.nodes["VN-HAN"], [_draft(corridor, 1, sender="VN-HAN")])[0]
    donor = dict(records[1].headers)
    forged = _with(vietnam.headers, SIGNATURE_HEADER, donor[SIGNATURE_HEADER])
    forged = _with(forged, PROOF_HEADER, donor[PROOF_HEADER])
    assert _refusal(verifier, forged, records[1].value) == "bad-signature"
    # CN-CQ's headers claiming VN-HAN's key id: a v3 record keeps every v2 binding.
    claimed = _with(records[1].headers, "ce_keyid", dict(vietnam.headers)["ce_keyid"])
    assert _refusal(verifier, claimed, records[1].value) in {"country-mismatch", "source-mismatch"}
    assert count_verifications() == 3  # the two forgeries were verified, not looked up


def test_the_cache_key_holds_the_key_id(corridor: Corridor) -> None:
    """RootCache alone: a (message, signature) pair cached under one key id is checked afresh
    under another, with that key."""
    cq, han = corridor.nodes["CN-CQ"].signer, corridor.nodes["VN-HAN"].signer
    message = root_message(2, hashlib.sha256(b"root").digest())
    signature = cq.sign(message)
    cache = RootCache()
    cache.verify(cq.key_id, cq.private_key.public_key(), signature, message)
    with pytest.raises(SignatureError, match="bad-signature"):
        cache.verify(han.key_id, han.private_key.public_key(), signature, message)
    other = root_message(3, hashlib.sha256(b"root").digest())  # same root, another tree-size
    with pytest.raises(SignatureError, match="bad-signature"):
        cache.verify(cq.key_id, cq.private_key.public_key(), signature, other)
    assert len(cache) == 1


def test_a_signer_flooding_the_cache_keeps_it_bounded_and_costs_others_one_check_per_batch(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    """A partner with a valid key signs more distinct roots than the cache holds: the cache
    stays at its capacity (and about 1 MB), and an honest batch still costs one verification."""
    cq = corridor.nodes["CN-CQ"].signer
    public = cq.private_key.public_key()
    cache = RootCache()
    tracemalloc.start()
    try:
        for n in range(DEFAULT_ROOT_CACHE + 100):
            message = root_message(1024, hashlib.sha256(b"%d" % n).digest())
            cache.verify(cq.key_id, public, cq.sign(message), message)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cache) == DEFAULT_ROOT_CACHE
    assert held < 4 * 1024 * 1024, held  # 4 096 entries of about 400 bytes
    verifier = _verifier(corridor, cache)
    flooded = count_verifications()
    for record in _batch(corridor, 5, sender="VN-HAN"):
        verifier.release(verifier.verify(record.headers, record.value))
    assert (count_verifications() - flooded, len(cache)) == (1, DEFAULT_ROOT_CACHE)


def test_records_with_made_up_roots_cost_one_verification_each_and_never_enter_the_cache(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    """A plain Kafka client rewrites the proof of a real record 200 times (each a distinct,
    well-formed path): 200 verifications, as 200 forged v2 records would cost, and no entry."""
    record = _batch(corridor, 2)[0]
    cache = RootCache()
    verifier = _verifier(corridor, cache)
    for n in range(200):
        path = base64.b64encode(hashlib.sha256(b"%d" % n).digest())
        headers = _with(record.headers, PROOF_HEADER, b"0;2;" + path)
        assert _refusal(verifier, headers, record.value) == "bad-signature"
    assert (count_verifications(), len(cache)) == (200, 0)


# ------------------------------------------------------------------ ce_sigproof syntax
@pytest.mark.parametrize(
    "proof",
    [
        b"+0;1;",
        b"0;+1;",
        b"-0;1;",
        b"0;-0;",
        b"0 ;1;",
        b"0; 1;",
        b"0;1; ",
        b"\t0;1;",
        b"0;1;\r",
        b"0x0;1;",
        b"0;1e3;",
        b"0;1_0;",
        b"0;1;;",
        b"0;;1;",
        b";;",
        b";1;",
        "\u0660;\u0661;".encode(),  # Arabic-Indic digits: int() would take them
        "\uff10;\uff11;".encode(),  # full-width digits: int() would take them too
        "0;\u00b9;".encode(),  # superscript one
        b"0;1;\xed\xa0\x80",  # an encoded surrogate
        b"0;1;\x00",
        b"1" * 1000 + b";1;",  # a 1000-digit number (int() cost grows with its length)
        b"0;" + b"9" * 1019 + b";",
        b"99999;99999;",
        b"0;100000;",
    ],
)
def test_odd_numbers_and_bytes_in_a_proof_are_malformed_before_any_int_or_hash(
    corridor: Corridor, proof: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _batch(corridor, 2)[0]
    hashed: list[tuple[int, int]] = []

    def proof_length(index: int, size: int) -> int:
        hashed.append((index, size))
        return 0

    monkeypatch.setattr(merkle, "proof_length", proof_length)
    with pytest.raises(SignatureError, match="malformed-envelope: header ce_sigproof"):
        parse_envelope(_with(record.headers, PROOF_HEADER, proof))
    assert not hashed


@pytest.mark.parametrize(
    "path",
    [
        base64.b64encode(bytes(32)).rstrip(b"="),  # padding dropped
        base64.b64encode(bytes(32)) + b"=",  # padding doubled
        base64.b64encode(bytes(32))[:20] + b"\n" + base64.b64encode(bytes(32))[20:],  # line break
        base64.b64encode(bytes(32))[:20] + b" " + base64.b64encode(bytes(32))[20:],
        base64.urlsafe_b64encode(b"\xfb\xff" * 16),  # the URL-safe alphabet ("-", "_")
        base64.b64encode(bytes(32))[:-2] + b"F=",  # unused bits set: not canonical
        b"=" + base64.b64encode(bytes(32))[:-1],
        base64.b64encode(bytes(33)),  # 33 bytes: not whole hashes
        base64.b64encode(bytes(64)),  # one hash too many for (0, 2)
        b"",  # one too few
    ],
)
def test_non_canonical_or_wrong_length_paths_are_malformed(corridor: Corridor, path: bytes) -> None:
    record = _batch(corridor, 2)[0]
    with pytest.raises(SignatureError, match="malformed-envelope: header ce_sigproof"):
        parse_envelope(_with(record.headers, PROOF_HEADER, b"0;2;" + path))


def test_two_proof_headers_or_a_misnamed_one(corridor: Corridor) -> None:
    record = _batch(corridor, 2)[0]
    proof = dict(record.headers)[PROOF_HEADER]
    with pytest.raises(SignatureError, match="duplicated header ce_sigproof"):
        parse_envelope([*record.headers, (PROOF_HEADER, proof)])
    with pytest.raises(SignatureError, match="invalid CloudEvents attribute header"):
        parse_envelope([*_with(record.headers, PROOF_HEADER, None), ("ce_sigproof ", proof)])
    # Not a ce_* header: ignored, so the record reads as v2 and its root signature fails.
    misnamed = [*_with(record.headers, PROOF_HEADER, None), ("CE_SIGPROOF", proof)]
    assert parse_envelope(misnamed).version == 2
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    assert _refusal(verifier, misnamed, record.value) == "bad-signature"


def test_the_longest_proofs_of_the_largest_batch_verify_and_one_more_hash_is_malformed(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    records = _batch(corridor, MAX_BATCH)
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    for record in records:
        envelope = verifier.verify(record.headers, record.value).envelope
        assert envelope.proof is not None
        assert len(envelope.proof.path) == 10
    assert count_verifications() == 1
    longest = max(len(dict(r.headers)[PROOF_HEADER]) for r in records)
    assert longest == len(b"1023;1024;") + 428 <= 1024
    last = records[-1]
    raw = base64.b64decode(_path(last))
    for wrong in (raw + raw[:32], raw[:-32]):
        headers = _with(last.headers, PROOF_HEADER, b"1023;1024;" + base64.b64encode(wrong))
        with pytest.raises(SignatureError, match="leaf 1023 of a tree of 1024 needs 10"):
            parse_envelope(headers)


# ------------------------------------------------------------------ replays
def test_a_batch_record_replayed_to_another_recipient_or_again_is_refused(
    corridor: Corridor,
) -> None:
    keys = corridor.keystore()
    clock = FakeClock(START)
    record = _batch(corridor, 3)[1]
    assert _refusal(make_verifier(keys, clock, node_id="VN-HAN"), record.headers, record.value) == (
        "wrong-recipient"
    )
    verifier = make_verifier(keys, clock)
    verifier.mark_accepted(verifier.verify(record.headers, record.value))
    assert _refusal(verifier, record.headers, record.value) == "replay"


@pytest.mark.parametrize("first_version", [2, 3])
def test_one_message_id_as_v2_and_as_v3_is_one_message(
    corridor: Corridor, first_version: int
) -> None:
    """The replay key is (ce_source, ce_id), whatever the envelope version: a v2 copy and a v3
    copy of one declaration cannot both be accepted."""
    draft = _draft(corridor, 7)
    v2 = sign_record(corridor.nodes["CN-CQ"], draft)
    (v3,) = sign_batch(corridor.nodes["CN-CQ"], [draft])
    assert (parse_envelope(v2.headers).version, parse_envelope(v3.headers).version) == (2, 3)
    first, second = (v2, v3) if first_version == 2 else (v3, v2)
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    verifier.mark_accepted(verifier.verify(first.headers, first.value))
    assert _refusal(verifier, second.headers, second.value) == "replay"
    # ... and while the first is still in flight (not yet delivered) too.
    fresh = make_verifier(corridor.keystore(), FakeClock(START))
    fresh.verify(first.headers, first.value)
    assert _refusal(fresh, second.headers, second.value) == "replay"


# ------------------------------------------------------------------ records that are never v3
def test_a_proof_added_to_a_key_announcement_or_a_directory_entry_is_a_bad_signature(
    corridor: Corridor,
) -> None:
    """Announcements and directory entries are signed per record (v2). A plain Kafka client
    adding `ce_sigproof` (a made-up one, or a real data record's signature and proof) makes them
    v3 records whose signature must sign a root message: refused, as the Java and Go kits do."""
    node = corridor.nodes["CN-CQ"]
    announcement = certificate_announcement(corridor.cas["CN"], node.certificate, at=START)
    data = _batch(corridor, 2)[0]
    grafted = _with(announcement.headers, SIGNATURE_HEADER, dict(data.headers)[SIGNATURE_HEADER])
    grafted = _with(grafted, PROOF_HEADER, dict(data.headers)[PROOF_HEADER])
    for headers in (_with(announcement.headers, PROOF_HEADER, b"0;1;"), grafted):
        with pytest.raises(SignatureError, match="bad-signature"):
            KeyDirectory(KeyStore(corridor.trust_list)).apply(
                headers, announcement.value, key=announcement.key
            )
    directory = KeyDirectory(KeyStore(corridor.trust_list))
    assert directory.apply(announcement.headers, announcement.value, key=announcement.key).changed

    clock = FakeClock(START)
    ca = create_ca("CN", clock=clock)
    secretariat = issue_node(ca, "CN-ILSTC", clock=clock)
    keys = KeyStore(TrustList([ca.certificate]))
    keys.add(secretariat.certificate)
    corridor_file = load_corridor(Path(__file__).resolve().parents[3] / "deploy" / "corridor.toml")
    entry, *_ = sign_entries(corridor_file, secretariat, at=START)
    with pytest.raises(SignatureError, match="bad-signature"):
        DirectoryState(keys, "CN-ILSTC").apply(
            _with(entry.headers, PROOF_HEADER, b"0;1;"), entry.value, entry.key
        )
    DirectoryState(keys, "CN-ILSTC").apply(list(entry.headers), entry.value, entry.key)
