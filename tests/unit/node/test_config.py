"""Node configuration: TOML + environment, every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import ConfigError
from broker.node.config import load_node_config

GOOD = """
node_id = "CN-CQ"
format = "cn-swxml"
state_dir = "state"
gateway_dir = "gateway"

[kafka]
bootstrap_servers = "127.0.0.1:9092"

[identity]
node_dir = "pki/nodes/CN-CQ"
trust_list = "pki/trust-list.pem"

[[partners]]
node_id = "LA-VTE"
allow_fields = ["exporter.name", "goods_items"]

[[partners]]
node_id = "TH-BKK"
seal = true
"""


def test_a_good_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD)
    config = load_node_config(path, frozenset({"cn-swxml"}))
    assert config.country == "CN"
    assert config.state_dir == tmp_path / "state"
    assert config.identity.trust_list == tmp_path / "pki" / "trust-list.pem"
    assert [p.node_id for p in config.partners] == ["LA-VTE", "TH-BKK"]
    assert config.partners[1].seal


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("CUSTOMS_NODE_RECEIPT_TIMEOUT_S", "5")
    config = load_node_config(path)
    assert config.kafka.bootstrap_servers == "kafka-1:9092"
    assert config.receipt_timeout_s == 5.0


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        GOOD.replace('node_id = "CN-CQ"', 'node_id = "chongqing"')
        .replace('"exporter.name"', '"exporter.nmae"')
        .replace('bootstrap_servers = "127.0.0.1:9092"', 'security_protocol = "SASL_SSL"')
    )
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    text = str(caught.value)
    assert "node_id" in text
    assert "exporter.nmae" in text
    assert "SASL_SSL needs sasl_mechanism" in text
    assert len(caught.value.problems) == 3


def test_unknown_format_and_unreadable_toml_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError, match="unknown format"):
        load_node_config(path, frozenset({"cusdec"}))
    path.write_text("node_id = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_node_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_node_config(tmp_path / "missing.toml")


def test_sasl_password_is_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("CUSTOMS_NODE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CUSTOMS_NODE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("CUSTOMS_NODE_KAFKA__USERNAME", "cn-cq")
    monkeypatch.setenv("CUSTOMS_NODE_KAFKA__PASSWORD", "s3cret-pw")
    config = load_node_config(path)
    assert "s3cret-pw" not in repr(config)
    assert "s3cret-pw" not in str(config.model_dump())
