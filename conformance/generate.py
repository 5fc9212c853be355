"""Generate the conformance kit: `conformance/vectors.json` and `conformance/fingerprints.json`.

    .venv/bin/python conformance/generate.py            # write both files
    .venv/bin/python conformance/generate.py --check    # exit 1 if the committed files differ

Everything is deterministic: keys from fixed seeds, fixed certificate serial numbers and times,
fixed ephemeral sealing keys, fixed message ids; Ed25519 signatures are deterministic, the ECDSA
vector is signed per RFC 6979 (CAs are Ed25519, so certificates are too). The records are built
with the project's own code (`broker.signing`), and every vector states the outcome
docs/signing.md requires; the test suite checks that the Python verifier agrees, and the Java and
Go verifiers in this folder check the same file. See conformance/README.md for the file format.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from broker.clock import FakeClock  # noqa: E402 - after the path set-up above
from broker.codec.avro import write_body  # noqa: E402
from broker.codec.framing import frame_single_object  # noqa: E402
from broker.codec.schemas import SchemaKind, SchemaSet, SchemaVersion  # noqa: E402
from broker.model.receipt import Receipt, ReceiptStatus  # noqa: E402
from broker.model.samples import sample_declaration  # noqa: E402
from broker.signing.algorithms import ECDSA_P256_SHA256, Signer  # noqa: E402
from broker.signing.envelope import (  # noqa: E402
    PROOF_HEADER,
    SIGNATURE_HEADER,
    TYPE_DECLARATION,
    TYPE_RECEIPT,
    Envelope,
    Header,
    Seal,
    batch_headers,
    batch_of,
    build_envelope,
    format_time,
    parse_envelope,
    signing_input,
)
from broker.signing.pki import (  # noqa: E402
    CertificateAuthority,
    NodeIdentity,
    certificate_pem,
    create_ca,
    issue_node,
)
from broker.signing.records import (  # noqa: E402
    certificate_announcement,
    revocation_announcement,
)
from broker.signing.seal import seal_value  # noqa: E402
from broker.signing.trust import NodeKey, TrustList, check_node_certificate  # noqa: E402

VECTORS = ROOT / "conformance" / "vectors.json"
DETERMINISTIC_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
FINGERPRINTS = ROOT / "conformance" / "fingerprints.json"

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 8, 10, tzinfo=UTC)
SENT = datetime(2026, 11, 29, 8, 5, tzinfo=UTC)
APPENDED = SENT + timedelta(seconds=1)
BEFORE_REVOCATION = datetime(2026, 11, 29, 7, 50, tzinfo=UTC)
ALLOWED_SKEW = timedelta(minutes=5)
REPLAY_RETENTION = timedelta(days=7)
RECEIVER = "LA-VTE"
# The schema versions the message vectors are written with: fixed, so that adding a schema
# version changes fingerprints.json only.
DECLARATION_VERSION, RECEIPT_VERSION = 2, 1


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"ilstc-conformance-v1 " + label.encode()).digest()


def _ed25519(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_seed(label))


def _x25519(label: str) -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.from_private_bytes(_seed("x25519 " + label))


def _mid(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:ilstc:conformance:" + label))


def _serial(label: str) -> int:
    return int.from_bytes(_seed("serial " + label)[:8], "big") >> 1 or 1


class Pki:
    """The corridor of the vectors: CAs CN and LA in the trust list, a rogue CN CA outside it."""

    def __init__(self) -> None:
        clock = FakeClock(ISSUED)
        self.cas = {c: self._ca(c, clock) for c in ("CN", "LA", "TH")}
        self.rogue = self._ca("CN", clock, label="rogue CN")
        self.trust_list = TrustList(ca.certificate for ca in self.cas.values())
        self.nodes: dict[str, NodeIdentity] = {}
        for node_id in ("CN-CQ", "CN-KM", "LA-VTE", "LA-LPQ"):
            self.nodes[node_id] = self._node(self.cas[node_id[:2]], node_id, clock)
        # An ECDSA P-256 node (the CA stays Ed25519, so that its certificate is reproducible).
        self.nodes["TH-BKK"] = issue_node(
            self.cas["TH"],
            "TH-BKK",
            clock=clock,
            algorithm=ECDSA_P256_SHA256,
            key=ec.derive_private_key(int.from_bytes(_seed("node TH-BKK"), "big"), ec.SECP256R1()),
            sealing_key=_x25519("TH-BKK"),
            serial_number=_serial("node TH-BKK"),
        )
        self.nodes["CN-NEW"] = self._node(self.cas["CN"], "CN-NEW", clock)  # announced only
        self.nodes["CN-ROGUE"] = self._node(self.rogue, "CN-ROGUE", clock)
        self.nodes["CN-OLD"] = self._node(
            self.cas["CN"], "CN-OLD", clock, validity=timedelta(days=120)
        )
        self.nodes["CN-LEAK"] = self._node(self.cas["CN"], "CN-LEAK", clock)
        self.nodes["CN-NOCERT"] = self._node(self.cas["CN"], "CN-NOCERT", clock)

    @staticmethod
    def _ca(country: str, clock: FakeClock, label: str = "") -> CertificateAuthority:
        label = label or f"ca {country}"
        return create_ca(country, clock=clock, key=_ed25519(label), serial_number=_serial(label))

    @staticmethod
    def _node(
        ca: CertificateAuthority,
        node_id: str,
        clock: FakeClock,
        validity: timedelta = timedelta(days=730),
    ) -> NodeIdentity:
        return issue_node(
            ca,
            node_id,
            clock=clock,
            validity=validity,
            key=_ed25519("node " + node_id),
            sealing_key=_x25519(node_id),
            serial_number=_serial("node " + node_id),
        )

    def key_of(self, node_id: str) -> NodeKey:
        return check_node_certificate(self.nodes[node_id].certificate, self.trust_list)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _headers_json(headers: Sequence[Header]) -> list[list[str]]:
    return [[name, _b64(value)] for name, value in headers]


def _replace(headers: Sequence[Header], name: str, value: bytes | None) -> list[Header]:
    """`headers` with `name` set to `value` (appended when absent, removed when None)."""
    out = [(n, v) for n, v in headers if n != name]
    if value is not None:
        out.append((name, value))
    return out


def _resign(headers: Sequence[Header], value: bytes, signer: Signer) -> list[Header]:
    """Sign whatever `headers` say (a writer that breaks a rule but signs correctly)."""
    unsigned = [h for h in headers if h[0] != SIGNATURE_HEADER]
    signature = signer.sign(signing_input(unsigned, value))
    return [*unsigned, (SIGNATURE_HEADER, base64.b64encode(signature))]


def _raw_signing_input(headers: Sequence[Header], value: bytes) -> bytes:
    """The v2 signing input by the spec's steps, for headers the parser would refuse."""
    values = dict(headers)
    names = [*values["ce_sigheaders"].decode().split(","), "ce_sigheaders"]
    lines = b"".join(n.encode() + b"=" + values[n] + b"\n" for n in sorted(names))
    digest = hashlib.sha256(value).hexdigest().encode()
    return b"ilstc-ce-signature-v2\n" + lines + b"value-sha256=" + digest + b"\n"


