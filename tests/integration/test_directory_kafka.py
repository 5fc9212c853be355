"""The corridor directory on real Kafka: partition changes on a running corridor are applied or
reported (never ignored), and a running node follows the secretariat's signed entries live while
refusing forged and stale ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.cli import main
from broker.clock import SystemClock
from broker.directory.apply import apply_corridor
from broker.directory.entries import DirectoryReason, sign_entries
from broker.directory.layout import DriftKind
from broker.directory.load import corridor_from_dict, corridor_toml, small_corridor
from broker.directory.model import Corridor
from broker.model.samples import sample_declaration
from broker.node.config import DirectorySettings
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.node.topics import CorridorTopics
from broker.transport.base import OutboundRecord
from broker.transport.corridor_admin import CorridorAdmin
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings
from tests.corridor_support import SmallCorridor
from tests.integration.test_corridor_kafka import eventually
from tests.kafka_support import KafkaEndpoint

pytestmark = pytest.mark.timeout(150)


def with_changes(corridor: Corridor, **changes: object) -> Corridor:
    return corridor_from_dict({**corridor.model_dump(mode="json"), **changes}, "test")


def grown(corridor: Corridor, node_id: str, partitions: int, serial: int) -> Corridor:
    members = [
        {
            **m.model_dump(mode="json"),
            **({"partitions": partitions} if m.node_id == node_id else {}),
        }
        for m in corridor.members
    ]
    return with_changes(corridor, members=members, serial=serial)


@pytest.fixture
def settings(kafka: KafkaEndpoint) -> KafkaSettings:
    # Clients see added partitions at their next metadata refresh: a short one for the test.
    return KafkaSettings(bootstrap_servers=kafka.bootstrap_servers, metadata_max_age_ms=3000)


@pytest.fixture
async def corridor(settings: KafkaSettings, tmp_path: Path) -> SmallCorridor:
    # CN-ILSTC: the secretariat's identity, announced on the key directory like a node's.
    small = SmallCorridor(
        KafkaTransport(settings),
        SystemClock(),
        tmp_path,
        {"CN-CQ": (), "LA-VTE": (), "TH-BKK": (), "CN-ILSTC": ()},
    )
    await small.prepare()
    return small


def directory_of(small: SmallCorridor, members: dict[str, str]) -> Corridor:
    return small_corridor(members, small.topics.namespace)


async def publish(small: SmallCorridor, corridor: Corridor, signer: str = "CN-ILSTC") -> None:
    producer = small.transport.producer()
    await producer.start()
    try:
        records = sign_entries(
            corridor.model_copy(update={"secretariat": signer})
            if signer != "CN-ILSTC"
            else corridor,
            small.identities[signer],
            at=small.clock.now(),
        )
        await producer.send_many(
            [OutboundRecord(small.topics.directory, r.value, r.key, r.headers) for r in records]
        )
    finally:
        await producer.stop()


@pytest.fixture
async def chongqing(corridor: SmallCorridor) -> AsyncIterator[CorridorNode]:
    """CN-CQ following the directory topic (no partners of its own)."""
    await publish(corridor, directory_of(corridor, {"CN-CQ": "test-json", "LA-VTE": "test-json"}))
    node = corridor.node(
        "CN-CQ",
        partners=(),
        directory=DirectorySettings(namespace=corridor.topics.namespace, secretariat="CN-ILSTC"),
    )
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.create_task(node.run(stop))
    yield node
    stop.set()
    await loop
    await node.stop()
    node.parts.ledger.close()


def partners(node: CorridorNode) -> list[str]:
    return [p.node_id for p in node.parts.config.partners]


def refusals(node: CorridorNode, reason: str) -> float:
    value = node.parts.metrics.registry.get_sample_value(
        "customs_verification_failures_total", {"node": node.node_id, "reason": reason}
    )
    return value or 0.0


async def test_a_running_node_follows_the_directory_and_refuses_forged_and_stale_entries(
    corridor: SmallCorridor, chongqing: CorridorNode
) -> None:
    assert partners(chongqing) == ["LA-VTE"]
    first = directory_of(corridor, {"CN-CQ": "test-json", "LA-VTE": "test-json"})
    second = with_changes(
        directory_of(
            corridor, {"CN-CQ": "test-json", "LA-VTE": "test-json", "TH-BKK": "test-json"}
        ),
        serial=2,
    )
    await publish(corridor, second)
    await eventually(lambda: partners(chongqing) == ["LA-VTE", "TH-BKK"])
    # A node with a valid certificate signs a directory dropping TH-BKK: refused.
    forged = with_changes(first, serial=3)
    await publish(corridor, forged, signer="LA-VTE")
    await eventually(lambda: refusals(chongqing, DirectoryReason.NOT_SECRETARIAT) >= 1)
    # The secretariat's own, genuinely signed, older directory re-published: stale.
    await publish(corridor, first)
    await eventually(lambda: refusals(chongqing, DirectoryReason.STALE) >= 1)
    # An unsigned record: refused too.
    producer = corridor.transport.producer()
    await producer.start()
    try:
        await producer.send(OutboundRecord(corridor.topics.directory, b"{}", b"head"))
    finally:
        await producer.stop()
    await eventually(lambda: refusals(chongqing, "malformed-envelope") >= 1)
    assert partners(chongqing) == ["LA-VTE", "TH-BKK"]
    state = chongqing.parts.config.state_dir / "directory-serial"
    assert state.read_text().strip() == "2"
    assert state.stat().st_mode & 0o077 == 0


async def test_a_restarted_node_refuses_a_directory_older_than_the_one_it_applied(
    corridor: SmallCorridor, chongqing: CorridorNode
) -> None:
    (chongqing.parts.config.state_dir / "directory-serial").write_text("7\n")
    again = corridor.node(
        "CN-CQ",
        partners=(),
        directory=DirectorySettings(namespace=corridor.topics.namespace, secretariat="CN-ILSTC"),
        state_dir=chongqing.parts.config.state_dir,
    )
    try:
        with pytest.raises(Exception, match="no valid corridor directory at serial >= 7"):
            await again.start()
    finally:
        await again.stop()
        again.parts.ledger.close()


async def test_changing_a_members_partitions_is_applied_on_a_running_corridor(
    corridor: SmallCorridor, chongqing: CorridorNode, settings: KafkaSettings, tmp_path: Path
) -> None:
    members = {"CN-CQ": "test-json", "LA-VTE": "test-json"}
    base = directory_of(corridor, members)
    topics = CorridorTopics(base.topics.namespace)
    inbox, letters = topics.inbox("LA-VTE"), topics.dead_letters("LA-VTE")
    laos = corridor.node("LA-VTE", partners=tuple(base.partners_of("LA-VTE")))
    await laos.start()
    stop = asyncio.Event()
    loop = asyncio.create_task(laos.run(stop))
    try:
        async with CorridorAdmin(settings) as admin:
            assert (await apply_corridor(admin, base)).clean  # topics exist: nothing to do
            more = grown(base, "LA-VTE", 6, serial=2)
            found = (await apply_corridor(admin, more, fix=False)).drift
            assert {(d.topic, d.kind) for d in found} == {
                (inbox, DriftKind.PARTITIONS_GROW),
                (letters, DriftKind.PARTITIONS_GROW),
            }
            path = tmp_path / "corridor.toml"
            path.write_text(corridor_toml(more))
            check = ["corridor", "check", "--directory", str(path)]
            bootstrap = ["--bootstrap-servers", settings.bootstrap_servers]
            assert await asyncio.to_thread(main, [*check, *bootstrap]) == 1
            report = await apply_corridor(admin, more)
            assert report.grown == {inbox: 6, letters: 6}
            assert report.clean
            assert (await admin.observe([inbox]))[inbox].partitions == 6
            assert await asyncio.to_thread(main, [*check, *bootstrap]) == 0
            # Fewer partitions cannot be applied by Kafka: reported, and the command fails.
            fewer = grown(base, "LA-VTE", 2, serial=3)
            shrink = (await apply_corridor(admin, fewer)).drift
            assert {(d.topic, d.kind) for d in shrink} == {
                (inbox, DriftKind.PARTITIONS_SHRINK),
                (letters, DriftKind.PARTITIONS_SHRINK),
            }
        # The running corridor keeps flowing through the change. (Running clients see the new
        # partitions at their next metadata refresh: docs/operations.md.)
        references = [f"CQ-PART-{uuid.uuid4().hex[:8].upper()}" for _ in range(24)]
        for reference in references:
            declaration = sample_declaration(lines=1, reference=reference).model_copy(
                update={"itinerary": ("CN", "LA"), "entry_place": "LAVTE"}
            )
            await chongqing.submit(declaration.model_dump_json().encode())

        def all_acknowledged() -> bool:
            rows = [r for ref in references for r in chongqing.parts.ledger.by_reference(ref)]
            return len(rows) == len(references) and all(
                r.status is DeliveryStatus.DELIVERED for r in rows
            )

        await eventually(all_acknowledged, within_s=60)
    finally:
        stop.set()
        await loop
        await laos.stop()
        laos.parts.ledger.close()
