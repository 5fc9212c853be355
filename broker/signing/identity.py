"""Who is who in the corridor: node ids, their URNs, and what a corridor certificate says.

A node id is `CC-XXX`: the ISO 3166 alpha-2 country of its customs administration, a hyphen and
2-8 upper-case letters/digits naming the site (`CN-CQ` Chongqing, `LA-VTE` Vientiane). A node's
CloudEvents source is `urn:ilstc:node:<node id>`, exactly the URI in its certificate's
subjectAltName; a national CA speaks as `urn:ilstc:ca:<CC>`.

A node certificate also carries the node's X25519 sealing public key, so one CA signature binds
both keys to the node (see docs/signing.md section 7): as a second subjectAltName URI
`urn:ilstc:sealkey:x25519:<64 hex digits>`. Certificates issued before that carried it in a
private extension under the UUID arc (`SEAL_KEY_OID`), still read; it is no longer written because
its 128-bit OID arc makes Go's crypto/x509 (and other 31/63-bit OID parsers) refuse the whole
certificate.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.x509.oid import NameOID

NODE_URN_PREFIX = "urn:ilstc:node:"
SEAL_KEY_URN_PREFIX = "urn:ilstc:sealkey:x25519:"
CA_URN_PREFIX = "urn:ilstc:ca:"

# Legacy (read only): under the UUID arc 2.25 (ITU-T X.667), unique without registration.
SEAL_KEY_OID = x509.ObjectIdentifier("2.25.199280624324472888062131461768866404547")
# extnValue of SEAL_KEY_OID: DER OCTET STRING (tag 0x04, length 32) holding the raw X25519 key.
_SEAL_KEY_DER_PREFIX = b"\x04\x20"

_SEAL_KEY_HEX = re.compile(r"[0-9a-f]{64}")
_NODE_ID = re.compile(r"[A-Z]{2}-[A-Z0-9]{2,8}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def is_node_id(text: str) -> bool:
    return _NODE_ID.fullmatch(text) is not None


def is_country(text: str) -> bool:
    return _COUNTRY.fullmatch(text) is not None


def country_of(node_id: str) -> str:
    """The country prefix of a node id (`CN-CQ` -> `CN`)."""
    return node_id[:2]


def node_urn(node_id: str) -> str:
    return NODE_URN_PREFIX + node_id


def ca_urn(country: str) -> str:
    return CA_URN_PREFIX + country


def node_id_from_urn(urn: str) -> str | None:
    """`urn:ilstc:node:CN-CQ` -> `CN-CQ`; None when `urn` is not a node URN."""
    if not urn.startswith(NODE_URN_PREFIX):
        return None
    node_id = urn[len(NODE_URN_PREFIX) :]
    return node_id if is_node_id(node_id) else None


def subject_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    """The single value of `oid` in `name`, or None when absent or repeated."""
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    return values[0].value


def certificate_country(certificate: x509.Certificate) -> str | None:
    country = subject_attribute(certificate.subject, NameOID.COUNTRY_NAME)
    return country if country is not None and is_country(country) else None


def is_ca_certificate(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def certificate_node_id(certificate: x509.Certificate) -> str | None:
    """The node id a certificate names: its one node URN SAN, which must match subject CN."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    node_ids = [
        node_id
        for uri in san.value.get_values_for_type(x509.UniformResourceIdentifier)
        if (node_id := node_id_from_urn(uri)) is not None
    ]
    common_name = subject_attribute(certificate.subject, NameOID.COMMON_NAME)
    if len(node_ids) != 1 or node_ids[0] != common_name:
        return None
    return node_ids[0]


def seal_key_uri(public_key: x25519.X25519PublicKey) -> x509.UniformResourceIdentifier:
    """The subjectAltName URI that publishes a node's sealing key."""
    return x509.UniformResourceIdentifier(SEAL_KEY_URN_PREFIX + public_key.public_bytes_raw().hex())


def certificate_seal_key(certificate: x509.Certificate) -> x25519.X25519PublicKey | None:
    """The sealing key a node certificate publishes (one SAN URI, or the legacy extension)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    published = [u[len(SEAL_KEY_URN_PREFIX) :] for u in uris if u.startswith(SEAL_KEY_URN_PREFIX)]
    if published:
        if len(published) != 1 or _SEAL_KEY_HEX.fullmatch(published[0]) is None:
            return None
        return x25519.X25519PublicKey.from_public_bytes(bytes.fromhex(published[0]))
    return _legacy_seal_key(certificate)


def _legacy_seal_key(certificate: x509.Certificate) -> x25519.X25519PublicKey | None:
    try:
        extension = certificate.extensions.get_extension_for_oid(SEAL_KEY_OID)
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    der = value.value
    if len(der) != 34 or not der.startswith(_SEAL_KEY_DER_PREFIX):
        return None
    return x25519.X25519PublicKey.from_public_bytes(der[2:])
