"""The directory as signed entries on the compacted `<namespace>.corridor` topic (pure).

One record per member (`member/<NODE>`), per agreement (`agreement/<name>`), and a head
(`head`) listing them, each with the directory's `serial`. The secretariat publishes every entry
of a new serial, head last. Value = canonical JSON; headers = a signed envelope of type
`directoryentry.v1` whose signer is the secretariat's node key (ce_subject = record key).

A node (`DirectoryState`) applies an entry only when
- it is signed by the key of the secretariat it was configured with (a trusted, unrevoked
  certificate; any other node's or CA's signature is refused, unsigned records too);
- its record key equals its subject and what it describes (compaction keeps one per key);
- its serial is not older than the newest it has applied for that key, nor the head older than
  the newest head it ever applied (kept in its state across restarts): a re-published old entry
  is refused as stale;
and it switches to a new directory only when a head arrives whose every entry is there at that
serial: never half a change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from broker.directory.load import corridor_from_dict
from broker.directory.model import Corridor
from broker.errors import ConfigError, SignatureError
from broker.signing import algorithms
from broker.signing.envelope import Header, parse_envelope
from broker.signing.identity import node_urn
from broker.signing.keystore import KeyStore
from broker.signing.pki import NodeIdentity
from broker.signing.reasons import Reason
from broker.signing.records import SignedRecord, directory_entry

TYPE_DIRECTORY_ENTRY = "org.ilstc.customs.directoryentry.v1"
JSON = "application/json"
HEAD = "head"
MAX_ENTRY_BYTES = 256 * 1024


class DirectoryReason(StrEnum):
    """Why a directory entry was refused (`SignatureError.code`)."""

    NOT_SECRETARIAT = "not-secretariat"
    STALE = "stale-entry"
    MALFORMED = "malformed-entry"


def entry_bodies(corridor: Corridor) -> list[tuple[str, dict[str, Any]]]:
    """(record key, body) of every entry, head last."""
    bodies: list[tuple[str, dict[str, Any]]] = []
    for member in corridor.members:
        bodies.append(
            (
                f"member/{member.node_id}",
                {"kind": "member", "member": member.model_dump(mode="json")},
            )
        )
    for agreement in corridor.agreements:
        bodies.append(
            (
                f"agreement/{agreement.name}",
                {"kind": "agreement", "agreement": agreement.model_dump(mode="json")},
            )
        )
    head = {
        "kind": HEAD,
        "name": corridor.name,
        "secretariat": corridor.secretariat,
        "topics": corridor.topics.model_dump(mode="json"),
        "entries": [key for key, _ in bodies],
    }
    bodies.append((HEAD, head))
    return [(key, {**body, "serial": corridor.serial}) for key, body in bodies]


def sign_entries(
    corridor: Corridor, secretariat: NodeIdentity, *, at: datetime
) -> list[SignedRecord]:
    """Every entry of `corridor`, signed by the secretariat's key, head last."""
    if secretariat.node_id != corridor.secretariat:
        raise ConfigError(
            f"the directory names {corridor.secretariat} as secretariat, not {secretariat.node_id}"
        )
    return [
        directory_entry(secretariat, type=TYPE_DIRECTORY_ENTRY, key=key, body=body, time=at)
        for key, body in entry_bodies(corridor)
    ]


def _malformed(reason: str) -> SignatureError:
    return SignatureError(DirectoryReason.MALFORMED, reason)


@dataclass(frozen=True, slots=True)
class Applied:
    key: str
    serial: int
    corridor: Corridor | None  # the new directory when this entry completed one, else None