def _force_sign(headers: Sequence[Header], value: bytes, signer: Signer) -> list[Header]:
    unsigned = [h for h in headers if h[0] != SIGNATURE_HEADER]
    signature = signer.sign(_raw_signing_input(unsigned, value))
    return [*unsigned, (SIGNATURE_HEADER, base64.b64encode(signature))]


def _non_canonical(encoded: bytes) -> bytes:
    """The same bytes in base64 with a padding bit set (decoders that do not check accept it)."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = encoded.rstrip(b"=")
    flipped = alphabet[alphabet.index(last[-1:]) ^ 1]
    return last[:-1] + bytes([flipped]) + encoded[len(last) :]


def normalized(node: Any) -> Any:
    """The kit's decoded-JSON form of an Avro datum read without logical types (README)."""
    if isinstance(node, bytes):
        return node.hex()
    if isinstance(node, dict):
        return {key: normalized(value) for key, value in node.items()}
    if isinstance(node, list):
        return [normalized(value) for value in node]
    return node


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


def decoded_json(version: SchemaVersion, framed: bytes) -> Any:
    plain = fastavro.parse_schema(_strip_logical(version.schema.definition), named_schemas={})
    stream = io.BytesIO(framed[10:])
    return normalized(fastavro.schemaless_reader(stream, plain, None))


