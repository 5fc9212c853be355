"""Node configuration: TOML + environment + the corridor directory, every problem at once."""

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

[directory]
file = "corridor.toml"
"""

CORRIDOR = """
name = "test"
serial = 1
secretariat = "CN-ILSTC"

[[members]]
node_id = "CN-CQ"
name = "Chongqing"
district = "Chongqing"
format = "cn-swxml"

[[members]]
node_id = "LA-VTE"
name = "Vientiane"
district = "Vientiane"
format = "acdd-xml"

[[members]]
node_id = "TH-BKK"
name = "Bangkok"
district = "Bangkok"
format = "acdd-xml"

[[agreements]]
name = "cq-vte"
members = ["CN-CQ", "LA-VTE"]
[agreements.receives."LA-VTE"]
allow_fields = ["exporter.name", "goods_items"]

[[agreements]]
name = "cq-bkk"
members = ["CN-CQ", "TH-BKK"]
seal = true
[[agreements.transit]]
mode = "RAIL"
via = ["LA"]
"""


@pytest.fixture(autouse=True)
def _corridor_file(tmp_path: Path) -> None:
    (tmp_path / "corridor.toml").write_text(CORRIDOR)


def test_a_good_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD)
    config = load_node_config(path, frozenset({"cn-swxml"}))
    assert config.country == "CN"
    assert config.state_dir == tmp_path / "state"
    assert config.identity.trust_list == tmp_path / "pki" / "trust-list.pem"
    assert [p.node_id for p in config.partners] == ["LA-VTE", "TH-BKK"]
    assert config.partners[0].allow_fields == ("exporter.name", "goods_items")
    assert config.partners[1].seal
    assert [(r.destination, r.via) for r in config.transit_routes] == [("TH", ("LA",))]
    assert config.directory is not None
    assert config.directory.file == tmp_path / "corridor.toml"


def test_partners_topics_and_routes_in_a_node_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD + '\n[topics]\npartitions = 6\n\n[[partners]]\nnode_id = "LA-VTE"\n')
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    assert {p.field for p in caught.value.problems} == {"topics", "partners"}
    assert "decided by the corridor directory" in str(caught.value)


def test_the_format_comes_from_the_directory_and_must_agree_with_it(tmp_path: Path) -> None:
    path = tmp_path / "cn-cq.toml"
    path.write_text(GOOD.replace('format = "cn-swxml"\n', ""))
    assert load_node_config(path).format == "cn-swxml"
    path.write_text(GOOD.replace('format = "cn-swxml"', 'format = "cusdec"'))
    with pytest.raises(ConfigError, match="the directory says CN-CQ speaks cn-swxml"):
        load_node_config(path)


def test_a_node_outside_the_directory_cannot_join(tmp_path: Path) -> None:
    path = tmp_path / "vn.toml"
    path.write_text(GOOD.replace('node_id = "CN-CQ"', 'node_id = "VN-HAN"'))
    with pytest.raises(ConfigError, match="not a member of the corridor directory"):
        load_node_config(path)


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
        .replace('gateway_dir = "gateway"', 'gateway_dir = "gateway"\nreceipt_timeout_s = -1')
        .replace('bootstrap_servers = "127.0.0.1:9092"', 'security_protocol = "SASL_SSL"')
    )
    with pytest.raises(ConfigError) as caught:
        load_node_config(path)
    text = str(caught.value)
    assert "node_id" in text
    assert "receipt_timeout_s" in text
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
