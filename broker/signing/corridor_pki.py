"""A whole corridor's PKI in one folder: one national CA per country, one identity per node.

    <out>/ca/<CC>/         national customs CA (certificate + encrypted key)
    <out>/nodes/<NODE>/    node certificate, signing key, sealing key
    <out>/trust-list.pem   the national CA certificates: written last, so it marks completion

Used by `customs-broker pki demo` and the corridor demo; a real corridor has each country make
its own CA and exchange only certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from broker.clock import Clock
from broker.signing.algorithms import ED25519
from broker.signing.identity import country_of
from broker.signing.keyfile import write_public_file
from broker.signing.pki import (
    CertificateAuthority,
    NodeIdentity,
    create_ca,
    issue_node,
    save_ca,
    save_node,
)
from broker.signing.trust import TrustList

DEMO_NODES = ("CN-CQ", "LA-VTE", "TH-BKK", "VN-HAN")  # Chongqing, Vientiane, Bangkok, Hanoi
TRUST_LIST_FILE = "trust-list.pem"
PASSPHRASE_FILE = "passphrase.txt"  # noqa: S105 - a file name: a generated demo passphrase


def create_corridor_pki(
    out: Path,
    node_ids: Sequence[str],
    passphrase: SecretStr,
    *,
    clock: Clock,
    algorithm: str = ED25519,
) -> list[NodeIdentity]:
    """Create and save the CAs and node identities; returns the node identities in order."""
    authorities: dict[str, CertificateAuthority] = {}
    nodes = []
    for node_id in node_ids:
        country = country_of(node_id)
        if country not in authorities:
            authorities[country] = create_ca(country, clock=clock, algorithm=algorithm)
            save_ca(authorities[country], out / "ca" / country, passphrase)
        node = issue_node(authorities[country], node_id, clock=clock, algorithm=algorithm)
        save_node(node, out / "nodes" / node_id, passphrase)
        nodes.append(node)
    trust_list = TrustList(ca.certificate for ca in authorities.values())
    write_public_file(out / TRUST_LIST_FILE, trust_list.to_pem())
    return nodes
