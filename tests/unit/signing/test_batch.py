"""Batch signatures (envelope v3, docs/signing.md section 3.3): one signature per batch over a
Merkle root of the records' signing inputs; every record verifies on its own."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.clock import FakeClock
from broker.errors import ConfigError, SignatureError
from broker.signing import algorithms, merkle
from broker.signing.envelope import (
    MAX_BATCH,
    PROOF_HEADER,
    SIGNATURE_HEADER,
    Header,
    parse_envelope,
    root_message,
)
from broker.signing.records import (
    Draft,
    SignedRecord,
    declaration_draft,
    declaration_record,
    receipt_draft,
    sign_batch,
)
from broker.signing.replay import MemoryReplayStore
from broker.signing.verify import RootCache, Verifier
from tests.unit.signing.conftest import (
    DATASCHEMA,
    RETENTION,
    START,
    VALUE,
    Corridor,
    make_verifier,
)

RECEIPT_SCHEMA = "urn:ilstc:schema:receipt.v1:crc64-avro:a3604426f59edded"


def _draft(corridor: Corridor, number: int, sender: str = "CN-CQ", to: str = "LA-VTE") -> Draft:
    return declaration_draft(
        corridor.nodes[sender],
        value=VALUE + b"%d" % number,
        message_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"batch {sender} {to} {number}")),
        reference=f"CQ2026{number:09d}",
        recipient=to,
        time=START,
        dataschema=DATASCHEMA,
    )


def _batch(corridor: Corridor, size: int, sender: str = "CN-CQ") -> list[SignedRecord]:
    drafts = [_draft(corridor, number, sender) for number in range(size)]
    return sign_batch(corridor.nodes[sender], drafts)


def _with(headers: tuple[Header, ...], name: str, value: bytes | None) -> list[Header]:
    out = [(n, v) for n, v in headers if n != name]
    return out if value is None else [*out, (name, value)]


@pytest.fixture
def count_verifications(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls = []
    real = algorithms.verify

    def counting(key: algorithms.VerifyingKey, signature: bytes, data: bytes) -> None:
        calls.append(data)
        real(key, signature, data)

    monkeypatch.setattr(algorithms, "verify", counting)
    return lambda: len(calls)


def test_a_batch_of_declarations_and_receipts_verifies_record_by_record(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    keys = corridor.keystore()
    sender = corridor.nodes["CN-CQ"]
    receipt = receipt_draft(
        sender,
        value=b"receipt-avro",
        message_id=str(uuid.uuid4()),
        referenced_message_id=str(uuid.uuid4()),
        recipient="LA-VTE",
        time=START,
        dataschema=RECEIPT_SCHEMA,
        seal_to=keys.current_key("LA-VTE", START),
    )
    drafts = [_draft(corridor, 0), receipt, _draft(corridor, 2), _draft(corridor, 3)]
    records = sign_batch(sender, drafts)
    signatures = {dict(r.headers)[SIGNATURE_HEADER] for r in records}
    assert len(signatures) == 1
    verifier = make_verifier(keys, FakeClock(START))
    for index, (draft, record) in enumerate(zip(drafts, records, strict=True)):
        assert (record.key, record.value) == (draft.key, draft.value)
        message = verifier.verify(record.headers, record.value)
        assert message.envelope.version == 3
        assert message.envelope.proof is not None
        assert (message.envelope.proof.leaf_index, message.envelope.proof.tree_size) == (index, 4)
        assert message.envelope.signing_input(record.value) == draft.envelope.signing_input(
            draft.value
        )
    assert count_verifications() == 1  # one root, verified once


def test_the_signature_signs_the_root_message_of_the_signing_inputs(corridor: Corridor) -> None:
    records = _batch(corridor, 5)
    inputs = [parse_envelope(r.headers).signing_input(r.value) for r in records]
    message = root_message(5, merkle.tree_hash(inputs))
    assert message.startswith(b"ilstc-ce-batch-v1\ntree-size=5\nroot-sha256=")
    assert len(message) == len(b"ilstc-ce-batch-v1\ntree-size=5\nroot-sha256=\n") + 64
    signature = base64.b64decode(dict(records[0].headers)[SIGNATURE_HEADER])
    public_key = corridor.nodes["CN-CQ"].signer.private_key.public_key()
    algorithms.verify(public_key, signature, message)
    assert dict(records[4].headers)[PROOF_HEADER].startswith(b"4;5;")  # the odd last leaf


def test_a_record_verifies_alone_without_the_rest_of_its_batch(corridor: Corridor) -> None:
    """A dead letter, an archive years later: one record, a fresh verifier, no batch."""
    record = _batch(corridor, 7)[3]
    message = make_verifier(corridor.keystore(), FakeClock(START)).verify(
        record.headers, record.value
    )
    assert message.sender == "CN-CQ"


def test_a_batch_of_one_and_an_ecdsa_batch(corridor: Corridor) -> None:
    keys = corridor.keystore()
    (single,) = _batch(corridor, 1)
    assert dict(single.headers)[PROOF_HEADER] == b"0;1;"
    make_verifier(keys, FakeClock(START)).verify(single.headers, single.value)
    thai = [_draft(corridor, n, sender="TH-BKK") for n in range(3)]
    verifier = make_verifier(keys, FakeClock(START))
    for record in sign_batch(corridor.nodes["TH-BKK"], thai):
        assert verifier.verify(record.headers, record.value).sender == "TH-BKK"


def test_the_per_record_path_is_unchanged(corridor: Corridor) -> None:
    draft = _draft(corridor, 0)
    record = declaration_record(
        corridor.nodes["CN-CQ"],
        value=draft.value,
        message_id=draft.envelope.id,
        reference=draft.key.decode(),
        recipient="LA-VTE",
        time=START,
        dataschema=DATASCHEMA,
    )
    assert PROOF_HEADER not in dict(record.headers)
    assert parse_envelope(record.headers).version == 2
    assert record.headers[:-1] == draft.envelope.attributes


def test_tampering_with_a_record_of_a_batch_is_a_bad_signature(corridor: Corridor) -> None:
    records = _batch(corridor, 5)
    good = records[3]
    proof = dict(good.headers)[PROOF_HEADER]
    path = proof.split(b";")[2]
    raw = bytearray(base64.b64decode(path))
    raw[40] ^= 0x01
    cases = {
        "value changed": (good.headers, good.value + b"x"),
        "path hash flipped": (
            _with(good.headers, PROOF_HEADER, b"3;5;" + base64.b64encode(bytes(raw))),
            good.value,
        ),
        "index changed": (_with(good.headers, PROOF_HEADER, b"2;5;" + path), good.value),
        "size changed": (_with(good.headers, PROOF_HEADER, b"3;6;" + path), good.value),
        "proof stripped": (_with(good.headers, PROOF_HEADER, None), good.value),
        "another record's proof": (
            _with(good.headers, PROOF_HEADER, dict(records[1].headers)[PROOF_HEADER]),
            good.value,
        ),
    }
    for name, (headers, value) in cases.items():
        verifier = make_verifier(corridor.keystore(), FakeClock(START))
        with pytest.raises(SignatureError) as caught:
            verifier.verify(headers, value)
        assert caught.value.code == "bad-signature", name


def test_a_made_up_proof_on_a_v2_record_is_a_bad_signature(corridor: Corridor) -> None:
    draft = _draft(corridor, 0)
    record = declaration_record(
        corridor.nodes["CN-CQ"],
        value=draft.value,
        message_id=draft.envelope.id,
        reference="CQ1",
        recipient="LA-VTE",
        time=START,
        dataschema=DATASCHEMA,
    )
    made_up = b"0;2;" + base64.b64encode(hashlib.sha256(b"sibling").digest())
    with pytest.raises(SignatureError, match="bad-signature"):
        make_verifier(corridor.keystore(), FakeClock(START)).verify(
            [*record.headers, (PROOF_HEADER, made_up)], record.value
        )


def test_a_cached_root_skips_no_other_check(corridor: Corridor) -> None:
    keys = corridor.keystore()
    clock = FakeClock(START)
    verifier = make_verifier(keys, clock)
    drafts = [_draft(corridor, 0), _draft(corridor, 1, to="VN-HAN")]
    first = sign_batch(corridor.nodes["CN-CQ"], drafts[:1])[0]
    verifier.mark_accepted(verifier.verify(first.headers, first.value))
    with pytest.raises(SignatureError, match="replay"):
        verifier.verify(first.headers, first.value)  # root cached, the id is not new
    keys.revoke(corridor.nodes["CN-CQ"].signer.key_id, START)
    with pytest.raises(SignatureError, match="revoked"):
        make_verifier(keys, clock).verify(first.headers, first.value)


def test_the_root_cache_is_bounded_and_remembers_successes_only(
    corridor: Corridor, count_verifications: Callable[[], int]
) -> None:
    keys = corridor.keystore()
    roots = RootCache(capacity=2)
    verifier = Verifier(
        node_id="LA-VTE",
        keys=keys,
        replay=MemoryReplayStore(RETENTION, FakeClock(START)),
        clock=FakeClock(START),
        roots=roots,
    )
    batches = [
        sign_batch(corridor.nodes["CN-CQ"], [_draft(corridor, 10 * b + n) for n in range(3)])
        for b in range(3)
    ]
    for batch in batches:
        for record in batch:
            verifier.release(verifier.verify(record.headers, record.value))
    assert (len(roots), count_verifications()) == (2, 3)
    first = batches[0][0]
    verifier.release(verifier.verify(first.headers, first.value))  # dropped: verified again
    assert (len(roots), count_verifications()) == (2, 4)
    forged = _with(batches[1][0].headers, SIGNATURE_HEADER, base64.b64encode(bytes(64)))
    for _ in range(2):
        with pytest.raises(SignatureError, match="bad-signature"):
            verifier.verify(forged, batches[1][0].value)
    assert (len(roots), count_verifications()) == (2, 6)  # failures are not remembered
    with pytest.raises(ConfigError):
        RootCache(capacity=0)


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        (b"", "is empty or longer than 1024 bytes"),
        (b"0;1", "is not <index>;<size>;<base64 path>"),
        (b"-1;2;", "is not <index>;<size>;<base64 path>"),
        (b" 0;1;", "is not <index>;<size>;<base64 path>"),
        (b"0;1;\n", "is not <index>;<size>;<base64 path>"),
        (b"00;1;", "leading zero"),
        (b"0;01;", "leading zero"),
        (b"0;0;", r"tree size 0 is not in 1\.\.1024"),
        (b"0;1025;", r"tree size 1025 is not in 1\.\.1024"),
        (b"5;5;", "index 5 is not below tree size 5"),
        (b"0;2;AAAA", "path of 3 bytes, not 32-byte hashes"),
        (b"0;2;" + base64.b64encode(bytes(32))[:-2] + b"B=", "not canonical base64"),
        (b"0;2;" + base64.b64encode(bytes(31))[:-2], "not base64"),
        (b"0;1;" + base64.b64encode(bytes(32)), "path holds 1 hashes, leaf 0 of a tree of 1"),
        (
            b"3;5;" + base64.b64encode(bytes(64)),
            "path holds 2 hashes, leaf 3 of a tree of 5 needs 3",
        ),
        (
            b"4;5;" + base64.b64encode(bytes(64)),
            "path holds 2 hashes, leaf 4 of a tree of 5 needs 1",
        ),
        (b"0;1;" + b"A" * 1021, "is empty or longer than 1024 bytes"),
    ],
)
def test_malformed_proofs_are_refused_with_a_precise_reason(
    corridor: Corridor, proof: bytes, reason: str
) -> None:
    record = _batch(corridor, 2)[0]
    with pytest.raises(SignatureError, match=f"malformed-envelope: header ce_sigproof.*{reason}"):
        parse_envelope(_with(record.headers, PROOF_HEADER, proof))


def test_a_proof_cannot_be_signed_nor_ride_on_a_v1_record(corridor: Corridor) -> None:
    record = _batch(corridor, 2)[0]
    headers = dict(record.headers)
    listing = b",".join(sorted([*headers["ce_sigheaders"].split(b","), b"ce_sigproof"]))
    with pytest.raises(SignatureError, match="ce_sigheaders lists ce_sigproof"):
        parse_envelope(_with(record.headers, "ce_sigheaders", listing))
    with pytest.raises(SignatureError, match="ce_sigproof on a v1 record"):
        parse_envelope(_with(record.headers, "ce_sigheaders", None))


def test_a_batch_is_for_one_recipient_of_1_to_1024_records_signed_by_their_key(
    corridor: Corridor,
) -> None:
    sender = corridor.nodes["CN-CQ"]
    with pytest.raises(ConfigError, match="one recipient"):
        sign_batch(sender, [_draft(corridor, 0), _draft(corridor, 1, to="VN-HAN")])
    with pytest.raises(ConfigError, match="1 to 1024"):
        sign_batch(sender, [])
    one = _draft(corridor, 0)
    with pytest.raises(ConfigError, match="1 to 1024"):
        sign_batch(sender, [one] * (MAX_BATCH + 1))
    with pytest.raises(ConfigError, match="another key"):
        sign_batch(corridor.nodes["VN-HAN"], [one])
    assert len(sign_batch(sender, [one] * MAX_BATCH)) == MAX_BATCH


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda i, n, path: b"%d;%d;%s" % (i, n, base64.b64encode(path)),
            st.integers(-2, 1100),
            st.integers(-2, 1100),
            st.binary(max_size=12 * 32),
        ),
    )
)
def test_any_proof_header_parses_fully_checked_or_is_malformed(
    corridor: Corridor, proof: bytes
) -> None:
    headers = _with(_batch(corridor, 2)[0].headers, PROOF_HEADER, proof)
    try:
        envelope = parse_envelope(headers)
    except SignatureError as exc:
        code = exc.code
    else:
        code = "parsed"
    assert code in ("parsed", "malformed-envelope")
    if code != "parsed":
        return
    parsed = envelope.proof
    assert parsed is not None
    assert 0 <= parsed.leaf_index < parsed.tree_size <= MAX_BATCH
    assert len(parsed.path) == merkle.proof_length(parsed.leaf_index, parsed.tree_size)
    assert parsed.header() == proof


DOCS = Path(__file__).resolve().parents[3] / "docs" / "signing.md"
KIT = Path(__file__).resolve().parents[3] / "conformance" / "vectors.json"


def _worked_example() -> tuple[str, dict[str, Any], str]:
    """Section 3.3's worked example, its vector, and the vector's sender's public key PEM."""
    text = DOCS.read_text("utf-8")
    start = text.index('#### Worked example (conformance vector "batch of 5, leaf 4")')
    example = text[start : text.index("## 4. Verification", start)]
    kit = json.loads(KIT.read_text("utf-8"))
    (vector,) = [v for v in kit["vectors"] if v["name"] == "batch of 5, leaf 4"]
    return example, vector, kit["node_keys"]["CN-CQ"]["public_key_pem"]


