"""Kubernetes `KafkaTopic` and `KafkaUser` manifests generated from the directory (pure text).

The production layout replicates three times with min ISR 2 whatever the demo file says (one
broker locally); everything else (names, partitions, ACLs) is the directory's.
`customs-broker corridor generate` writes them; a test checks the files equal this output.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from broker.directory.access import Acl, corridor_acls, user_name
from broker.directory.model import Corridor
from broker.node.topics import CorridorTopics

NAMESPACE = "ilstc-customs"
CLUSTER = "corridor"
REPLICAS, MIN_ISR = 3, 2
DLQ_RETENTION_MS = 30 * 24 * 3600 * 1000


def _k8s_name(topic: str) -> str:
    return topic.lower().replace(".", "-")


def _meta(name: str) -> dict[str, object]:
    return {"name": name, "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": CLUSTER}}


def _dump(header: str, documents: list[dict[str, object]]) -> str:
    body = "".join(
        "---\n" + yaml.safe_dump(d, sort_keys=False, allow_unicode=True) for d in documents
    )
    return header + body


def topics_yaml(corridor: Corridor, source: str) -> str:
    topics = CorridorTopics(corridor.topics.namespace)
    documents: list[dict[str, object]] = []
    for spec in topics.layout(corridor):
        config: dict[str, object] = {**spec.configs, "min.insync.replicas": MIN_ISR}
        if spec.name.startswith(f"{corridor.topics.namespace}.dlq."):
            config["retention.ms"] = DLQ_RETENTION_MS  # time to inspect and re-drive
        documents.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaTopic",
                "metadata": _meta(_k8s_name(spec.name)),
                "spec": {
                    "topicName": spec.name,
                    "partitions": spec.partitions,
                    "replicas": REPLICAS,
                    "config": config,
                },
            }
        )
    header = (
        f"# Generated from {source} by `customs-broker corridor generate`: do not edit.\n"
        "# Every member's inbox and dead-letter topic and the two compacted directories,\n"
        f"# replicated {REPLICAS} times with min.insync.replicas {MIN_ISR}.\n"
    )
    return _dump(header, documents)


def _acl(acl: Acl) -> dict[str, object]:
    return {
        "resource": {
            "type": acl.resource.value.lower(),
            "name": acl.name,
            "patternType": "prefix" if acl.prefixed else "literal",
        },
        "operations": [acl.operation.value],
        "host": "*",
    }


def users_yaml(corridor: Corridor, source: str) -> str:
    documents: list[dict[str, object]] = []
    for user, acls in sorted(corridor_acls(corridor).items()):
        documents.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaUser",
                "metadata": _meta(user),
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {"type": "simple", "acls": [_acl(a) for a in acls]},
                },
            }
        )
    header = (
        f"# Generated from {source} by `customs-broker corridor generate`: do not edit.\n"
        "# One SCRAM user per member: read its own inbox, dead letters and the directories,\n"
        "# write its partners' inboxes and its own dead-letter topic\n"
        "# (broker/directory/access.py).\n"
        "# Write on a topic covers the idempotent producer's InitProducerId (KIP-679).\n"
    )
    return _dump(header, documents)


# ---------------------------------------------------------------- node files, compose
FIRST_METRICS_PORT = 9464
PORT_ORDER = ("CN-CQ", "LA-VTE", "TH-BKK", "VN-HAN")  # deploy/prometheus/prometheus.yml's four


def metrics_ports(corridor: Corridor) -> dict[str, int]:
    """Member -> metrics port: the four of the local Prometheus config first, then the rest."""
    order = [n for n in PORT_ORDER if corridor.member(n)]
    order += [m.node_id for m in corridor.members if m.node_id not in order]
    return {node_id: FIRST_METRICS_PORT + index for index, node_id in enumerate(order)}


def node_toml(corridor: Corridor, node_id: str, port: int, source: str) -> str:
    """A node's own file: identity, state, gateway, Kafka, metrics; the rest is the directory."""
    keys = f"../../.state/pki/nodes/{node_id}"
    return (
        f"# Generated from {source} by `customs-broker corridor generate`: do not edit.\n"
        f"# Keys: `customs-broker corridor pki --out .state/pki` (each node its own folder).\n"
        f'node_id = "{node_id}"\n'
        f'state_dir = "../../.state/nodes/{node_id}"\n'
        f'gateway_dir = "../../.state/gateway/{node_id}"\n'
        f"metrics_port = {port}\n"
        "receipt_timeout_s = 30\n\n"
        "[kafka]  # compose and Kubernetes set SASL, user and password through CUSTOMS_NODE_KAFKA__*\n"
        'bootstrap_servers = "127.0.0.1:9092"\n'
        'security_protocol = "PLAINTEXT"\n\n'
        "[identity]\n"
        f'node_dir = "{keys}"\n'
        f'trust_list = "{keys}/trust-list.pem"\n'
        f'passphrase_file = "{keys}/passphrase.txt"\n\n'
        "# Partners, data-sharing terms, transit routes, topic layout and national format: the\n"
        "# corridor directory (this copy until the secretariat's signed entries are read).\n"
        "[directory]\n"
        f'file = "../corridor.toml"\n'
        f'namespace = "{corridor.topics.namespace}"\n'
        f'secretariat = "{corridor.secretariat}"\n'
    )


