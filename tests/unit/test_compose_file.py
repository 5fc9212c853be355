"""docker-compose.yml is generated from the corridor directory, is valid Compose, runs the same
Kafka as the local launcher (SASL/SCRAM, ACLs), and wires the corridor profile together: the PKI
step, one node per member with only its own keys, Prometheus with the rules, Grafana with the
dashboard. No Docker engine is needed here: the checks are structural."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from broker.devkafka.config import KAFKA_VERSION
from broker.directory.access import user_name
from broker.directory.load import load_corridor
from broker.directory.manifests import manifests

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
CORRIDOR = load_corridor(ROOT / "deploy" / "corridor.toml")
NODE_SERVICES = {f"node-{m.node_id.lower()}": m.node_id for m in CORRIDOR.members}


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


def test_compose_prometheus_and_node_files_are_what_the_directory_generates() -> None:
    for name, text in manifests(CORRIDOR, "deploy/corridor.toml").items():
        assert (ROOT / name).read_text(encoding="utf-8") == text, f"{name}: run corridor generate"


def test_every_member_has_a_node_on_kafkas_sasl_listener_with_its_own_user() -> None:
    services = load_compose()["services"]
    kafka = services["kafka"]["environment"]
    assert "SASL://kafka:29092" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "SASL:SASL_PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    # What needs no password listens on the Kafka container's loopback only.
    for listener in kafka["KAFKA_LISTENERS"].split(","):
        if listener.startswith(("INTERNAL:", "CONTROLLER:")):
            assert "//127.0.0.1:" in listener, listener
    assert {s for s in services if s.startswith("node-")} == set(NODE_SERVICES)
    for name, node_id in NODE_SERVICES.items():
        node = services[name]
        assert node["build"]["context"] == "."
        assert (ROOT / node["build"]["dockerfile"]).is_file()
        [command] = node["command"]
        assert command.endswith(f"node run --config deploy/nodes/{node_id}.toml")
        env = node["environment"]
        assert env["CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:29092"
        assert env["CUSTOMS_NODE_KAFKA__SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["CUSTOMS_NODE_KAFKA__USERNAME"] == user_name(node_id)
        assert node["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert node["depends_on"]["corridor-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert node["read_only"] is True
        assert node["cap_drop"] == ["ALL"]


def test_each_node_container_gets_only_its_own_keys_and_ca_keys_stay_with_the_pki_step() -> None:
    services = load_compose()["services"]
    key_volumes = {}
    for name, node_id in NODE_SERVICES.items():
        volumes = services[name]["volumes"]
        keys = f"/app/.state/pki/nodes/{node_id}"
        assert f"{name}-keys:{keys}:ro" in volumes
        # Nothing else of the PKI: no other node's keys, no CA, no shared state volume.
        assert [v for v in volumes if "/pki" in v] == [f"{name}-keys:{keys}:ro"]
        assert all(v.split(":")[0].startswith(f"{name}-") for v in volumes), volumes
        key_volumes[name] = f"{name}-keys"
        # The passphrase and Kafka password files are in that folder, as the node file says.
        config = tomllib.loads((ROOT / "deploy" / "nodes" / f"{node_id}.toml").read_text())
        assert config["identity"]["passphrase_file"].endswith(f"pki/nodes/{node_id}/passphrase.txt")
        assert f"pki/nodes/{node_id}/kafka.password" in services[name]["command"][0]
    assert len(set(key_volumes.values())) == len(NODE_SERVICES)
    init = services["corridor-init"]
    assert mounts(init)["/pki"] == "corridor-ca"
    assert not any("corridor-ca" in v for s in NODE_SERVICES for v in services[s]["volumes"])


def test_init_makes_keys_users_acls_topics_and_announcements() -> None:
    init = load_compose()["services"]["corridor-init"]
    [script] = init["command"]
    assert "customs-broker corridor pki --out /pki" in script
    assert "customs-broker corridor apply" in script
    assert "--credentials /pki/credentials" in script
    assert "customs-broker corridor publish" in script
    for node_id in NODE_SERVICES.values():
        assert f"/pki/nodes/{node_id}/* /keys/{node_id}/" in script
    # Shell variables are `$$` so Compose leaves them to the shell instead of interpolating.
    assert "$" not in script.replace("$$", "")
    assert "restart" not in init  # a one-shot: nodes wait for it to complete


def test_node_healthchecks_ask_healthz_on_the_configs_metrics_port() -> None:
    services = load_compose()["services"]
    for name, node_id in NODE_SERVICES.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{metrics_port(node_id)}/healthz" in probe
        assert services[name]["ports"] == [
            f"127.0.0.1:{metrics_port(node_id)}:{metrics_port(node_id)}"
        ]


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