class Kit:
    def __init__(self) -> None:
        self.pki = Pki()
        self.schemas = SchemaSet(ROOT / "schemas")
        self.declaration_schema = self._version(SchemaKind.DECLARATION, DECLARATION_VERSION)
        self.receipt_schema = self._version(SchemaKind.RECEIPT, RECEIPT_VERSION)
        self.vectors: list[dict[str, Any]] = []
        declaration = sample_declaration(3, reference="CQ2026112900001").model_copy(
            update={"message_id": uuid.UUID(_mid("declaration"))}
        )
        self.reference = declaration.functional_reference
        self.declaration = self._encode(self.declaration_schema, declaration.model_dump())
        receipt = Receipt(
            message_id=uuid.UUID(_mid("receipt")),
            referenced_message_id=uuid.UUID(_mid("declaration sent by LA-VTE")),
            received_sha256=hashlib.sha256(b"the record LA-VTE sent").digest(),
            receiving_node="CN-CQ",
            status=ReceiptStatus.ACCEPTED,
            issue_time=SENT,
        )
        self.receipt = self._encode(self.receipt_schema, receipt.model_dump())

    def _version(self, kind: SchemaKind, number: int) -> SchemaVersion:
        return next(v for v in self.schemas.versions(kind) if v.version == number)

    @staticmethod
    def _encode(version: SchemaVersion, record: Mapping[str, Any]) -> bytes:
        return frame_single_object(version.fingerprint, write_body(version.schema, record))

    # ------------------------------------------------------------------ building blocks
    def unsigned(
        self,
        sender: str = "CN-CQ",
        *,
        label: str = "declaration",
        value: bytes | None = None,
        type: str = TYPE_DECLARATION,
        time: datetime = SENT,
        recipient: str = RECEIVER,
        source: str | None = None,
        seal: Seal | None = None,
        dataschema: str | None = None,
        subject: str | None = None,
    ) -> tuple[Envelope, bytes]:
        identity = self.pki.nodes[sender]
        value = self.declaration if value is None else value
        envelope = build_envelope(
            message_id=_mid(label),
            source=source or identity.source,
            type=type,
            time=time,
            content_type="application/avro",
            signer=identity.signer,
            subject=subject or self.reference,
            dataschema=dataschema or self.declaration_schema.uri,
            recipient=recipient,
            seal=seal,
        )
        return envelope, value

    def _sign(self, sender: str, data: bytes) -> bytes:
        key = self.pki.nodes[sender].signer.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):  # RFC 6979: reproducible ECDSA
            return key.sign(data, DETERMINISTIC_ECDSA)
        return key.sign(data)

    def signed(self, sender: str = "CN-CQ", **attributes: Any) -> tuple[list[Header], bytes]:
        """One record signed on its own (envelope v2); `attributes` as `unsigned`."""
        envelope, value = self.unsigned(sender, **attributes)
        signature = self._sign(sender, envelope.signing_input(value))
        return [*envelope.attributes, (SIGNATURE_HEADER, base64.b64encode(signature))], value

    def batch(
        self, sender: str, records: Sequence[tuple[Envelope, bytes]]
    ) -> list[tuple[list[Header], bytes]]:
        """`records` signed as one batch (envelope v3, docs/signing.md section 3.3)."""
        batch = batch_of(records)
        signed = batch_headers(records, batch, self._sign(sender, batch.message))
        return [(headers, value) for headers, (_, value) in zip(signed, records, strict=True)]

    def add(
        self,
        name: str,
        kind: str,
        headers: Sequence[Header],
        value: bytes,
        expected: dict[str, Any],
        *,
        key: bytes | None = None,
        why: str = "",
        appended_at: datetime | None = None,
    ) -> None:
        vector: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "why": why,
            "key_base64": None if key is None else _b64(key),
            "headers": _headers_json(headers),
            "value_base64": _b64(value),
            "expected": expected,
        }
        if kind == "message":  # the broker's append time (inbox topics use LogAppendTime)
            vector["appended_at"] = format_time(appended_at or APPENDED)
        self.vectors.append(vector)

    def accepted(
        self,
        name: str,
        headers: Sequence[Header],
        value: bytes,
        plain: bytes,
        schema: SchemaVersion,
        why: str,
        appended_at: datetime | None = None,
    ) -> None:
        sender = dict(headers)["ce_source"].decode().rsplit(":", 1)[1]
        expected = {
            "outcome": "accept",
            "sender": sender,
            "signing_input_base64": _b64(signing_input(headers, value)),
            "plaintext_base64": _b64(plain),
            "decoded": decoded_json(schema, plain),
        }
        envelope = parse_envelope(headers)
        if envelope.proof is not None:  # v3: the signing input is the leaf; the key signed this
            expected["root_message_base64"] = _b64(envelope.signed_message(value))
        key = dict(headers)["ce_subject"]
        self.add(
            name, "message", headers, value, expected, key=key, why=why, appended_at=appended_at
        )

    def refused(
        self,
        name: str,
        headers: Sequence[Header],
        value: bytes,
        code: str,
        why: str,
        appended_at: datetime | None = None,
    ) -> None:
        expected = {"outcome": "refuse", "code": code}
        key = self.reference.encode()
        self.add(
            name, "message", headers, value, expected, key=key, why=why, appended_at=appended_at
        )

    # ------------------------------------------------------------------ the vectors
    def messages(self) -> None:
        pki = self.pki
        headers, value = self.signed()
        self.accepted(
            "signed declaration",
            headers,
            value,
            value,
            self.declaration_schema,
            "a plain declaration CN-CQ -> LA-VTE",
        )
        laos = pki.key_of(RECEIVER)
        sealed_value, seal = seal_value(
            self.declaration,
            sender="CN-CQ",
            recipient=laos,
            message_id=_mid("sealed declaration"),
            ephemeral=_x25519("ephemeral sealed declaration"),
        )
        sealed, _ = self.signed(label="sealed declaration", value=sealed_value, seal=seal)
        self.accepted(
            "sealed declaration",
            sealed,
            sealed_value,
            self.declaration,
            self.declaration_schema,
            "sealed to LA-VTE's X25519 key (docs/signing.md section 7); unseal, then decode",
        )
        receipt_headers, receipt = self.signed(
            label="receipt",
            value=self.receipt,
            type=TYPE_RECEIPT,
            dataschema=self.receipt_schema.uri,
            subject=_mid("declaration sent by LA-VTE"),
        )
        self.accepted(
            "signed receipt",
            receipt_headers,
            receipt,
            receipt,
            self.receipt_schema,
            "CN-CQ acknowledges a declaration LA-VTE sent",
        )
        relayed = [
            *headers,
            ("ce_partitionkey", self.reference.encode()),
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ]
        self.accepted(
            "relayed with unsigned extensions",
            relayed,
            value,
            value,
            self.declaration_schema,
            "a CloudEvents relay added ce_partitionkey and traceparent, not in ce_sigheaders",
        )
        myanmar = _resign(
            _replace(headers, "ce_time", b"2026-11-29T14:35:00.123456789+06:30"),
            value,
            pki.nodes["CN-CQ"].signer,
        )
        self.accepted(
            "ce_time with an offset and 9 fraction digits",
            myanmar,
            value,
            value,
            self.declaration_schema,
            "any RFC 3339 form is accepted: 08:05:00.123456 UTC",
        )
        legacy = [
            (n, b"7a3f9c21d04e8b56" if n == "ce_dataschema" else v)
            for n, v in headers
            if n not in ("ce_sigheaders", SIGNATURE_HEADER)
        ]
        legacy = _resign(legacy, value, pki.nodes["CN-CQ"].signer)
        self.accepted(
            "legacy envelope v1",
            legacy,
            value,
            value,
            self.declaration_schema,
            "no ce_sigheaders: every ce_* header is covered, magic ilstc-ce-signature-v1",
        )
        thai, _ = self.signed("TH-BKK", label="ecdsa declaration")
        self.accepted(
            "ECDSA P-256 signed declaration",
            thai,
            value,
            value,
            self.declaration_schema,
            "ce_sigalg ecdsa-p256-sha256: SHA-256 of the signing input, DER signature (RFC 6979)",
        )
        early, _ = self.signed("CN-LEAK", label="before the leak", time=BEFORE_REVOCATION)
        self.accepted(
            "a revoked key's message from before the revocation",
            early,
            value,
            value,
            self.declaration_schema,
            "dated 07:50, appended 07:50:01: judged at 07:50, before revoked_at 08:00",
            appended_at=BEFORE_REVOCATION + timedelta(seconds=1),
        )
        self._refusals(headers, value)
        backdated, _ = self.signed("CN-LEAK", label="backdated", time=BEFORE_REVOCATION)
        self.refused(
            "a revoked key backdates ce_time",
            backdated,
            value,
            "revoked",
            "dated 07:50 but appended 08:05:01: judged at 08:00:01 (append time - allowed skew)",
        )
        expired, _ = self.signed("CN-OLD", label="expired backdated", time=ISSUED + timedelta(90))
        self.refused(
            "an expired certificate backdates ce_time",
            expired,
            value,
            "certificate-not-valid-at-time",
            "dated in CN-OLD's validity, appended months after it ended",
        )
        self.batches(headers, value, legacy)

    def _refusals(self, headers: list[Header], value: bytes) -> None:
        pki = self.pki
        signer = pki.nodes["CN-CQ"].signer
        malformed = "malformed-envelope"
        listing = dict(headers)["ce_sigheaders"].decode().split(",")
        signature = dict(headers)[SIGNATURE_HEADER]
        unlisted = ",".join(n for n in listing if n != "ce_recipient").encode()
        cases: list[tuple[str, list[Header], str, str]] = [
            (
                "a required header is not signed",
                _force_sign(_replace(headers, "ce_sigheaders", unlisted), value, signer),
                malformed,
                "ce_sigheaders leaves out ce_recipient, which is present",
            ),
            (
                "ce_sigheaders not sorted",
                _force_sign(
                    _replace(headers, "ce_sigheaders", ",".join(reversed(listing)).encode()),
                    value,
                    signer,
                ),
                malformed,
                "the list must be in ascending ASCII order",
            ),
            (
                "ce_id is not a UUID",
                _force_sign(_replace(headers, "ce_id", b"CN-CQ-20261129-00000001"), value, signer),
                malformed,
                "ids are lower-case RFC 9562 UUIDs",
            ),
            (
                "ce_id in upper case",
                _force_sign(
                    _replace(headers, "ce_id", _mid("declaration").upper().encode()), value, signer
                ),
                malformed,
                "ids are lower-case RFC 9562 UUIDs",
            ),
            (
                "ce_time without an offset",
                _force_sign(_replace(headers, "ce_time", b"2026-11-29T08:05:00"), value, signer),
                malformed,
                "RFC 3339 requires Z or an offset",
            ),
            (
                "ce_dataschema not a URI",
                _force_sign(_replace(headers, "ce_dataschema", b"7a3f9c21d04e8b56"), value, signer),
                malformed,
                "v2 requires an absolute URI",
            ),
            (
                "ce_signature not canonical base64",
                _replace(headers, SIGNATURE_HEADER, _non_canonical(signature)),
                malformed,
                "re-encoding the decoded bytes must give the value back",
            ),
            (
                "ce_source is a CA",
                _force_sign(_replace(headers, "ce_source", b"urn:ilstc:ca:CN"), value, signer),
                malformed,
                "a message is sent by a node URN",
            ),
        ]
        cases += [
            (
                "unknown key id",
                self.signed("CN-NOCERT")[0],
                "unknown-key-id",
                "signed with a key no announcement published",
            ),
            (
                "untrusted chain",
                self.signed("CN-ROGUE")[0],
                "untrusted-chain",
                "the certificate is known but its issuer is not in the trust list",
            ),
            (
                "certificate expired at ce_time",
                self.signed("CN-OLD")[0],
                "certificate-not-valid-at-time",
                "CN-OLD's certificate ended on 2026-05-01",
            ),
            (
                "country mismatch",
                self.signed("LA-LPQ", source="urn:ilstc:node:CN-CQ")[0],
                "country-mismatch",
                "a Lao key speaks for a Chinese node",
            ),
            (
                "source mismatch",
                self.signed("CN-KM", source="urn:ilstc:node:CN-CQ")[0],
                "source-mismatch",
                "CN-KM's key speaks for CN-CQ",
            ),
            (
                "revoked key",
                self.signed("CN-LEAK")[0],
                "revoked",
                "CN-LEAK's key is revoked from 08:00:00, the message is dated 08:05:00",
            ),
            (
                "ce_sigalg is not the key's algorithm",
                _force_sign(_replace(headers, "ce_sigalg", b"ecdsa-p256-sha256"), value, signer),
                "bad-signature",
                "the key is Ed25519",
            ),
            (
                "wrong recipient",
                self.signed(recipient="TH-BKK")[0],
                "wrong-recipient",
                "addressed to TH-BKK, verified by LA-VTE",
            ),
            (
                "ce_time too far ahead",
                self.signed(label="ahead", time=NOW + timedelta(minutes=6))[0],
                "clock-skew",
                "6 minutes ahead of now, 5 allowed",
            ),
            (
                "ce_time too old",
                self.signed(
                    label="old", time=NOW - REPLAY_RETENTION + ALLOWED_SKEW - timedelta(seconds=1)
                )[0],
                "too-old",
                "older than max_age = replay retention - allowed skew",
            ),
            (
                "replay",
                self.signed(label="seen before")[0],
                "replay",
                "the context's replay_seen holds this ce_source + ce_id",
            ),
        ]
        for name, bad_headers, code, why in cases:
            self.refused(name, bad_headers, value, code, why)
        tampered = bytearray(value)
        tampered[-1] ^= 0x01
        self.refused(
            "value changed", headers, bytes(tampered), "bad-signature", "one bit of the value"
        )
        subject = _force_sign(_replace(headers, "ce_subject", b"CQ-FORGED"), value, signer)
        forged = _replace(subject, SIGNATURE_HEADER, dict(headers)[SIGNATURE_HEADER])
        self.refused("signed header changed", forged, value, "bad-signature", "ce_subject changed")
        # Sealed for another message id: the signature is good, the AEAD context is not.
        wrong_value, seal = seal_value(
            self.declaration,
            sender="CN-CQ",
            recipient=pki.key_of(RECEIVER),
            message_id=_mid("another message"),
            ephemeral=_x25519("ephemeral unseal-failed"),
        )
        unsealable, _ = self.signed(label="unsealable", value=wrong_value, seal=seal)
        self.refused(
            "sealed for another message id",
            unsealable,
            wrong_value,
            "unseal-failed",
            "verifies, but the seal context names another ce_id",
        )

    def batches(self, single: list[Header], value: bytes, legacy: list[Header]) -> None:
        """Envelope v3: batch-signed records, each verifiable alone, and the refusals."""
        five = self.batch(
            "CN-CQ", [self.unsigned(label=f"batch of 5, record {i}") for i in range(5)]
        )
        for index, why in (
            (0, "leaf 0 of 5: the proof holds 3 hashes"),
            (3, "leaf 3 of 5: 3 hashes, the last one the lone fifth leaf"),
            (4, "leaf 4 of 5, the odd last leaf: carried up, its proof is 1 hash (MTH of 0..3)"),
        ):
            headers, _ = five[index]
            self.accepted(
                f"batch of 5, leaf {index}", headers, value, value, self.declaration_schema, why
            )
        ((one, _),) = self.batch("CN-CQ", [self.unsigned(label="batch of 1")])
        self.accepted(
            "batch of 1",
            one,
            value,
            value,
            self.declaration_schema,
            "ce_sigproof 0;1; (no path): the root is the leaf hash",
        )
        thai = self.batch(
            "TH-BKK", [self.unsigned("TH-BKK", label=f"ecdsa batch {i}") for i in range(3)]
        )
        self.accepted(
            "ECDSA P-256 batch record",
            thai[1][0],
            value,
            value,
            self.declaration_schema,
            "leaf 1 of 3; ecdsa-p256-sha256 over SHA-256(root message), DER (RFC 6979)",
        )
        receipt = self.unsigned(
            label="batched receipt",
            value=self.receipt,
            type=TYPE_RECEIPT,
            dataschema=self.receipt_schema.uri,
            subject=_mid("declaration sent by LA-VTE"),
        )
        mixed = self.batch("CN-CQ", [self.unsigned(label="batched declaration"), receipt])
        self.accepted(
            "batch mixing a declaration and a receipt: the declaration",
            mixed[0][0],
            value,
            value,
            self.declaration_schema,
            "leaf 0 of 2; records of one batch may have different types",
        )
        self.accepted(
            "batch mixing a declaration and a receipt: the receipt",
            mixed[1][0],
            self.receipt,
            self.receipt,
            self.receipt_schema,
            "leaf 1 of 2",
        )
        self._batch_refusals(five[3][0], single, value, legacy)

    def _batch_refusals(
        self, good: list[Header], single: list[Header], value: bytes, legacy: list[Header]
    ) -> None:
        proof = dict(good)[PROOF_HEADER]
        path = proof.split(b";")[2]
        hashes = base64.b64decode(path)
        flipped = bytearray(hashes)
        flipped[37] ^= 0x01
        listing = dict(good)["ce_sigheaders"].split(b",")
        malformed, bad = "malformed-envelope", "bad-signature"

        def with_proof(text: bytes) -> list[Header]:
            return _replace(good, PROOF_HEADER, text)

        made_up = b"0;2;" + base64.b64encode(hashlib.sha256(b"made up").digest())
        cases: list[tuple[str, list[Header], str, str]] = [
            (
                "batch: a path hash flipped",
                with_proof(b"3;5;" + base64.b64encode(bytes(flipped))),
                bad,
                "one bit of the second hash of leaf 3's proof: another root",
            ),
            (
                "batch: index changed",
                with_proof(b"2;5;" + path),
                bad,
                "leaf 2 of 5 also takes 3 hashes, but they lead to another root",
            ),
            (
                "batch: size changed",
                with_proof(b"3;6;" + path),
                bad,
                "leaf 3 of 6 also takes 3 hashes; the root message names the size",
            ),
            (
                "batch: a hash too many",
                with_proof(b"3;5;" + base64.b64encode(hashes + hashes[:32])),
                malformed,
                "leaf 3 of 5 needs exactly 3 hashes, here 4",
            ),
            (
                "batch: a hash too few",
                with_proof(b"3;5;" + base64.b64encode(hashes[:64])),
                malformed,
                "leaf 3 of 5 needs exactly 3 hashes, here 2",
            ),
            (
                "batch: ce_sigproof listed in ce_sigheaders",
                _replace(
                    good, "ce_sigheaders", b",".join(sorted([*listing, PROOF_HEADER.encode()]))
                ),
                malformed,
                "like ce_signature, ce_sigproof is never covered",
            ),
            ("batch: tree size 0", with_proof(b"0;0;"), malformed, "size is 1 to 1024"),
            (
                "batch: tree size 1025",
                with_proof(b"3;1025;" + path),
                malformed,
                "size is 1 to 1024",
            ),
            (
                "batch: index not below size",
                with_proof(b"5;5;" + path),
                malformed,
                "index 5 of a tree of 5",
            ),
            (
                "batch: leading zero",
                with_proof(b"03;5;" + path),
                malformed,
                "numbers are decimal without leading zeros",
            ),
            (
                "batch: proof stripped",
                _replace(good, PROOF_HEADER, None),
                bad,
                "without ce_sigproof it is a v2 record, and a root signature is no v2 signature",
            ),
            (
                "batch: a made-up proof added to a v2 record",
                [*single, (PROOF_HEADER, made_up)],
                bad,
                "a v2 signature signs ilstc-ce-signature-v2 bytes, never a root message",
            ),
            (
                "batch: proof on a v1 record",
                [*legacy, (PROOF_HEADER, b"0;1;")],
                malformed,
                "v3 is v2 + ce_sigproof: a record without ce_sigheaders has no proof",
            ),
        ]
        for name, headers, code, why in cases:
            self.refused(name, headers, value, code, why)

    def announcements(self) -> None:
        pki = self.pki
        china = pki.cas["CN"]
        new = pki.nodes["CN-NEW"].certificate
        good = certificate_announcement(china, new, at=SENT, message_id=_mid("announce CN-NEW"))
        key_id = good.key.decode()
        self._announcement("node certificate announced", good, "CN-NEW", key_id)
        revocation = revocation_announcement(
            china,
            new,
            revoked_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
            reason="key-compromise",
            at=SENT,
            message_id=_mid("revoke CN-NEW"),
        )
        self._announcement("revocation announced", revocation, "CN-NEW", key_id)
        rogue = certificate_announcement(
            pki.rogue, pki.nodes["CN-ROGUE"].certificate, at=SENT, message_id=_mid("rogue")
        )
        self._refused_announcement("signed by a CA outside the trust list", rogue, "unknown-key-id")
        laos = certificate_announcement(
            china, pki.nodes["LA-VTE"].certificate, at=SENT, message_id=_mid("CN announces LA")
        )
        self._refused_announcement(
            "a CA announces another country's node", laos, "country-mismatch"
        )
        rogue_node = certificate_announcement(
            china, pki.nodes["CN-ROGUE"].certificate, at=SENT, message_id=_mid("rogue node")
        )
        self._refused_announcement(
            "a certificate not issued by a trust-list CA", rogue_node, "untrusted-chain"
        )
        self._refused_announcement(
            "the record key is not what the announcement announces",
            good._replace(key=pki.nodes["CN-CQ"].signer.key_id.encode()),
            "malformed-announcement",
        )
        self._refused_announcement(
            "a made-up batch proof added to an announcement",
            good._replace(headers=(*good.headers, ("ce_sigproof", b"0;1;"))),
            "bad-signature",
        )
        tampered = good.value.replace(b"node-certificate", b"revocation")
        self._refused_announcement(
            "announcement value changed", good._replace(value=tampered), "bad-signature"
        )
        signer = china.signer
        as_laos = _force_sign(
            _replace(good.headers, "ce_source", b"urn:ilstc:ca:LA"), good.value, signer
        )
        self._refused_announcement(
            "ce_source is another CA", good._replace(headers=tuple(as_laos)), "source-mismatch"
        )
        wrong_subject = _force_sign(
            _replace(good.headers, "ce_subject", b"ab" * 32), good.value, signer
        )
        self._refused_announcement(
            "ce_subject is not the announced key id",
            good._replace(headers=tuple(wrong_subject)),
            "malformed-announcement",
        )
        odd_body = b'{"certificate":"x","kind":"node-certificate"}'
        odd = _force_sign(list(good.headers), odd_body, signer)
        self._refused_announcement(
            "the value is no certificate",
            good._replace(value=odd_body, headers=tuple(odd)),
            "malformed-announcement",
        )

    def _announcement(self, name: str, record: Any, node_id: str, key_id: str) -> None:
        body = json.loads(record.value)
        announced = {"kind": body["kind"], "key_id": key_id, "node_id": node_id}
        if body["kind"] == "revocation":
            announced["revoked_at"] = body["revoked_at"]
        expected = {
            "outcome": "accept",
            "announcement": announced,
            "signing_input_base64": _b64(signing_input(record.headers, record.value)),
        }
        self.add(name, "announcement", record.headers, record.value, expected, key=record.key)

    def _refused_announcement(self, name: str, record: Any, code: str) -> None:
        expected = {"outcome": "refuse", "code": code}
        self.add(name, "announcement", record.headers, record.value, expected, key=record.key)

    def context(self) -> dict[str, Any]:
        pki = self.pki
        known = ["CN-CQ", "CN-KM", "LA-VTE", "LA-LPQ", "TH-BKK", "CN-ROGUE", "CN-OLD", "CN-LEAK"]
        leak = pki.nodes["CN-LEAK"].signer.key_id
        return {
            "receiver": RECEIVER,
            "receiver_sealing_private_key_base64": _b64(
                pki.nodes[RECEIVER].sealing_key.private_bytes_raw()
            ),
            "now": format_time(NOW),
            "allowed_skew_seconds": int(ALLOWED_SKEW.total_seconds()),
            "replay_retention_seconds": int(REPLAY_RETENTION.total_seconds()),
            "trust_list_pem": [certificate_pem(ca.certificate).decode() for ca in pki.cas.values()],
            "known_certificates_pem": [
                certificate_pem(pki.nodes[n].certificate).decode() for n in known
            ],
            "revocations": [
                {"key_id": leak, "revoked_at": format_time(datetime(2026, 11, 29, 8, tzinfo=UTC))}
            ],
            "replay_seen": [f"urn:ilstc:node:CN-CQ {_mid('seen before')}"],
        }

    def build(self) -> dict[str, Any]:
        self.messages()
        self.announcements()
        public = {
            node_id: pki_public(identity) for node_id, identity in sorted(self.pki.nodes.items())
        }
        return {
            "comment": "ILSTC conformance vectors for docs/signing.md; see conformance/README.md",
            "envelope_version": 3,
            "context": self.context(),
            "node_keys": public,
            "vectors": self.vectors,
        }