def prometheus_compose_yaml(corridor: Corridor, source: str) -> str:
    ports = metrics_ports(corridor)
    targets = "".join(
        f'      - targets: ["{_service(n)}:{port}"]\n        labels: {{node: {n}}}\n'
        for n, port in ports.items()
    )
    return (
        f"# Generated from {source} by `customs-broker corridor generate`: do not edit.\n"
        "# Prometheus inside docker-compose.yml: the same job and rules as prometheus.yml, with\n"
        "# the nodes' service names as hosts. The compose file mounts this folder.\n"
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
        "  external_labels:\n    corridor: ilstc\n\n"
        "rule_files:\n  - rules/*.yml\n\n"
        "scrape_configs:\n  - job_name: customs-nodes\n"
        "    honor_labels: true      # see prometheus.yml\n"
        "    static_configs:\n" + targets
    )


def _service(node_id: str) -> str:
    return f"node-{node_id.lower()}"


_COMPOSE_HEAD = """\
# Generated from {source} by `customs-broker corridor generate`: do not edit.
# The corridor on a machine with a Docker engine.
#   docker compose up -d                                 Kafka only
#   docker compose --profile corridor up -d --build      + PKI step, every member's node,
#                                                          Prometheus, Grafana
# Kafka runs SASL/SCRAM with deny-by-default ACLs: each node logs in as its own user, whose ACLs
# `corridor apply` derives from the directory. The administrator (a super user, PLAIN, password
# $CUSTOMS_KAFKA_ADMIN_PASSWORD) exists only for the set-up. Clients on the host use
# localhost:9092; containers on this network use kafka:29092; the PLAINTEXT listener and the
# controller listen on the Kafka container's loopback only (inter-broker and health checks).
# Grafana: http://127.0.0.1:3000 (dashboard "ILSTC customs corridor"); Prometheus: :9090.
name: ilstc-customs

# What every container built from ./Dockerfile shares: the image, hardening.
x-customs: &customs
  image: ilstc-customs-broker:0.1.0
  build:
    context: .
    dockerfile: Dockerfile
  profiles: [corridor]
  read_only: true
  tmpfs: [/tmp]
  cap_drop: [ALL]
  security_opt: ["no-new-privileges:true"]

# A node: waits for Kafka and the set-up, serves /metrics, /healthz, /readyz on its config's port.
x-customs-node: &customs-node
  <<: *customs
  restart: unless-stopped
  depends_on:
    kafka:
      condition: service_healthy
    corridor-init:
      condition: service_completed_successfully

services:
  kafka:
    image: apache/kafka:4.1.1  # same version as broker/devkafka/config.py KAFKA_VERSION
    hostname: kafka
    ports:
      - "127.0.0.1:9092:9092"
    environment:
      KAFKA_NODE_ID: "1"
      KAFKA_PROCESS_ROLES: broker,controller
      KAFKA_LISTENERS: SASL://:29092,EXTERNAL://:9092,INTERNAL://127.0.0.1:29093,CONTROLLER://127.0.0.1:9093
      KAFKA_ADVERTISED_LISTENERS: SASL://kafka:29092,EXTERNAL://localhost:9092,INTERNAL://127.0.0.1:29093
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT
      KAFKA_CONTROLLER_LISTENER_NAMES: CONTROLLER
      KAFKA_INTER_BROKER_LISTENER_NAME: INTERNAL
      KAFKA_CONTROLLER_QUORUM_VOTERS: 1@127.0.0.1:9093
      KAFKA_SASL_ENABLED_MECHANISMS: SCRAM-SHA-256,PLAIN
      KAFKA_LISTENER_NAME_SASL_SCRAM___SHA___256_SASL_JAAS_CONFIG: org.apache.kafka.common.security.scram.ScramLoginModule required;
      KAFKA_LISTENER_NAME_EXTERNAL_SCRAM___SHA___256_SASL_JAAS_CONFIG: org.apache.kafka.common.security.scram.ScramLoginModule required;
      KAFKA_LISTENER_NAME_SASL_PLAIN_SASL_JAAS_CONFIG: org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="${{CUSTOMS_KAFKA_ADMIN_PASSWORD:-admin-secret}}";
      KAFKA_LISTENER_NAME_EXTERNAL_PLAIN_SASL_JAAS_CONFIG: org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="${{CUSTOMS_KAFKA_ADMIN_PASSWORD:-admin-secret}}";
      KAFKA_AUTHORIZER_CLASS_NAME: org.apache.kafka.metadata.authorizer.StandardAuthorizer
      KAFKA_SUPER_USERS: User:admin;User:ANONYMOUS  # ANONYMOUS: the loopback-only listeners
      KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND: "false"
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1"
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: "6"
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1"
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1"
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1"
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1"
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0"
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false"
      KAFKA_HEAP_OPTS: -Xms768m -Xmx768m
    healthcheck:
      test: ["CMD-SHELL", "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:29093 >/dev/null 2>&1"]
      interval: 5s
      timeout: 10s
      retries: 24
      start_period: 10s
    volumes:
      - kafka-data:/var/lib/kafka/data

  # The PKI step: national CAs and one identity per member (each with its own passphrase and
  # Kafka password) on the first run only; then the directory's topics, users and ACLs, every
  # certificate announced and the directory's signed entries published (idempotent). Runs as
  # root to hand each node's volumes to the image's user; the CA keys stay in corridor-ca.
  corridor-init:
    <<: *customs
    user: "0:0"
    cap_add: [CHOWN, DAC_OVERRIDE, FOWNER]
    depends_on:
      kafka:
        condition: service_healthy
    environment:
      CUSTOMS_KAFKA_PASSWORD: ${{CUSTOMS_KAFKA_ADMIN_PASSWORD:-admin-secret}}
    entrypoint: ["/bin/sh", "-ec"]
    command:
      - |
        customs-broker corridor pki --out /pki
{copy}
        admin="--bootstrap-servers kafka:29092 --user admin --mechanism PLAIN"
        customs-broker corridor apply $$admin --credentials /pki/credentials
        customs-broker corridor publish $$admin --pki /pki
    volumes:
      - corridor-ca:/pki
{init_volumes}
"""

