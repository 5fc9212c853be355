"""Message envelope: CloudEvents Kafka protocol binding, binary mode, plus a detached signature.

The record value is the event data; the attributes travel as UTF-8 headers `ce_<name>` and
`content-type`. CloudEvents adds no security, so extension attributes carry it: `ce_sigalg`,
`ce_keyid`, `ce_signature`, `ce_sigheaders` (envelope v2: the names of the headers the signature
covers), `ce_recipient`, and `ce_sealalg`, `ce_sealkeyid`, `ce_sealepk` for sealed values.

Three envelope versions verify (docs/signing.md, sections 2-3):
- v2 (written per record): `ce_sigheaders` lists the covered headers; every header this project
  defines must be listed when present, so a relay may add unsigned extensions (CloudEvents
  middleware adds `ce_partitionkey`) without breaking the signature, and nothing the receiver acts
  on is unsigned.
- v3 (written in batches): v2 plus `ce_sigproof`, the record's inclusion proof in a Merkle tree
  over the signing inputs of a batch; `ce_signature` signs the batch's root message (section 3.3).
- v1 (records of older nodes, no `ce_sigheaders`): the signature covers every `ce_*` header.

Parsing is strict and total: whatever the headers are, the result is an `Envelope` or a
`SignatureError(malformed-envelope)` whose message names the header. Headers that are neither
`ce_*` nor `content-type` (tracing, for instance) are ignored: they are never signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

from broker.errors import SignatureError
from broker.signing import merkle
from broker.signing.algorithms import Signer
from broker.signing.identity import is_node_id
from broker.signing.reasons import ConfigCode, Reason, config_error

Header = tuple[str, bytes]

SPEC_VERSION = "1.0"
TYPE_DECLARATION = "org.ilstc.customs.declaration.v1"
TYPE_RECEIPT = "org.ilstc.customs.receipt.v1"
TYPE_KEY_ANNOUNCEMENT = "org.ilstc.customs.keyannouncement.v1"

CE_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
SIGNATURE_HEADER = "ce_signature"
SIGNED_HEADERS = "ce_sigheaders"
PROOF_HEADER = "ce_sigproof"  # v3: never covered, like ce_signature
ENVELOPE_VERSION = 2  # what build_envelope writes; sign_batch makes v3 records of it
# First line of every signing input: a signature made for this format means nothing elsewhere.
SIGNING_INPUT_MAGIC = b"ilstc-ce-signature-v2\n"
SIGNING_INPUT_MAGIC_V1 = b"ilstc-ce-signature-v1\n"
# First line of a batch's root message (what a v3 signature signs).
ROOT_MESSAGE_MAGIC = b"ilstc-ce-batch-v1\n"
MAX_BATCH = merkle.MAX_TREE_SIZE

MAX_HEADERS = 64
MAX_HEADER_VALUE_BYTES = 1024

# CloudEvents: attribute names are lower-case ASCII letters and digits, SHOULD be <= 20 long.
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
# `data` and `datacontenttype` have no `ce_` header in binary mode (value and content-type do).
_RESERVED = frozenset({"ce_data", "ce_datacontenttype"})
_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_sigalg", "ce_keyid")
_SEAL_HEADERS = frozenset({"ce_sealalg", "ce_sealkeyid", "ce_sealepk"})
# Every header this project gives a meaning to: a v2 signature must cover each one present.
_KNOWN = frozenset(
    {*_REQUIRED, *_SEAL_HEADERS, "ce_subject", "ce_dataschema", "ce_recipient", CONTENT_TYPE}
)
_KNOWN_HEADERS = _KNOWN | {SIGNATURE_HEADER, SIGNED_HEADERS, PROOF_HEADER}
_REQUIRED_HEADERS = frozenset({*_REQUIRED, CONTENT_TYPE})
# No C0 control characters or DEL in values (so no CR/LF: the signing input needs no escaping).
_CONTROL_BYTES = bytes(range(0x20)) + b"\x7f"
# `name=` as bytes, worked out once for the attributes every message has.
_LINE_PREFIX = {name: name.encode("ascii") + b"=" for name in _KNOWN | {SIGNED_HEADERS}}
# RFC 3339 section 5.6 date-time; "T" and "Z" may be lower case; up to 9 fraction digits.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_CANONICAL_TIME = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_KEY_ID = re.compile(r"[0-9a-f]{64}")
_LISTINGS: dict[bytes, tuple[str, ...]] = {}
_MAX_CACHED_LISTINGS = 256
# RFC 9562 textual form, lower case: what every corridor writer emits, the only form accepted.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# RFC 3986 absolute URI: a scheme, ":", then visible ASCII (no spaces, no fragment-only forms).
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[!-~]+")
# ce_sigproof = index ";" size ";" path (base64); numbers checked for leading zeros apart.
_PROOF = re.compile(rb"([0-9]{1,5});([0-9]{1,5});([A-Za-z0-9+/=]*)")


@dataclass(frozen=True, slots=True)
class Seal:
    """How a sealed value was encrypted (`ce_sealalg`, `ce_sealkeyid`, `ce_sealepk`)."""

    algorithm: str
    key_id: str  # the recipient's sealing key id
    ephemeral_key: bytes  # the sender's one-time X25519 public key, 32 raw bytes


class BatchProof(NamedTuple):
    """A v3 record's place in its batch (`ce_sigproof`): leaf `leaf_index` of a tree of
    `tree_size`, and the inclusion proof `path` (RFC 9162 section 2.1.3.1), exactly as long as
    it must be."""

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]

    def root_message(self, signing_input: bytes) -> bytes:
        """The root message (section 3.3) this proof leads to from the record's signing input."""
        leaf = merkle.leaf_hash(signing_input)
        size = self.tree_size
        return root_message(size, merkle.root_from_proof(self.leaf_index, size, leaf, self.path))

    def header(self) -> bytes:
        """The `ce_sigproof` value."""
        path = binascii.b2a_base64(b"".join(self.path), newline=False)
        return b"%d;%d;%s" % (self.leaf_index, self.tree_size, path)