def test_the_worked_example_of_the_documentation_is_the_vector() -> None:
    example, vector, public_key = _worked_example()
    headers = {name: base64.b64decode(value) for name, value in vector["headers"]}
    leaf = base64.b64decode(vector["expected"]["signing_input_base64"])
    message = base64.b64decode(vector["expected"]["root_message_base64"])
    path = base64.b64decode(headers[PROOF_HEADER].split(b";")[2])
    root = merkle.node_hash(path, merkle.leaf_hash(leaf))
    assert message == root_message(5, root)
    for shown in (
        f"ce_signature: {headers[SIGNATURE_HEADER].decode()}",
        f"ce_sigproof: {headers[PROOF_HEADER].decode()}",
        f"leaf hash  {merkle.leaf_hash(leaf).hex()}",
        f"path[0]    {path.hex()}",
        f"root       {root.hex()}",
        message.decode(),
        public_key,
        f"{len(leaf)}-byte v2 signing input",
        f"Root message ({len(message)} bytes)",
    ):
        assert shown in example


@pytest.mark.interop
@pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("xxd") is None, reason="needs openssl, xxd"
)
def test_the_worked_example_commands_verify_with_openssl(tmp_path: Path) -> None:
    example, vector, _ = _worked_example()
    script = example[example.index("```sh\n") + 6 :]
    script = script[: script.index("```")]
    signature = dict(vector["headers"])[SIGNATURE_HEADER]
    script = script.replace("ECcoujxS...tDrMZZCQ==", base64.b64decode(signature).decode())
    (tmp_path / "leaf.bin").write_bytes(
        base64.b64decode(vector["expected"]["signing_input_base64"])
    )
    done = subprocess.run(
        ["/bin/bash", "-e", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Signature Verified Successfully" in done.stdout, done.stderr
    root = base64.b64decode(vector["expected"]["root_message_base64"])
    assert (tmp_path / "root.bin").read_bytes() == root