_NODE = """
  {service}:
    <<: *customs-node
    environment:
      CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS: kafka:29092
      CUSTOMS_NODE_KAFKA__SECURITY_PROTOCOL: SASL_PLAINTEXT
      CUSTOMS_NODE_KAFKA__SASL_MECHANISM: SCRAM-SHA-256
      CUSTOMS_NODE_KAFKA__USERNAME: {user}
    # Its own key folder only (read-only); the SCRAM password is read from it at start.
    entrypoint: ["/bin/sh", "-ec"]
    command:
      - CUSTOMS_NODE_KAFKA__PASSWORD="$$(cat .state/pki/nodes/{node}/kafka.password)" exec customs-broker node run --config deploy/nodes/{node}.toml
    volumes:
      - {service}-keys:/app/.state/pki/nodes/{node}:ro
      - {service}-state:/app/.state/nodes/{node}
      - {service}-gateway:/app/.state/gateway/{node}
    ports: ["127.0.0.1:{port}:{port}"]
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/healthz', timeout=3)"]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 30s
"""

_COMPOSE_TAIL = """
  # Scrapes every node with the alert and recording rules of deploy/prometheus/rules/.
  prometheus:
    image: prom/prometheus:v2.53.4
    profiles: [corridor]
    command:
      - --config.file=/etc/prometheus/prometheus.compose.yml
      - --storage.tsdb.path=/prometheus
      - --storage.tsdb.retention.time=15d
    volumes:
      - ./deploy/prometheus:/etc/prometheus:ro
      - prometheus-data:/prometheus
    ports: ["127.0.0.1:9090:9090"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready"]
      interval: 10s
      timeout: 5s
      retries: 6

  # The provisioned data source and the "ILSTC customs corridor" dashboard, read-only.
  grafana:
    image: grafana/grafana:11.4.0
    profiles: [corridor]
    depends_on:
      prometheus:
        condition: service_healthy
    environment:
      GF_AUTH_ANONYMOUS_ENABLED: "true"   # viewing needs no login on this local-only port
      GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer
      GF_SECURITY_ADMIN_PASSWORD: ${{GRAFANA_ADMIN_PASSWORD:-admin}}
      GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: /var/lib/grafana/dashboards/ilstc-customs-corridor.json
    volumes:
      - ./deploy/grafana/provisioning:/etc/grafana/provisioning:ro
      - ./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro
      - grafana-data:/var/lib/grafana
    ports: ["127.0.0.1:3000:3000"]

volumes:
  kafka-data:
  corridor-ca:
  prometheus-data:
  grafana-data:
{volumes}"""