def root_message(size: int, root: bytes) -> bytes:
    """What a batch signature signs: `ilstc-ce-batch-v1`, `tree-size=`, `root-sha256=` lines."""
    return b"%stree-size=%d\nroot-sha256=%s\n" % (ROOT_MESSAGE_MAGIC, size, root.hex().encode())


class Envelope(NamedTuple):
    """Typed CloudEvents attributes of one record, with the raw bytes they were read from.

    A NamedTuple rather than a frozen dataclass: equally immutable, and several microseconds
    cheaper to build on the per-message verify path (see broker/bench/signing.py).
    """

    id: str
    source: str
    type: str
    time: datetime  # UTC, truncated to microseconds
    content_type: str
    sigalg: str
    keyid: str
    subject: str | None
    dataschema: str | None
    recipient: str | None
    seal: Seal | None
    extensions: tuple[tuple[str, str], ...]  # unknown signed `ce_*` attributes: kept, unused
    signature: bytes  # b"" until signed
    attributes: tuple[Header, ...]  # the covered headers, sorted by name, bytes as received
    signed_lines: bytes  # `name=value\n` for each of `attributes` (v2: ce_time canonical)
    version: int  # 2; 3 with a batch proof; 1 for a record without ce_sigheaders
    proof: BatchProof | None = None  # v3 only

    def signing_input(self, value: bytes) -> bytes:
        """The record's signing input (v3: the leaf data of its batch's tree, as v2 signs it)."""
        digest = hashlib.sha256(value).hexdigest().encode("ascii")
        magic = SIGNING_INPUT_MAGIC_V1 if self.version == 1 else SIGNING_INPUT_MAGIC
        return b"".join((magic, self.signed_lines, b"value-sha256=", digest, b"\n"))

    def signed_message(self, value: bytes) -> bytes:
        """The bytes `signature` must sign: the signing input, or for v3 the root message its
        proof leads to."""
        if self.proof is None:
            return self.signing_input(value)
        return self.proof.root_message(self.signing_input(value))

    def __repr__(self) -> str:  # the raw bytes would only repeat the typed fields
        return (
            f"Envelope(v{self.version}, id={self.id!r}, source={self.source!r}, "
            f"type={self.type!r}, time={self.time.isoformat()!r}, recipient={self.recipient!r}, "
            f"keyid={self.keyid!r}, sealed={self.seal is not None}"
            + (
                ""
                if self.proof is None
                else f", leaf={self.proof.leaf_index}/{self.proof.tree_size}"
            )
            + ")"
        )


