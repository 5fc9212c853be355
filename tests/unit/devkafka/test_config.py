"""The generated broker configuration: pure, so checked without starting Java."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.devkafka.config import (
    ClusterSpec,
    new_cluster_id,
    node_properties,
    render_properties,
    scram_format_args,
)
from broker.devkafka.maven import pom_for
from broker.errors import LauncherError


def test_single_node_is_combined_mode_with_rf1_and_standalone_quorum(tmp_path: Path) -> None:
    props = node_properties(ClusterSpec(state_dir=tmp_path), 1)
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["log.dirs"] == str(tmp_path / "node-1" / "data")


def test_three_nodes_have_static_voters_rf3_and_min_isr2(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path, nodes=3, port=30000)
    assert spec.bootstrap_servers == "127.0.0.1:30000,127.0.0.1:30002,127.0.0.1:30004"
    props = node_properties(spec, 2)
    assert props["node.id"] == "2"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:30002,CONTROLLER://127.0.0.1:30003"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:30001,2@127.0.0.1:30003,3@127.0.0.1:30005"
    )
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"


def test_sasl_enables_scram_acls_and_keeps_controllers_voting(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path, sasl=True, users={"cn-cq": "pw1"})
    props = node_properties(spec, 1)
    assert props["listeners"].startswith("SASL_PLAINTEXT://127.0.0.1:9092,")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert "User:ANONYMOUS" in props["super.users"]
    assert scram_format_args(spec) == [
        "--add-scram",
        "SCRAM-SHA-256=[name=admin,password=admin-secret]",
        "--add-scram",
        "SCRAM-SHA-256=[name=cn-cq,password=pw1]",
    ]


def test_overrides_win(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path, overrides={"num.partitions": "12"})
    assert node_properties(spec, 1)["num.partitions"] == "12"


def test_every_invalid_setting_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(LauncherError) as caught:
        ClusterSpec(state_dir=tmp_path, nodes=2, port=80, heap_mb=100_000)
    text = str(caught.value)
    assert "nodes must be 1 or 3" in text
    assert "port 80" in text
    assert "heap_mb" in text


def test_properties_and_scram_users_refuse_injection(tmp_path: Path) -> None:
    with pytest.raises(LauncherError, match="newline"):
        render_properties({"a": "b\nauthorizer.class.name="})
    spec = ClusterSpec(state_dir=tmp_path, sasl=True, users={"x": "p],[name=evil"})
    with pytest.raises(LauncherError, match="must not contain"):
        scram_format_args(spec)


def test_cluster_id_is_kafka_shaped() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and "=" not in i for i in ids)
    assert not any(i.startswith("-") for i in ids)  # would read as an option to StorageTool


def test_pom_lists_coordinates_and_rejects_malformed_ones() -> None:
    pom = pom_for(["org.apache.kafka:kafka_2.13:4.1.1"])
    assert "<artifactId>kafka_2.13</artifactId><version>4.1.1</version>" in pom
    with pytest.raises(LauncherError, match="group:artifact:version"):
        pom_for(["org.apache.kafka:kafka_2.13"])
