"""Kubernetes `KafkaTopic` and `KafkaUser` manifests generated from the directory (pure text).

The production layout replicates three times with min ISR 2 whatever the demo file says (one
broker locally); everything else (names, partitions, ACLs) is the directory's.
`customs-broker corridor generate` writes them; a test checks the files equal this output.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from broker.directory.access import Acl, corridor_acls
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


def write_manifests(corridor: Corridor, root: Path, *, source: Path) -> list[Path]:
    shown = source.as_posix()
    written = []
    for name, text in (
        ("topics.yaml", topics_yaml(corridor, shown)),
        ("users.yaml", users_yaml(corridor, shown)),
    ):
        path = root / "deploy" / "k8s" / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