def _malformed(reason: str) -> SignatureError:
    return SignatureError(Reason.MALFORMED_ENVELOPE, reason)


def _collect(headers: Sequence[Header]) -> dict[str, bytes]:
    """The `ce_*` and `content-type` headers by name: unique and well named."""
    if len(headers) > MAX_HEADERS:
        raise _malformed(f"{len(headers)} headers, at most {MAX_HEADERS} allowed")
    collected: dict[str, bytes] = {}
    for name, value in headers:
        if name not in _KNOWN_HEADERS:  # the usual names skip the pattern check
            if not name.startswith(CE_PREFIX):
                continue
            if _ATTRIBUTE_NAME.fullmatch(name, len(CE_PREFIX)) is None or name in _RESERVED:
                raise _malformed(f"invalid CloudEvents attribute header {name[:40]!r}")
        if name in collected:
            raise _malformed(f"duplicated header {name}")
        if value.__class__ is not bytes:
            raise _malformed(f"header {name} has no value")
        collected[name] = value
    if not collected.keys() >= _REQUIRED_HEADERS:
        missing = sorted(_REQUIRED_HEADERS - collected.keys())
        raise _malformed(f"missing header(s) {', '.join(missing)}")
    return collected


def _check_size(name: str, value: bytes) -> None:
    if not 0 < len(value) <= MAX_HEADER_VALUE_BYTES:
        raise _malformed(f"header {name} is empty or longer than {MAX_HEADER_VALUE_BYTES} bytes")


def _listed(listing: bytes) -> tuple[str, ...]:
    """The names a `ce_sigheaders` value lists, checked on their own; cached, since a sender
    writes the same few lists again and again."""
    listed = _LISTINGS.get(listing)
    if listed is not None:
        return listed
    _check_size(SIGNED_HEADERS, listing)
    try:
        names = listing.decode("ascii").split(",")
    except UnicodeDecodeError:
        raise _malformed(f"header {SIGNED_HEADERS} is not a list of header names") from None
    if names != sorted(set(names)) or "" in names:
        raise _malformed(f"header {SIGNED_HEADERS} is not sorted, or repeats a name")
    for name in (SIGNATURE_HEADER, SIGNED_HEADERS, PROOF_HEADER):
        if name in names:
            raise _malformed(f"header {SIGNED_HEADERS} lists {name}")
    if len(_LISTINGS) >= _MAX_CACHED_LISTINGS:  # bounded: a hostile sender cannot grow it
        _LISTINGS.clear()
    _LISTINGS[listing] = listed = tuple(names)
    return listed


def _covered(collected: dict[str, bytes]) -> tuple[int, dict[str, bytes]]:
    """The envelope version and the headers its signature covers (`ce_signature` left out)."""
    listing = collected.pop(SIGNED_HEADERS, None)
    if listing is None:  # v1: every ce_* header and content-type
        return 1, collected
    listed = _listed(listing)
    try:
        covered = {name: collected[name] for name in listed}
    except KeyError as exc:
        absent = str(exc.args[0])[:40]
        raise _malformed(f"header {SIGNED_HEADERS} lists {absent!r}, which is absent") from None
    covered[SIGNED_HEADERS] = listing
    unsigned = _KNOWN.intersection(collected).difference(covered)
    if unsigned:
        raise _malformed(f"header(s) {', '.join(sorted(unsigned))} not covered by the signature")
    return 2, covered


