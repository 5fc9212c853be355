"""Per-node Kafka identities derived from the directory: one SCRAM user and its ACLs per member.

A node may read only its own inbox and dead-letter topic and the two directories, join only its
own consumer groups, and write only to its partners' inboxes (declarations, receipts) and its own
dead-letter topic. The secretariat writes the corridor directory; each national CA's publisher
writes the key directory. Everything else is denied (the brokers run deny-by-default).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.directory.model import Corridor
from broker.node.topics import CorridorTopics


class Resource(StrEnum):
    TOPIC = "Topic"
    GROUP = "Group"


class Operation(StrEnum):
    READ = "Read"
    WRITE = "Write"
    DESCRIBE = "Describe"


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """Allow `principal` to do `operation` on the resource named exactly `name`."""

    principal: str  # "User:<name>"
    resource: Resource
    name: str
    operation: Operation
    prefixed: bool = False  # the name is a prefix (operators only; nodes get literal names)


def user_name(node_id: str) -> str:
    """The SCRAM user of a node: `CN-CQ` -> `customs-node-cn-cq` (also its KafkaUser name:
    Kubernetes names are lower case)."""
    return f"customs-node-{node_id.lower()}"


SECRETARIAT_USER = "customs-secretariat"
KEY_PUBLISHER_USER = "customs-key-publisher"
OPERATOR_USER = "customs-operator"  # `dlq list|replay` for every node: dead letters, re-drive


def principal(user: str) -> str:
    return f"User:{user}"


def node_acls(corridor: Corridor, node_id: str) -> list[Acl]:
    topics = CorridorTopics(corridor.topics.namespace)
    who = principal(user_name(node_id))
    reads = [topics.inbox(node_id), topics.dead_letters(node_id), topics.keys, topics.directory]
    writes = [topics.dead_letters(node_id)]
    writes += [topics.inbox(p.node_id) for p in corridor.partners_of(node_id)]
    acls = [Acl(who, Resource.TOPIC, name, Operation.READ) for name in reads]
    acls += [Acl(who, Resource.TOPIC, name, Operation.WRITE) for name in writes]
    acls += [
        Acl(who, Resource.GROUP, group, Operation.READ)
        for group in (topics.group(node_id), topics.replay_group(node_id))
    ]
    return sorted(acls)


def publisher_acls(corridor: Corridor) -> dict[str, list[Acl]]:
    topics = CorridorTopics(corridor.topics.namespace)
    ns, operator = corridor.topics.namespace, principal(OPERATOR_USER)
    return {
        SECRETARIAT_USER: [
            Acl(principal(SECRETARIAT_USER), Resource.TOPIC, topics.directory, op)
            for op in (Operation.READ, Operation.WRITE)
        ],
        KEY_PUBLISHER_USER: [
            Acl(principal(KEY_PUBLISHER_USER), Resource.TOPIC, topics.keys, op)
            for op in (Operation.READ, Operation.WRITE)
        ],
        OPERATOR_USER: [
            Acl(operator, Resource.TOPIC, f"{ns}.dlq.", Operation.READ, prefixed=True),
            Acl(operator, Resource.GROUP, f"{ns}.dlq-replay.", Operation.READ, prefixed=True),
            Acl(operator, Resource.TOPIC, f"{ns}.inbox.", Operation.WRITE, prefixed=True),
            Acl(operator, Resource.TOPIC, topics.keys, Operation.READ),
            Acl(operator, Resource.TOPIC, topics.directory, Operation.READ),
        ],
    }


def corridor_acls(corridor: Corridor) -> dict[str, list[Acl]]:
    """User name -> its ACLs, for every member, the two publishers and the operator."""
    acls = {user_name(m.node_id): node_acls(corridor, m.node_id) for m in corridor.members}
    return acls | publisher_acls(corridor)
