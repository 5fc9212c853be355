"""The corridor's keys laid out so that each node gets only its own (the compose PKI step).

    <out>/ca/<CC>/                 national CA (certificate + key), CA passphrase in
    <out>/ca/passphrase.txt        ... which never leaves the PKI step
    <out>/nodes/<NODE>/            node.crt.pem, node.key.pem, seal.key.pem, passphrase.txt (its
                                   own), kafka.password (its SCRAM password), trust-list.pem
    <out>/credentials/<user>.password   every Kafka user's password, for `corridor apply`
    <out>/trust-list.pem           the national CA certificates

Idempotent: an existing layout is kept (keys are made once). A real corridor has each country
make its own CA and node keys; this is the one-machine development layout.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr

from broker.clock import Clock
from broker.directory.access import corridor_acls, user_name
from broker.directory.apply import passwords_in
from broker.directory.model import Corridor
from broker.signing.keyfile import write_owner_only, write_public_file
from broker.signing.pki import CertificateAuthority, create_ca, issue_node, save_ca, save_node
from broker.signing.trust import TrustList

TRUST_LIST = "trust-list.pem"
PASSPHRASE = "passphrase.txt"  # noqa: S105 - a file name
KAFKA_PASSWORD = "kafka.password"  # noqa: S105 - a file name


def _new_passphrase(path: Path) -> SecretStr:
    passphrase = SecretStr(secrets.token_urlsafe(24))
    write_owner_only(path, passphrase.get_secret_value().encode())
    return passphrase


def corridor_pki(corridor: Corridor, out: Path, clock: Clock) -> list[str]:
    """Create what is missing; returns the identities made."""
    passwords = passwords_in(out / "credentials", sorted(corridor_acls(corridor)))
    trust_file = out / TRUST_LIST
    ids = [*(m.node_id for m in corridor.members), corridor.secretariat]
    if trust_file.exists() and all((out / "nodes" / n / "node.crt.pem").exists() for n in ids):
        return []
    if trust_file.exists():
        raise FileExistsError(f"{out} holds an older corridor's keys: move it away first")
    (out / "ca").mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_passphrase = _new_passphrase(out / "ca" / PASSPHRASE)
    countries = sorted({m.ca_country for m in corridor.members} | {corridor.secretariat[:2]})
    authorities: dict[str, CertificateAuthority] = {}
    for country in countries:
        authorities[country] = create_ca(country, clock=clock)
        save_ca(authorities[country], out / "ca" / country, ca_passphrase)
    trust_pem = TrustList(ca.certificate for ca in authorities.values()).to_pem()
    ca_of = {m.node_id: m.ca_country for m in corridor.members}
    for node_id in ids:
        folder = out / "nodes" / node_id
        node = issue_node(authorities[ca_of.get(node_id, node_id[:2])], node_id, clock=clock)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        save_node(node, folder, _new_passphrase(folder / PASSPHRASE))
        write_public_file(folder / TRUST_LIST, trust_pem)
        if node_id in ca_of:
            password = passwords[user_name(node_id)]
            write_owner_only(folder / KAFKA_PASSWORD, password.encode("ascii"))
    write_public_file(trust_file, trust_pem)  # last: marks completion
    return ids