def _base64(name: str, encoded: bytes) -> bytes:
    try:
        decoded = binascii.a2b_base64(encoded, strict_mode=True)
    except binascii.Error as exc:
        raise _malformed(f"header {name} is not base64") from exc
    if binascii.b2a_base64(decoded, newline=False) != encoded:  # one encoding per value
        raise _malformed(f"header {name} is not canonical base64")
    return decoded


def _key_id(name: str, text: str) -> str:
    if _KEY_ID.fullmatch(text) is None:
        raise _malformed(f"header {name} is not 64 lower-case hex digits")
    return text


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the one form this broker writes (`...T08:00:00.000000Z`)."""
    if moment.utcoffset() is None:
        raise _malformed("a CloudEvents time must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime | None:
    """Any RFC 3339 date-time (offset or `Z`, 0-9 fraction digits) as UTC, or None.

    Fractions beyond microseconds are truncated (so comparisons with whole-microsecond bounds
    stay exact); leap second 60 is refused (no datetime library of the corridor represents it).
    """
    if len(text) == 27 and _CANONICAL_TIME.fullmatch(text.encode("ascii", "replace")):
        try:  # the writers' form, the usual case: C-speed
            return datetime.fromisoformat(text)
        except ValueError:  # the right shape, but no such date or time
            return None
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_hour, off_minute = match.groups()
    try:
        offset = timedelta()
        if sign is not None:
            if int(off_hour) > 23 or int(off_minute) > 59:
                return None
            offset = timedelta(hours=int(off_hour), minutes=int(off_minute))
            offset = -offset if sign == "-" else offset
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no such date or time, or outside years 1-9999 in UTC
        return None


def _time(text: str) -> datetime:
    moment = parse_time(text)
    if moment is None:
        raise _malformed("header ce_time is not an RFC 3339 date-time")
    return moment


def _seal(attrs: dict[str, str]) -> Seal | None:
    present = _SEAL_HEADERS.intersection(attrs)
    if not present:
        return None
    if len(present) != len(_SEAL_HEADERS):
        raise _malformed(f"sealed value needs all of {', '.join(sorted(_SEAL_HEADERS))}")
    ephemeral_key = _base64("ce_sealepk", attrs["ce_sealepk"].encode("utf-8"))
    if len(ephemeral_key) != 32:
        raise _malformed("header ce_sealepk is not a 32-byte X25519 key")
    return Seal(attrs["ce_sealalg"], _key_id("ce_sealkeyid", attrs["ce_sealkeyid"]), ephemeral_key)


def _line_prefix(name: str) -> bytes:
    return _LINE_PREFIX.get(name) or name.encode("ascii") + b"="


def _lines(signed: tuple[Header, ...]) -> bytes:
    return b"".join([_line_prefix(name) + value + b"\n" for name, value in signed])


def _proof(encoded: bytes) -> BatchProof:
    """Parse `ce_sigproof`: every rule of section 3.3, the path length included, before any
    hashing."""
    _check_size(PROOF_HEADER, encoded)
    match = _PROOF.fullmatch(encoded)
    if match is None:
        raise _malformed(f"header {PROOF_HEADER} is not <index>;<size>;<base64 path>")
    index_text, size_text, path_text = match.groups()
    for number in (index_text, size_text):
        if len(number) > 1 and number.startswith(b"0"):
            raise _malformed(f"header {PROOF_HEADER} has a number with a leading zero")
    index, size = int(index_text), int(size_text)
    if not 1 <= size <= MAX_BATCH:
        raise _malformed(f"header {PROOF_HEADER}: tree size {size} is not in 1..{MAX_BATCH}")
    if index >= size:
        raise _malformed(f"header {PROOF_HEADER}: index {index} is not below tree size {size}")
    path = _base64(PROOF_HEADER, path_text)
    count, rest = divmod(len(path), merkle.HASH_BYTES)
    if rest:
        raise _malformed(f"header {PROOF_HEADER}: path of {len(path)} bytes, not 32-byte hashes")
    needed = merkle.proof_length(index, size)
    if count != needed:
        raise _malformed(
            f"header {PROOF_HEADER}: path holds {count} hashes, "
            f"leaf {index} of a tree of {size} needs {needed}"
        )
    hashes = tuple(path[i : i + merkle.HASH_BYTES] for i in range(0, len(path), merkle.HASH_BYTES))
    return BatchProof(index, size, hashes)


def _parse(headers: Sequence[Header]) -> Envelope:
    collected = _collect(headers)
    signature = collected.pop(SIGNATURE_HEADER, None)
    if signature is not None:
        _check_size(SIGNATURE_HEADER, signature)
    encoded_proof = collected.pop(PROOF_HEADER, None)
    if encoded_proof is not None and SIGNED_HEADERS not in collected:
        raise _malformed(f"header {PROOF_HEADER} on a v1 record (no {SIGNED_HEADERS})")
    version, covered = _covered(collected)
    proof = None
    if encoded_proof is not None:
        proof = _proof(encoded_proof)
        version = 3
    sizes = [len(value) for value in covered.values()]
    if min(sizes) < 1 or max(sizes) > MAX_HEADER_VALUE_BYTES:
        for name, value in covered.items():
            _check_size(name, value)
    joined = b"".join(covered.values())
    if len(joined.translate(None, _CONTROL_BYTES)) != len(joined):  # fast "contains any of"
        bad = next(n for n, v in covered.items() if len(v.translate(None, _CONTROL_BYTES)) < len(v))
        raise _malformed(f"header {bad} contains a control character")
    try:
        attrs = {name: value.decode("utf-8") for name, value in covered.items()}
    except UnicodeDecodeError:
        bad = next(n for n, v in covered.items() if not _is_utf8(v))
        raise _malformed(f"header {bad} is not UTF-8") from None
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise _malformed(f"header ce_specversion must be {SPEC_VERSION}")
    if _UUID.fullmatch(attrs["ce_id"]) is None:
        raise _malformed("header ce_id is not a lower-case UUID (8-4-4-4-12 hex digits)")
    recipient = attrs.get("ce_recipient")
    if recipient is not None and not is_node_id(recipient):
        raise _malformed("header ce_recipient is not a node id")
    dataschema = attrs.get("ce_dataschema")
    if version > 1 and dataschema is not None and _ABSOLUTE_URI.fullmatch(dataschema) is None:
        raise _malformed("header ce_dataschema is not an absolute URI")
    attributes = tuple(sorted(covered.items()))
    time = _time(attrs["ce_time"])
    signed = attributes
    if version > 1 and _CANONICAL_TIME.fullmatch(covered["ce_time"]) is None:
        # v2 signs the instant, not its spelling (docs/signing.md section 3.2)
        canonical = format_time(time).encode("ascii")
        signed = tuple((n, canonical if n == "ce_time" else v) for n, v in attributes)
    known = _KNOWN | {SIGNED_HEADERS}
    return Envelope(
        id=attrs["ce_id"],
        source=attrs["ce_source"],
        type=attrs["ce_type"],
        time=time,
        content_type=attrs[CONTENT_TYPE],
        sigalg=attrs["ce_sigalg"],
        keyid=_key_id("ce_keyid", attrs["ce_keyid"]),
        subject=attrs.get("ce_subject"),
        dataschema=dataschema,
        recipient=recipient,
        seal=_seal(attrs),
        extensions=()
        if known.issuperset(attrs)
        else tuple(sorted((k, v) for k, v in attrs.items() if k not in known)),
        signature=b"" if signature is None else _base64(SIGNATURE_HEADER, signature),
        attributes=attributes,
        signed_lines=_lines(signed),
        version=version,
        proof=proof,
    )


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_envelope(headers: Sequence[Header]) -> Envelope:
    """Parse the headers of a signed record, or raise `SignatureError(malformed-envelope)`."""
    envelope = _parse(headers)
    if not envelope.signature:
        raise _malformed(f"missing header {SIGNATURE_HEADER}")
    return envelope


def signing_input(headers: Sequence[Header], value: bytes) -> bytes:
    """The exact bytes a signature covers (any `ce_signature` among `headers` is left out)."""
    return _parse(headers).signing_input(value)


# A writer builds many envelopes that differ only in ce_id, ce_time, ce_subject (and ce_sealepk):
# the rest is parsed once per combination (`_TEMPLATES`, bounded) and only those are checked
# again, with the parser's own rules; whatever fails them takes the full parse, which says why.
_TEMPLATES: dict[tuple[str | None, ...], Envelope] = {}
_MAX_TEMPLATES = 256


def _from_template(
    template: Envelope, message_id: str, time: str, subject: str, seal: Seal | None
) -> Envelope | None:
    """`template` with another id, time (writers' form), subject and seal (of the template's
    algorithm and key); None when one of them is not plainly valid."""
    if _UUID.fullmatch(message_id) is None:
        return None
    subject_bytes = subject.encode("utf-8")
    size = len(subject_bytes)
    if (
        not 0 < size <= MAX_HEADER_VALUE_BYTES
        or len(subject_bytes.translate(None, _CONTROL_BYTES)) != size
    ):
        return None
    moment = parse_time(time)
    if moment is None:
        return None
    new = {
        "ce_id": message_id.encode("ascii"),
        "ce_time": time.encode("ascii"),
        "ce_subject": subject_bytes,
    }
    if seal is not None:
        if seal.ephemeral_key.__class__ is not bytes or len(seal.ephemeral_key) != 32:
            return None
        new["ce_sealepk"] = binascii.b2a_base64(seal.ephemeral_key, newline=False)
    attributes = tuple([(name, new.get(name, value)) for name, value in template.attributes])
    return template._replace(
        id=message_id,
        time=moment,
        subject=subject,
        seal=seal,
        attributes=attributes,
        signed_lines=_lines(attributes),  # ce_time is in the writers' form: signed as it is
    )


def build_envelope(
    *,
    message_id: str,
    source: str,
    type: str,
    time: datetime,
    content_type: str,
    signer: Signer,
    subject: str | None = None,
    dataschema: str | None = None,
    recipient: str | None = None,
    seal: Seal | None = None,
    extensions: Mapping[str, str] | None = None,
) -> Envelope:
    """An unsigned v2 envelope covering every attribute given, validated by the receiver's parser.

    `extensions`: further `ce_*` attributes (name with the prefix), signed like the others.
    """
    time_text = format_time(time)
    template_key = None
    if not extensions and subject is not None:
        sealed_to = (None, None) if seal is None else (seal.algorithm, seal.key_id)
        template_key = (source, type, content_type, signer.sigalg, signer.key_id, dataschema)
        template_key += (recipient, *sealed_to)
        template = _TEMPLATES.get(template_key)
        if template is not None:
            built = _from_template(template, message_id, time_text, subject, seal)
            if built is not None:
                return built
    optional = {"ce_subject": subject, "ce_dataschema": dataschema, "ce_recipient": recipient}
    if seal is not None:
        optional["ce_sealalg"] = seal.algorithm
        optional["ce_sealkeyid"] = seal.key_id
        optional["ce_sealepk"] = base64.b64encode(seal.ephemeral_key).decode("ascii")
    attributes = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": message_id,
        "ce_source": source,
        "ce_type": type,
        "ce_time": time_text,
        CONTENT_TYPE: content_type,
        "ce_sigalg": signer.sigalg,
        "ce_keyid": signer.key_id,
        **{name: text for name, text in optional.items() if text is not None},
    }
    for name, text in (extensions or {}).items():
        if name in attributes or name in _KNOWN_HEADERS:
            raise config_error(ConfigCode.BAD_ARGUMENT, name, "not an extension attribute")
        attributes[name] = text
    attributes[SIGNED_HEADERS] = ",".join(sorted(attributes))
    envelope = _parse([(name, text.encode("utf-8")) for name, text in attributes.items()])
    if template_key is not None:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.clear()
        _TEMPLATES[template_key] = envelope
    return envelope


def sign_message(envelope: Envelope, value: bytes, signer: Signer) -> list[Header]:
    """Sign `envelope` and `value`; returns the Kafka headers to send with `value`."""
    if (envelope.keyid, envelope.sigalg) != (signer.key_id, signer.sigalg):
        raise config_error(
            ConfigCode.BAD_ARGUMENT, envelope.keyid, "envelope names another key than the signer"
        )
    signature = signer.sign(envelope.signing_input(value))
    return [*envelope.attributes, (SIGNATURE_HEADER, base64.b64encode(signature))]


class Batch(NamedTuple):
    """A batch before its one signature: the root message to sign, and each record's proof."""

    message: bytes
    proofs: tuple[BatchProof, ...]


