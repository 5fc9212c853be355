"""Per-message sign and verify, beside raw Ed25519 on the same value (goal: verify_ratio <= 1.3).

The project path is the whole per-message path a node runs: build + sign the full header set
(`records.declaration_record`), and `Verifier.verify` with a warm certificate cache and a
`MemoryReplayStore` (each message has its own id; `release` follows each verify so the rounds can
repeat). The raw path is `cryptography`'s Ed25519 sign/verify of the value itself.

Batch signatures (envelope v3): `batch_sign_us` is per record of `records.sign_batch` over
batches of `--batch` drafts (drafting included), `batch_verify_us` per record of
`Verifier.verify` of those batches: every check per record and the record's Merkle path, the
root's signature verified for the first record of each batch and taken from the root cache for
the others (so one verification per batch is spread over its records).

The loops run interleaved, several rounds, and each keeps its fastest round, so that the load of
a shared machine distorts the ratios as little as possible.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.clock import SystemClock
from broker.errors import ConfigError
from broker.signing.envelope import MAX_BATCH, Header
from broker.signing.keystore import KeyStore
from broker.signing.pki import create_ca, issue_node
from broker.signing.records import declaration_draft, declaration_record, sign_batch
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

DATASCHEMA = "urn:ilstc:schema:declaration.v2:crc64-avro:7a3f9c21d04e8b56"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=1000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds, best kept")
    parser.add_argument("--value-bytes", type=int, default=4096, help="record value size")
    parser.add_argument(
        "--batch", type=int, default=500, help=f"records per batch signature (1-{MAX_BATCH})"
    )


def _per_message_us(loop: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    loop()
    return (time.perf_counter() - start) / count * 1e6


def run(args: argparse.Namespace) -> dict[str, float | int | str]:
    if not 1 <= args.batch <= MAX_BATCH:
        raise ConfigError(f"--batch must be 1 to {MAX_BATCH}")
    clock = SystemClock()
    china, laos = create_ca("CN", clock=clock), create_ca("LA", clock=clock)
    sender = issue_node(china, "CN-CQ", clock=clock)
    keys = KeyStore(TrustList([china.certificate, laos.certificate]))
    keys.node_key(keys.add(sender.certificate))  # warm the chain cache, as a running node has
    verifier = Verifier(
        node_id="LA-VTE",
        keys=keys,
        replay=MemoryReplayStore(timedelta(days=7), clock),
        clock=clock,
    )
    # Distinct values, so that both paths verify distinct signatures (Ed25519 verification time
    # varies a little with the signature; one signature verified again and again flatters).
    filler = random.Random(5).randbytes(args.value_bytes - 8)  # noqa: S311 - filler, no secret
    values = [number.to_bytes(8, "big") + filler for number in range(args.messages)]
    raw_key = ed25519.Ed25519PrivateKey.generate()  # same algorithm, same bytes, no envelope
    raw_public_key = raw_key.public_key()
    raw_signed = [(raw_key.sign(value), value) for value in values]
    signed: list[tuple[tuple[Header, ...], bytes]] = []

    def project_sign() -> None:
        signed.clear()
        for number, value in enumerate(values):
            record = declaration_record(
                sender,
                value=value,
                message_id=str(uuid.UUID(int=number)),
                reference=f"CQ2026{number:012d}",
                recipient="LA-VTE",
                time=clock.now(),
                dataschema=DATASCHEMA,
            )
            signed.append((record.headers, record.value))

    def project_verify() -> None:
        for headers, value in signed:
            verifier.release(verifier.verify(headers, value))

    batched: list[tuple[tuple[Header, ...], bytes]] = []

    def batch_sign() -> None:
        batched.clear()
        for first in range(0, len(values), args.batch):
            drafts = [
                declaration_draft(
                    sender,
                    value=value,
                    message_id=str(uuid.UUID(int=first + number)),
                    reference=f"CQ2026{first + number:012d}",
                    recipient="LA-VTE",
                    time=clock.now(),
                    dataschema=DATASCHEMA,
                )
                for number, value in enumerate(values[first : first + args.batch])
            ]
            batched.extend((r.headers, r.value) for r in sign_batch(sender, drafts))

    def batch_verify() -> None:
        for headers, value in batched:
            verifier.release(verifier.verify(headers, value))

    def raw_sign() -> None:
        for value in values:
            raw_key.sign(value)

    def raw_verify() -> None:
        for signature, value in raw_signed:
            raw_public_key.verify(signature, value)

    loops = {"sign_us": project_sign, "verify_us": project_verify}
    loops |= {"batch_sign_us": batch_sign, "batch_verify_us": batch_verify}
    loops |= {"raw_sign_us": raw_sign, "raw_verify_us": raw_verify}
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(args.rounds):
        for name, loop in loops.items():
            best[name] = min(best[name], _per_message_us(loop, args.messages))
    return {
        "messages": args.messages,
        "value_bytes": args.value_bytes,
        "batch": args.batch,
        **best,
        "sign_ratio": best["sign_us"] / best["raw_sign_us"],
        "verify_ratio": best["verify_us"] / best["raw_verify_us"],
        "batch_sign_ratio": best["batch_sign_us"] / best["raw_sign_us"],
        "batch_verify_ratio": best["batch_verify_us"] / best["raw_verify_us"],
    }
