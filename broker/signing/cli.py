"""`customs-broker pki ...`: national CAs, node certificates, the corridor trust list, a demo PKI.

Private keys are written encrypted (mode 0600). The passphrase comes from `--passphrase-file`
(itself mode 0600) or else the environment variable named by `--passphrase-env`; it is never
printed. `pki demo` makes one up when neither is given and writes it to `OUT/passphrase.txt`.
"""

from __future__ import annotations

import argparse
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from broker.clock import SystemClock
from broker.signing.algorithms import ALGORITHMS, ED25519
from broker.signing.corridor_pki import (
    DEMO_NODES,
    PASSPHRASE_FILE,
    TRUST_LIST_FILE,
    create_corridor_pki,
)
from broker.signing.keyfile import (
    DEFAULT_PASSPHRASE_ENV,
    passphrase_from_env,
    passphrase_from_file,
    write_owner_only,
    write_public_file,
)
from broker.signing.pki import (
    CA_CERT_FILE,
    DEFAULT_CA_VALIDITY,
    DEFAULT_NODE_VALIDITY,
    create_ca,
    issue_node,
    load_ca,
    read_certificate,
    save_ca,
    save_node,
)
from broker.signing.trust import TrustList


def _passphrase(file: Path | None, env: str) -> SecretStr:
    return passphrase_from_file(file) if file is not None else passphrase_from_env(env)


def _add_passphrase_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file", type=Path, help="file (mode 0600) holding the key passphrase"
    )
    parser.add_argument(
        "--passphrase-env",
        default=DEFAULT_PASSPHRASE_ENV,
        help="environment variable holding the key passphrase (default %(default)s)",
    )


def _days(text: str) -> timedelta:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return timedelta(days=int(text))


def _add_key_options(parser: argparse.ArgumentParser, validity: timedelta) -> None:
    parser.add_argument("--algorithm", choices=ALGORITHMS, default=ED25519)
    parser.add_argument(
        "--days", type=_days, default=validity, help=f"validity in days ({validity.days})"
    )


def _init_ca(args: argparse.Namespace) -> int:
    passphrase = _passphrase(args.passphrase_file, args.passphrase_env)
    ca = create_ca(
        args.country,
        clock=SystemClock(),
        algorithm=args.algorithm,
        validity=args.days,
    )
    save_ca(ca, args.out, passphrase)
    print(f"{ca.country} customs CA in {args.out}, key id {ca.signer.key_id}")
    return 0


def _issue_node(args: argparse.Namespace) -> int:
    passphrase = _passphrase(args.passphrase_file, args.passphrase_env)
    ca_passphrase = (
        passphrase
        if args.ca_passphrase_file is None and args.ca_passphrase_env is None
        else _passphrase(args.ca_passphrase_file, args.ca_passphrase_env or DEFAULT_PASSPHRASE_ENV)
    )
    node = issue_node(
        load_ca(args.ca, ca_passphrase),
        args.node,
        clock=SystemClock(),
        algorithm=args.algorithm,
        validity=args.days,
    )
    save_node(node, args.out, passphrase)
    print(f"node {node.node_id} in {args.out}, key id {node.key_id}")
    return 0


def _trust_list(args: argparse.Namespace) -> int:
    trust_list = TrustList([read_certificate(path) for path in args.certificates])
    write_public_file(args.out, trust_list.to_pem())
    for ca in trust_list:
        print(f"{ca.country}  {ca.key_id}")
    print(f"trust list of {len(trust_list)} CA(s) in {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.passphrase_file is not None or os.environ.get(args.passphrase_env):
        passphrase = _passphrase(args.passphrase_file, args.passphrase_env)
    else:
        passphrase = SecretStr(secrets.token_urlsafe(24))
        write_owner_only(out / PASSPHRASE_FILE, passphrase.get_secret_value().encode())
        print(f"generated a passphrase for the demo keys: {out / PASSPHRASE_FILE}")
    nodes = create_corridor_pki(
        out, DEMO_NODES, passphrase, clock=SystemClock(), algorithm=args.algorithm
    )
    for node in nodes:
        print(f"{node.node_id:<7} node key id {node.key_id}")
    print(f"demo PKI in {out}: ca/<CC>/, nodes/<node id>/, {TRUST_LIST_FILE}")
    return 0


def register(sub: Any) -> None:
    pki = sub.add_parser("pki", help="national customs CAs, node certificates, trust list")
    commands = pki.add_subparsers(dest="pki_command", required=True, metavar="COMMAND")

    init_ca = commands.add_parser("init-ca", help="create a national customs CA")
    init_ca.add_argument("--country", required=True, help="ISO 3166 alpha-2 code, e.g. CN")
    init_ca.add_argument("--out", type=Path, required=True, help="folder for the CA files")
    _add_key_options(init_ca, DEFAULT_CA_VALIDITY)
    _add_passphrase_options(init_ca)
    init_ca.set_defaults(handler=_init_ca)

    node = commands.add_parser("issue-node", help="issue a node certificate and keys")
    node.add_argument("--ca", type=Path, required=True, help=f"CA folder ({CA_CERT_FILE}, ...)")
    node.add_argument("--node", required=True, help="node id, e.g. CN-CQ")
    node.add_argument("--out", type=Path, required=True, help="folder for the node files")
    _add_key_options(node, DEFAULT_NODE_VALIDITY)
    _add_passphrase_options(node)
    node.add_argument(
        "--ca-passphrase-file", type=Path, help="file holding the CA key passphrase, if different"
    )
    node.add_argument("--ca-passphrase-env", help="variable holding the CA key passphrase")
    node.set_defaults(handler=_issue_node)

    trust = commands.add_parser("trust-list", help="bundle national CA certificates")
    trust.add_argument("--out", type=Path, required=True, help="PEM bundle to write")
    trust.add_argument("certificates", type=Path, nargs="+", metavar="CA_CERT")
    trust.set_defaults(handler=_trust_list)

    demo = commands.add_parser("demo", help="CAs for CN LA TH VN and nodes " + " ".join(DEMO_NODES))
    demo.add_argument("--out", type=Path, required=True, help="folder for the demo PKI")
    demo.add_argument("--algorithm", choices=ALGORITHMS, default=ED25519)
    _add_passphrase_options(demo)
    demo.set_defaults(handler=_demo)
