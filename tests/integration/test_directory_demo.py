"""The whole corridor demo on a SASL/SCRAM Kafka with the directory's ACLs: fifteen nodes, each
logged in as its own user, send, receive, acknowledge and dead-letter within their rights."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console

from broker.demo.runner import CorridorDemo, DemoOptions
from tests.sasl_support import sasl_kafka

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_the_demo_passes_with_sasl_and_per_node_acls(tmp_path: Path) -> None:
    with sasl_kafka(tmp_path / "kafka") as kafka:
        console = Console(record=True, width=120)
        options = DemoOptions(
            work_dir=tmp_path / "demo", kafka=kafka.admin, rate=10, duration=6, metrics=False
        )
        status = asyncio.run(CorridorDemo(options, console).run())
    text = console.export_text()
    assert status == 0, text
    assert "15 nodes ready" in text
    assert "18 users" in text  # 15 members, the secretariat, the key publisher, the operator
    assert "OK: " in text