def pki_public(identity: NodeIdentity) -> dict[str, str]:
    spki = identity.signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"key_id": identity.signer.key_id, "public_key_pem": spki.decode()}


def fingerprints() -> dict[str, Any]:
    schemas = SchemaSet(ROOT / "schemas")
    return {
        "comment": (
            "CRC-64-AVRO fingerprints of the Parsing Canonical Form of every schema version "
            "(Avro specification), as framed in single-object encoding (8 bytes little-endian, "
            "hex) and as the same 8 bytes read as a big-endian unsigned number (what "
            "SchemaNormalization.parsingFingerprint64 and most libraries print, as a signed "
            "long in Java). Computed by fastavro; the Java verifier recomputes them with Apache "
            "Avro Java and the Go verifier with hamba/avro. Apache Avro's Python package (avro) "
            "is known to produce a different canonical form for some schemas (see README.md)."
        ),
        "schemas": [
            {
                "file": f"schemas/{v.path.name}",
                "kind": str(v.kind),
                "version": v.version,
                "full_name": v.schema.full_name,
                "fingerprint_hex": v.fingerprint.hex(),
                "fingerprint_uint64_le": int.from_bytes(v.fingerprint, "little"),
                "dataschema": v.uri,
                "canonical_form": v.schema.canonical_form,
            }
            for v in schemas.all()
        ],
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    return {VECTORS: render(Kit().build()), FINGERPRINTS: render(fingerprints())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, "utf-8")
    if stale:
        sys.stderr.write(f"stale: {', '.join(stale)}; run python conformance/generate.py\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
