"""deploy/k8s: every manifest parses, and the invariants the corridor relies on hold.

Replication 3 / min ISR 2; topics and ACLs derived from the same functions the nodes use
(broker/node/topics.py) and the partners of deploy/nodes/*.toml; probes, limits and a non-root
security context on every container; monitoring wired to the alerts' job and the repo's rules.
No cluster is needed: the checks are structural (no Kubernetes API server exists here).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.devkafka.config import KAFKA_VERSION
from broker.directory.access import user_name
from broker.directory.load import load_corridor
from broker.directory.manifests import topics_yaml, users_yaml
from broker.node.config import NodeConfig, load_node_config
from broker.node.topics import CorridorTopics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "ilstc-customs"
NODES = ("CN-CQ", "LA-VTE", "TH-BKK", "VN-HAN")
SOURCE = "deploy/corridor.toml"
CORRIDOR = load_corridor(ROOT / SOURCE)
TOPICS = CorridorTopics(CORRIDOR.topics.namespace)
CLUSTER_SCOPED = {"Namespace"}

Manifest = dict[str, Any]


@functools.cache
def _parsed() -> tuple[tuple[str, Manifest], ...]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:  # a leading comment-only document
                assert isinstance(doc, dict), path
                found.append((path.name, doc))
    return tuple(found)


def manifests() -> Iterator[tuple[str, Manifest]]:
    """(file name, document) of every manifest; parsed once (the tests only read them)."""
    return iter(_parsed())


def of_kind(kind: str) -> list[Manifest]:
    return [doc for _, doc in manifests() if doc["kind"] == kind]


def one(kind: str) -> Manifest:
    [doc] = of_kind(kind)
    return doc


def node_config(node_id: str) -> NodeConfig:
    return load_node_config(ROOT / "deploy" / "nodes" / f"{node_id}.toml")


def deployment(node_id: str) -> Manifest:
    [found] = [d for d in of_kind("Deployment") if d["metadata"]["name"].endswith(node_id.lower())]
    return found


def acls(user: Manifest) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) for every operation the user is granted."""
    return {
        (acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"], op)
        for acl in user["spec"]["authorization"]["acls"]
        for op in acl["operations"]
    }


def test_every_manifest_parses_names_itself_and_is_applied_by_the_kustomization() -> None:
    files = set()
    for name, doc in manifests():
        assert {"apiVersion", "kind"} <= doc.keys(), name
        if doc["kind"] == "Kustomization":
            continue
        files.add(name)
        assert doc["metadata"]["name"], name
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == NAMESPACE, (name, doc["metadata"]["name"])
    assert set(one("Kustomization")["resources"]) == files


def test_kafka_is_kraft_with_three_nodes_replication_three_and_min_isr_two() -> None:
    kafka, pool = one("Kafka"), one("KafkaNodePool")
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    spec = kafka["spec"]["kafka"]
    assert spec["version"] == KAFKA_VERSION
    assert spec["config"]["default.replication.factor"] == 3
    assert spec["config"]["min.insync.replicas"] == 2
    assert spec["config"]["offsets.topic.replication.factor"] == 3
    assert spec["config"]["transaction.state.log.replication.factor"] == 3
    assert spec["config"]["transaction.state.log.min.isr"] == 2
    assert spec["config"]["auto.create.topics.enable"] is False
    assert spec["authorization"]["type"] == "simple"
    assert [(li["tls"], li["authentication"]["type"]) for li in spec["listeners"]] == [
        (True, "scram-sha-512")
    ]


def test_topics_and_users_are_exactly_what_the_directory_generates() -> None:
    # `customs-broker corridor generate` wrote them; any hand edit or directory change shows.
    assert (K8S / "topics.yaml").read_text(encoding="utf-8") == topics_yaml(CORRIDOR, SOURCE)
    assert (K8S / "users.yaml").read_text(encoding="utf-8") == users_yaml(CORRIDOR, SOURCE)
    declared = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic")}
    expected = {spec.name: spec for spec in TOPICS.layout(CORRIDOR)}
    assert declared.keys() == expected.keys()
    for name, topic in declared.items():
        assert topic["spec"]["partitions"] == expected[name].partitions, name
        assert topic["spec"]["replicas"] == 3, name
        assert str(topic["spec"]["config"]["min.insync.replicas"]) == "2", name
    assert declared[TOPICS.keys]["spec"]["config"]["cleanup.policy"] == "compact"
    assert declared[TOPICS.directory]["spec"]["config"]["cleanup.policy"] == "compact"


@pytest.mark.parametrize("node_id", [m.node_id for m in CORRIDOR.members])
def test_a_node_user_reads_only_its_inbox_and_writes_its_partners_and_its_dlq(
    node_id: str,
) -> None:
    [user] = [u for u in of_kind("KafkaUser") if u["metadata"]["name"] == user_name(node_id)]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    partners = [p.node_id for p in CORRIDOR.partners_of(node_id)]
    granted = acls(user)
    reads = {(t, n) for t, n, _, op in granted if op == "Read"}
    writes = {n for t, n, _, op in granted if op == "Write"}
    assert reads == {
        ("topic", TOPICS.inbox(node_id)),
        ("topic", TOPICS.dead_letters(node_id)),
        ("topic", TOPICS.keys),
        ("topic", TOPICS.directory),
        ("group", TOPICS.group(node_id)),
        ("group", TOPICS.replay_group(node_id)),
    }
    assert writes == {TOPICS.inbox(p) for p in partners} | {TOPICS.dead_letters(node_id)}
    assert {pattern for _, _, pattern, _ in granted} == {"literal"}  # no prefix wildcards
    declared = {t["spec"]["topicName"] for t in of_kind("KafkaTopic")}
    assert {n for t, n, _, _ in granted if t == "topic"} <= declared


def test_no_node_can_read_another_nodes_inbox() -> None:
    for user in of_kind("KafkaUser"):
        name = user["metadata"]["name"]
        for kind, resource, pattern, op in acls(user):
            if (
                kind != "topic"
                or op != "Read"
                or not resource.startswith(f"{TOPICS.namespace}.inbox.")
            ):
                continue
            assert pattern == "literal"
            assert resource == TOPICS.inbox(name.removeprefix("customs-node-").upper()), name


@pytest.mark.parametrize("node_id", NODES)
def test_every_container_has_probes_limits_and_an_unprivileged_security_context(
    node_id: str,
) -> None:
    spec = deployment(node_id)["spec"]["template"]["spec"]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] not in (None, 0)
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    port = node_config(node_id).metrics_port
    for container in spec["containers"]:
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == port, "the port of the node's metrics_port"
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert (live["path"], live["port"]) == ("/healthz", "metrics")
        assert (ready["path"], ready["port"]) == ("/readyz", "metrics")
    # Init containers may not have probes (Kubernetes refuses them); limits and context they must.
    for container in spec["containers"] + spec.get("initContainers", []):
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["limits"].keys(), container["name"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), container["name"]
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("node_id", NODES)
def test_a_deployment_configures_its_node_for_the_cluster_with_its_own_user(
    node_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy = deployment(node_id)
    assert deploy["spec"]["replicas"] == 1  # SQLite ledger and replay store on one volume
    assert deploy["spec"]["strategy"]["type"] == "Recreate"
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["node", "run", "--config", f"deploy/nodes/{node_id}.toml"]
    user = f"customs-node-{node_id.lower()}"
    kafka = one("Kafka")
    [listener] = kafka["spec"]["kafka"]["listeners"]
    # The node reads exactly these variables: load its config with them and look.
    for variable in container["env"]:
        if "valueFrom" in variable:
            assert variable["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
            monkeypatch.setenv(variable["name"], "from-the-user-operator")
        else:
            monkeypatch.setenv(variable["name"], variable["value"])
    config = node_config(node_id)
    assert config.node_id == node_id
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    assert config.kafka.bootstrap_servers == bootstrap
    assert config.kafka.security_protocol == "SASL_SSL"
    assert config.kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert config.kafka.username == user
    assert config.kafka.password is not None
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    for path in (config.state_dir, config.identity.node_dir, config.kafka.ssl_cafile):
        assert path is not None
        assert any(str(path).startswith(m) for m in mounted), path


def test_the_service_monitor_scrapes_every_node_as_the_alerts_expect() -> None:
    monitor = one("ServiceMonitor")["spec"]
    [endpoint] = monitor["endpoints"]
    assert endpoint["honorLabels"] is True  # the nodes' own `node` label wins (as prometheus.yml)
    [relabel] = endpoint["relabelings"]
    assert relabel["targetLabel"] == "node"
    alerts = (ROOT / "deploy/prometheus/rules/customs-alerts.yml").read_text(encoding="utf-8")
    services = {s["metadata"]["labels"]["customs.ilstc.org/node"]: s for s in of_kind("Service")}
    assert services.keys() == set(NODES)
    for node_id, service in services.items():
        labels = service["metadata"]["labels"]
        assert monitor["selector"]["matchLabels"].items() <= labels.items()
        assert f'up{{job="{labels[monitor["jobLabel"]]}"}}' in alerts
        label_source = "__meta_kubernetes_service_label_customs_ilstc_org_node"
        assert relabel["sourceLabels"] == [label_source]
        [port] = service["spec"]["ports"]
        assert port["name"] == endpoint["port"]
        assert port["port"] == node_config(node_id).metrics_port
        pod_labels = deployment(node_id)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_prometheus_rule_carries_the_repositorys_rules_unchanged() -> None:
    groups = []
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        groups += yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    declared = one("PrometheusRule")["spec"]["groups"]
    by_name = {g["name"]: g for g in declared}
    assert by_name == {g["name"]: g for g in groups}
