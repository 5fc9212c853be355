"""docker-compose.yml is valid Compose, runs the same Kafka as the local launcher, and wires the
corridor profile together: set-up, nodes, Prometheus with the rules, Grafana with the dashboard.
No Docker engine is needed: the checks are structural."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from broker.devkafka.config import KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "vendor" / "compose-spec.json"


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_validates_against_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(load_compose()))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_schema_copy_matches_the_shared_vendor_file_when_present() -> None:
    shared = ROOT.parent / "shared" / "vendor" / "compose-spec.json"
    if not shared.exists():
        pytest.skip("no ../shared/vendor beside this clone; the vendored copy is used")
    assert shared.read_bytes() == SCHEMA.read_bytes()


def test_kafka_service_is_kraft_on_the_launchers_version() -> None:
    kafka = load_compose()["services"]["kafka"]
    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert tag == KAFKA_VERSION
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


def test_invalid_compose_is_caught_by_the_same_check() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = load_compose()
    broken["services"]["kafka"]["ports"] = "9092"  # must be a list
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


# ---------------------------------------------------------------- the corridor profile
NODE_SERVICES = {
    "node-cn-cq": "CN-CQ",
    "node-la-vte": "LA-VTE",
    "node-th-bkk": "TH-BKK",
    "node-vn-han": "VN-HAN",
}


def metrics_port(node_id: str) -> int:
    config = tomllib.loads((ROOT / "deploy" / "nodes" / f"{node_id}.toml").read_text())
    port = config["metrics_port"]
    assert isinstance(port, int)
    return port


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of every `source:target[:mode]` volume."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def test_nodes_run_their_config_on_kafkas_in_network_listener_after_the_set_up() -> None:
    compose = load_compose()
    services = compose["services"]
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:29092" in advertised.split(",")
    for name, node_id in NODE_SERVICES.items():
        node = services[name]
        assert node["build"]["context"] == "."
        assert (ROOT / node["build"]["dockerfile"]).is_file()
        assert node["command"] == ["node", "run", "--config", f"deploy/nodes/{node_id}.toml"]
        assert node["environment"]["CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:29092"
        assert node["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert node["depends_on"]["corridor-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert mounts(node)["/app/.state"] == "corridor-state"  # where the configs point
        assert node["read_only"] is True
        assert node["cap_drop"] == ["ALL"]


def test_node_healthchecks_ask_healthz_on_the_configs_metrics_port() -> None:
    services = load_compose()["services"]
    for name, node_id in NODE_SERVICES.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{metrics_port(node_id)}/healthz" in probe
        assert services[name]["ports"] == [
            f"127.0.0.1:{metrics_port(node_id)}:{metrics_port(node_id)}"
        ]


def test_init_makes_keys_topics_and_announcements_for_every_node() -> None:
    init = load_compose()["services"]["corridor-init"]
    [script] = init["command"]
    assert "customs-broker pki demo --out .state/pki" in script
    assert "customs-broker topics ensure" in script
    assert "customs-broker keys publish" in script
    assert set(script.split("for node in ")[1].split(";")[0].split()) == set(NODE_SERVICES.values())
    # Shell variables are `$$` so Compose leaves them to the shell instead of interpolating.
    assert "$" not in script.replace("$$", "")
    assert "restart" not in init  # a one-shot: nodes wait for it to complete


def test_prometheus_mounts_the_rules_and_scrapes_every_node_service() -> None:
    services = load_compose()["services"]
    prometheus = services["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    [config_flag] = [c for c in prometheus["command"] if c.startswith("--config.file=")]
    config_path = (
        ROOT / "deploy/prometheus" / config_flag.removeprefix("--config.file=/etc/prometheus/")
    )
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["rules/*.yml"]
    assert list((ROOT / "deploy/prometheus/rules").glob("*.yml"))
    [job] = config["scrape_configs"]
    targets = {static["labels"]["node"]: static["targets"] for static in job["static_configs"]}
    assert targets == {
        node_id: [f"{name}:{metrics_port(node_id)}"] for name, node_id in NODE_SERVICES.items()
    }


def test_grafana_mounts_provisioning_and_the_dashboards_the_provider_reads() -> None:
    services = load_compose()["services"]
    grafana = services["grafana"]
    volumes = mounts(grafana)
    assert volumes["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider_file = ROOT / "deploy/grafana/provisioning/dashboards/ilstc.yml"
    [provider] = yaml.safe_load(provider_file.read_text(encoding="utf-8"))["providers"]
    dashboards = volumes[provider["options"]["path"]]
    assert (ROOT / dashboards / "ilstc-customs-corridor.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/ilstc-customs-corridor.json"
    assert "prometheus" in services  # the provisioned data source's host


def test_the_image_is_slim_python_non_root_and_serves_metrics_beyond_loopback() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    [user] = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user.split(":")[0] not in ("0", "root")
    assert any("pip install" in line for line in lines)
    assert any("CUSTOMS_METRICS_HOST=0.0.0.0" in line for line in lines)  # broker/metrics.py
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".state"} <= set(ignored)  # no local keys or state in the image