def compose_yaml(corridor: Corridor, source: str) -> str:
    ports = metrics_ports(corridor)
    nodes = [m.node_id for m in corridor.members]
    copy = "\n".join(
        f"        install -d -o 10001 -g 10001 -m 0700 /keys/{n} /state/{n} /gateway/{n}\n"
        f"        install -o 10001 -g 10001 -m 0600 /pki/nodes/{n}/* /keys/{n}/"
        for n in nodes
    )
    init_volumes = "\n".join(
        f"      - {_service(n)}-keys:/keys/{n}\n"
        f"      - {_service(n)}-state:/state/{n}\n"
        f"      - {_service(n)}-gateway:/gateway/{n}"
        for n in nodes
    )
    services = "".join(
        _NODE.format(service=_service(n), node=n, user=user_name(n), port=ports[n]) for n in nodes
    )
    volumes = "".join(
        f"  {_service(n)}-{kind}:\n" for n in nodes for kind in ("keys", "state", "gateway")
    )
    return (
        _COMPOSE_HEAD.format(source=source, copy=copy, init_volumes=init_volumes)
        + services
        + _COMPOSE_TAIL.format(volumes=volumes)
    )


def manifests(corridor: Corridor, source: str) -> dict[str, str]:
    """Repository path -> the text `corridor generate` writes there."""
    files = {
        "deploy/k8s/topics.yaml": topics_yaml(corridor, source),
        "deploy/k8s/users.yaml": users_yaml(corridor, source),
        "deploy/prometheus/prometheus.compose.yml": prometheus_compose_yaml(corridor, source),
        "docker-compose.yml": compose_yaml(corridor, source),
    }
    for node_id, port in metrics_ports(corridor).items():
        files[f"deploy/nodes/{node_id}.toml"] = node_toml(corridor, node_id, port, source)
    return files


def write_manifests(corridor: Corridor, root: Path, *, source: Path) -> list[Path]:
    written = []
    for name, text in manifests(corridor, source.as_posix()).items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