class DirectoryState:
    """What one node has verified of the directory topic, and the directory in force."""

    def __init__(self, keys: KeyStore, secretariat: str, min_serial: int = 0) -> None:
        self.keys = keys
        self.secretariat = secretariat
        self.min_serial = min_serial  # the newest head this node ever applied (persisted)
        self.current: Corridor | None = None
        self._entries: dict[str, tuple[int, dict[str, Any]]] = {}

    def _verify(self, headers: Sequence[Header], value: bytes, record_key: bytes | None) -> str:
        envelope = parse_envelope(headers)  # unsigned: malformed-envelope
        if envelope.type != TYPE_DIRECTORY_ENTRY or envelope.content_type != JSON:
            raise _malformed(f"not a directory entry: {envelope.type} {envelope.content_type}")
        node_key = self.keys.node_key(envelope.keyid)
        if node_key.node_id != self.secretariat or envelope.source != node_urn(self.secretariat):
            raise SignatureError(
                DirectoryReason.NOT_SECRETARIAT,
                f"signed by {node_key.node_id}, not the secretariat {self.secretariat}",
            )
        revoked_at = self.keys.revoked_at(node_key.key_id)
        if revoked_at is not None and envelope.time >= revoked_at:
            raise SignatureError("revoked", f"the secretariat key was revoked at {revoked_at}")
        if not node_key.not_before <= envelope.time <= node_key.not_after:
            raise SignatureError(
                "certificate-not-valid-at-time", "secretariat certificate not valid then"
            )
        if envelope.sigalg != node_key.sigalg:  # as the Verifier: the signed label must be true
            raise SignatureError(Reason.BAD_SIGNATURE, f"key is {node_key.sigalg}")
        algorithms.verify(node_key.public_key, envelope.signature, envelope.signed_message(value))
        if envelope.subject is None or record_key != envelope.subject.encode():
            raise _malformed("record key is not the signed subject")
        return envelope.subject

    def apply(self, headers: Sequence[Header], value: bytes, record_key: bytes | None) -> Applied:
        """Verify and remember one entry; raises `SignatureError` with a `DirectoryReason`
        (or a signing reason) when refused, `ConfigError` when a complete head is invalid."""
        if len(value) > MAX_ENTRY_BYTES:
            raise _malformed(f"entry of {len(value)} bytes (limit {MAX_ENTRY_BYTES})")
        key = self._verify(headers, value, record_key)
        try:
            body = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise _malformed("value is not JSON") from exc
        serial = body.get("serial") if isinstance(body, dict) else None
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
            raise _malformed("entry without a positive integer serial")
        if not _describes(key, body):
            raise _malformed(f"entry {key[:80]!r} does not describe what its key names")
        known = self._entries.get(key)
        floor = max(known[0] if known else 0, self.min_serial if key == HEAD else 0)
        if serial < floor:
            raise SignatureError(DirectoryReason.STALE, f"{key} serial {serial} < {floor}")
        self._entries[key] = (serial, body)
        corridor = self._complete(body, serial) if key == HEAD else None
        if corridor is not None:
            self.current, self.min_serial = corridor, serial
        return Applied(key, serial, corridor)

    def _complete(self, head: dict[str, Any], serial: int) -> Corridor | None:
        if self.current is not None and serial == self.current.serial:
            return None  # the head in force, read again
        listed = head.get("entries")
        if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
            raise _malformed("head without a list of entries")
        members: list[Any] = []
        agreements: list[Any] = []
        for key in listed:
            entry = self._entries.get(key)
            if entry is None or entry[0] != serial:
                raise _malformed(f"head {serial} lists {key[:80]}, not published at that serial")
            kind = entry[1]["kind"]
            (members if kind == "member" else agreements).append(entry[1][kind])
        data = {
            "name": head.get("name"),
            "serial": serial,
            "secretariat": head.get("secretariat"),
            "topics": head.get("topics"),
            "members": members,
            "agreements": agreements,
        }
        corridor = corridor_from_dict(data, f"directory head {serial}")
        if corridor.secretariat != self.secretariat:
            raise SignatureError(
                DirectoryReason.NOT_SECRETARIAT,
                f"head names {corridor.secretariat} as secretariat, this node trusts "
                f"{self.secretariat}",
            )
        return corridor


def _describes(key: str, body: Any) -> bool:
    kind = body.get("kind")
    if key == HEAD:
        return bool(kind == HEAD)
    prefix, _, name = key.partition("/")
    if kind != prefix or prefix not in ("member", "agreement"):
        return False
    described = body.get(prefix)
    field = "node_id" if prefix == "member" else "name"
    return isinstance(described, dict) and described.get(field) == name
