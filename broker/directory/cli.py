"""`customs-broker corridor apply|check|publish|generate`: the secretariat's tools."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from broker.directory.access import corridor_acls
from broker.directory.apply import apply_corridor, passwords_in
from broker.directory.entries import sign_entries
from broker.directory.generate import scaled_corridor
from broker.directory.load import corridor_toml, load_corridor
from broker.directory.manifests import write_manifests
from broker.directory.pki import PASSPHRASE, corridor_pki
from broker.errors import ConfigError
from broker.node.topics import CorridorTopics
from broker.signing.keyfile import passphrase_from_file
from broker.signing.pki import load_ca, load_node, read_certificate
from broker.signing.records import certificate_announcement
from broker.transport.base import OutboundRecord
from broker.transport.corridor_admin import CorridorAdmin
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings

DEFAULT_DIRECTORY = Path("deploy/corridor.toml")


def _kafka_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--user", help="SASL user (a super user for apply)")
    parser.add_argument(
        "--password-env", default="CUSTOMS_KAFKA_PASSWORD", help="variable holding its password"
    )
    parser.add_argument("--mechanism", choices=("SCRAM-SHA-256", "PLAIN"), default="SCRAM-SHA-256")


def _kafka(args: argparse.Namespace) -> KafkaSettings:
    if not args.user:
        return KafkaSettings(bootstrap_servers=args.bootstrap_servers)
    password = os.environ.get(args.password_env)
    if not password:
        raise ConfigError(f"--user {args.user}: set its password in ${args.password_env}")
    return KafkaSettings(
        bootstrap_servers=args.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=args.mechanism,
        username=args.user,
        password=SecretStr(password),
    )


def register(sub: Any) -> None:
    corridor = sub.add_parser("corridor", help="the corridor directory").add_subparsers(
        dest="corridor_command", required=True, metavar="COMMAND"
    )
    for name, handler, text in (
        ("apply", _apply, "create topics, users and ACLs; grow partitions; report drift"),
        ("check", _check, "compare the cluster with the directory; exit 1 on drift"),
    ):
        parser = corridor.add_parser(name, help=text)
        parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
        _kafka_arguments(parser)
        if name == "apply":
            parser.add_argument(
                "--credentials",
                type=Path,
                help="folder of <user>.password files (made when missing): also apply users/ACLs",
            )
        parser.set_defaults(handler=handler)
    publish = corridor.add_parser(
        "publish", help="announce every certificate and sign the directory onto its topic"
    )
    publish.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    publish.add_argument("--pki", type=Path, required=True, help="folder of `corridor pki`")
    _kafka_arguments(publish)
    publish.set_defaults(handler=_publish)
    pki = corridor.add_parser("pki", help="CAs and one identity per member, each on its own")
    pki.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    pki.add_argument("--out", type=Path, required=True)
    pki.set_defaults(handler=_pki)
    generate = corridor.add_parser(
        "generate", help="write deploy manifests from the directory, or a scaled directory"
    )
    generate.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    generate.add_argument("--members", type=int, help="write a corridor of this many members")
    generate.add_argument("-o", "--out", type=Path, help="with --members: the TOML to write")
    generate.add_argument("--root", type=Path, default=Path("."), help="repository root")
    generate.set_defaults(handler=_generate)


async def _run_apply(args: argparse.Namespace, fix: bool) -> int:
    corridor = load_corridor(args.directory)
    passwords = None
    if fix and args.credentials is not None:
        passwords = passwords_in(args.credentials, sorted(corridor_acls(corridor)))
    async with CorridorAdmin(_kafka(args)) as admin:
        report = await apply_corridor(admin, corridor, fix=fix, passwords=passwords)
    for line in report.lines():
        print(line)
    return 0 if report.clean else 1


def _apply(args: argparse.Namespace) -> int:
    return asyncio.run(_run_apply(args, fix=True))


def _check(args: argparse.Namespace) -> int:
    return asyncio.run(_run_apply(args, fix=False))


def _publish(args: argparse.Namespace) -> int:
    from broker.clock import SystemClock

    corridor = load_corridor(args.directory)
    now = SystemClock().now()
    topics = CorridorTopics(corridor.topics.namespace)
    ca_passphrase = passphrase_from_file(args.pki / "ca" / PASSPHRASE)
    records = []
    for node_id in (*(m.node_id for m in corridor.members), corridor.secretariat):
        member = corridor.member(node_id)
        ca = load_ca(
            args.pki / "ca" / (member.ca_country if member else node_id[:2]), ca_passphrase
        )
        certificate = read_certificate(args.pki / "nodes" / node_id / "node.crt.pem")
        a = certificate_announcement(ca, certificate, at=now)
        records.append(OutboundRecord(topics.keys, a.value, a.key, a.headers))
    folder = args.pki / "nodes" / corridor.secretariat
    secretariat = load_node(folder, passphrase_from_file(folder / PASSPHRASE))
    entries = sign_entries(corridor, secretariat, at=now)
    records += [OutboundRecord(topics.directory, e.value, e.key, e.headers) for e in entries]

    async def send() -> None:
        producer = KafkaTransport(_kafka(args)).producer()
        await producer.start()
        try:
            await producer.send_many(records)
        finally:
            await producer.stop()

    asyncio.run(send())
    print(
        f"announced {len(records) - len(entries)} certificates on {topics.keys}; published "
        f"{len(entries)} entries of serial {corridor.serial} on {topics.directory}"
    )
    return 0


def _pki(args: argparse.Namespace) -> int:
    from broker.clock import SystemClock

    made = corridor_pki(load_corridor(args.directory), args.out, SystemClock())
    print(f"made {len(made)} identities in {args.out}" if made else f"{args.out}: keys exist")
    return 0


def _generate(args: argparse.Namespace) -> int:
    corridor = load_corridor(args.directory)
    if args.members is not None:
        if args.out is None:
            raise ConfigError("--members needs --out FILE")
        scaled = scaled_corridor(corridor, args.members)
        header = f"# Generated by `customs-broker corridor generate --members {args.members}`."
        args.out.write_text(corridor_toml(scaled, header), encoding="utf-8")
        print(f"wrote {args.out}: {len(scaled.members)} members")
        return 0
    for path in write_manifests(corridor, args.root, source=args.directory):
        print(f"wrote {path}")
    return 0