def batch_of(items: Sequence[tuple[Envelope, bytes]]) -> Batch:
    """The Merkle tree over the signing inputs of unsigned v2 `(envelope, value)` pairs: 1 to
    `MAX_BATCH` of them, all for one recipient (docs/signing.md section 3.3: a proof shows its
    siblings' hashes, which must say nothing about records for anybody else)."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise config_error(ConfigCode.BAD_ARGUMENT, len(items), f"a batch holds 1 to {MAX_BATCH}")
    recipients = {envelope.recipient for envelope, _ in items}
    if len(recipients) != 1 or None in recipients:
        raise config_error(
            ConfigCode.BAD_ARGUMENT,
            ", ".join(sorted(str(r) for r in recipients)),
            "a batch holds records for one recipient",
        )
    if any(envelope.version != ENVELOPE_VERSION for envelope, _ in items):
        raise config_error(ConfigCode.BAD_ARGUMENT, "batch", "only unsigned v2 envelopes batch")
    tree = merkle.MerkleTree([merkle.leaf_hash(e.signing_input(v)) for e, v in items])
    size = tree.size
    proofs = tuple(BatchProof(index, size, tree.proof(index)) for index in range(size))
    return Batch(root_message(size, tree.root), proofs)


def batch_headers(
    items: Sequence[tuple[Envelope, bytes]], batch: Batch, signature: bytes
) -> list[list[Header]]:
    """The v3 headers of each record of `batch`, given the signature of its root message."""
    encoded = base64.b64encode(signature)
    return [
        [*envelope.attributes, (SIGNATURE_HEADER, encoded), (PROOF_HEADER, proof.header())]
        for (envelope, _), proof in zip(items, batch.proofs, strict=True)
    ]


def sign_batch(items: Sequence[tuple[Envelope, bytes]], signer: Signer) -> list[list[Header]]:
    """Sign unsigned v2 `(envelope, value)` pairs with one signature (envelope v3); returns the
    Kafka headers of each, in order. Every record verifies on its own."""
    for envelope, _ in items:
        if (envelope.keyid, envelope.sigalg) != (signer.key_id, signer.sigalg):
            raise config_error(
                ConfigCode.BAD_ARGUMENT,
                envelope.keyid,
                "envelope names another key than the signer",
            )
    batch = batch_of(items)
    return batch_headers(items, batch, signer.sign(batch.message))
