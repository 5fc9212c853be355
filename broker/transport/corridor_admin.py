"""Applies the corridor directory to a Kafka cluster: topics (with drift), SCRAM users, ACLs.

The directory's Kafka edge, kept in the transport package (the only one that imports aiokafka);
`broker.directory` decides what to apply, this module talks to Kafka. aiokafka's admin
client creates topics, partitions and ACLs and describes configs; it has no call for SCRAM
credentials, so `AlterUserScramCredentials` (KIP-554, API key 51, a flexible version) is defined
here from the Kafka protocol's message spec and sent on the admin client's connection. The
salted password is computed client side (RFC 5802: PBKDF2-HMAC-SHA-256), as Kafka's own tools do.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DescribeAclsRequest_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)
from pydantic import SecretStr

from broker.directory.access import Acl, Operation, Resource
from broker.directory.layout import ObservedTopic
from broker.errors import TransportError
from broker.transport.base import TopicSpec
from broker.transport.settings import KafkaSettings, client_kwargs

SCRAM_SHA_256 = 1  # ScramMechanism ids of the protocol
SCRAM_ITERATIONS = 4096  # Kafka's minimum for SCRAM-SHA-256
_RESOURCE = {Resource.TOPIC: 2, Resource.GROUP: 3}  # AclResourceType
_OPERATION = {Operation.READ: 3, Operation.WRITE: 4, Operation.DESCRIBE: 8}  # AclOperation
_LITERAL, _PREFIXED, _ALLOW, _ANY = 3, 4, 3, 1
ACL_BATCH = 1000


class _AlterScramResponse(Response):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramStruct(RequestStruct):  # type: ignore[misc]  # aiokafka ships no types
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponse
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScram(Request[_AlterScramStruct]):  # type: ignore[misc]
    API_KEY = 51
    ALLOW_UNKNOWN_API_VERSION: ClassVar[bool] = True

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self._upsertions = upsertions

    def build(self, request_struct_class: type[_AlterScramStruct]) -> _AlterScramStruct:
        return request_struct_class([], self._upsertions, {})


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, creations: list[tuple[Any, ...]]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(self._creations)


class _DescribeAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 29

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        # Every binding: any resource type, any name, any pattern, any principal/host/op.
        return request_struct_class(_ANY, None, _ANY, None, None, _ANY, _ANY)


def salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def _wrap(action: str, exc: KafkaError) -> TransportError:
    error = TransportError(f"{action}: {type(exc).__name__}: {exc}")
    if not getattr(exc, "retriable", True):
        error.retriable = False  # type: ignore[misc]  # per-instance override of the class default
    return error


def _check(action: str, code: int, message: str | None = None) -> None:
    if code != 0:
        error_type = for_code(code)
        raise _wrap(action, error_type(message) if message else error_type())


class CorridorAdmin:
    """One admin connection (a super user's) for `corridor apply|check` and the benchmark."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._client = AIOKafkaAdminClient(**client_kwargs(settings))

    async def __aenter__(self) -> CorridorAdmin:
        try:
            await self._client.start()
        except KafkaError as exc:
            await self._client.close()
            raise _wrap("starting admin client", exc) from exc
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.close()

    async def _send(self, request: Request[Any]) -> Any:
        try:
            return await self._client._send_request(request)
        except KafkaError as exc:
            raise _wrap(f"{type(request).__name__}", exc) from exc

    # ------------------------------------------------------------------ topics
    async def observe(self, names: Iterable[str]) -> dict[str, ObservedTopic]:
        """Partitions, replication and config values of the topics of `names` that exist."""
        try:
            existing = set(await self._client.list_topics())
            wanted = sorted(set(names) & existing)
            if not wanted:
                return {}
            described = await self._client.describe_topics(wanted)
            configs = await self._client.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
            )
        except KafkaError as exc:
            raise _wrap("describing topics", exc) from exc
        values: dict[str, dict[str, str]] = {}
        for response in configs:
            for resource in response.resources:
                code, message, _, name, entries = resource[:5]
                _check(f"describing configs of {name}", code, message)
                values[name] = {e[0]: e[1] for e in entries if e[1] is not None}
        observed = {}
        for topic in described:
            _check(f"describing {topic['topic']}", topic["error_code"])
            partitions = topic["partitions"]
            replication = len(partitions[0]["replicas"]) if partitions else 0
            observed[topic["topic"]] = ObservedTopic(
                topic["topic"], len(partitions), replication, values.get(topic["topic"], {})
            )
        return observed

    async def create_topics(self, specs: Sequence[TopicSpec], batch: int = 200) -> None:
        for start in range(0, len(specs), batch):
            chunk = specs[start : start + batch]
            try:
                response = await self._client.create_topics(
                    [
                        NewTopic(
                            s.name,
                            s.partitions,
                            s.replication_factor,
                            topic_configs=dict(s.configs),
                        )
                        for s in chunk
                    ]
                )
            except KafkaError as exc:
                raise _wrap("creating topics", exc) from exc
            for topic, code, *message in response.topic_errors:
                _check(f"creating topic {topic}", code, message[0] if message else None)

    async def grow_partitions(self, wanted: Mapping[str, int]) -> None:
        if not wanted:
            return
        try:
            response = await self._client.create_partitions(
                {name: NewPartitions(count) for name, count in wanted.items()}
            )
        except KafkaError as exc:
            raise _wrap("adding partitions", exc) from exc
        for topic, code, message in response.topic_errors:
            _check(f"adding partitions to {topic}", code, message)

    async def set_configs(self, configs: Mapping[str, Mapping[str, str]]) -> None:
        """Set these values (AlterConfigs replaces a topic's dynamic configs with this set)."""
        if not configs:
            return
        try:
            responses = await self._client.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, name, dict(values))
                    for name, values in configs.items()
                ]
            )
        except KafkaError as exc:
            raise _wrap("altering topic configs", exc) from exc
        for response in responses:
            for code, message, _, name in response.resources:
                _check(f"altering configs of {name}", code, message)

    # ------------------------------------------------------------------ identities
    async def upsert_scram_users(self, passwords: Mapping[str, str]) -> None:
        upsertions: list[tuple[Any, ...]] = []
        for name, password in sorted(passwords.items()):
            salt = secrets.token_bytes(32)
            upsertions.append(
                (name, SCRAM_SHA_256, SCRAM_ITERATIONS, salt, salted_password(password, salt), {})
            )
        for start in range(0, len(upsertions), 200):
            response = await self._send(_AlterScram(upsertions[start : start + 200]))
            for user, code, message, _ in response.results:
                _check(f"setting the SCRAM credential of {user}", code, message)

    async def wait_for_login(self, user: str, password: str, within_s: float = 20.0) -> None:
        """Return once `user` can authenticate: new SCRAM credentials reach every broker a
        moment after the controller accepted them."""
        settings = self.settings.model_copy(
            update={"username": user, "password": SecretStr(password)}
        )
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            client = AIOKafkaAdminClient(**client_kwargs(settings))
            try:
                await client.start()
                return
            except KafkaError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise _wrap(f"logging in as {settings.username}", exc) from exc
                await asyncio.sleep(0.5)
            finally:
                await client.close()

    async def create_acls(self, acls: Sequence[Acl]) -> None:
        """Create the bindings (Kafka keeps one copy of a binding created twice)."""
        creations = [
            (_RESOURCE[a.resource], a.name, _PREFIXED if a.prefixed else _LITERAL, a.principal, "*",
             _OPERATION[a.operation], _ALLOW)
            for a in acls
        ]  # fmt: skip
        for start in range(0, len(creations), ACL_BATCH):
            response = await self._send(_CreateAcls(creations[start : start + ACL_BATCH]))
            for code, message in response.creation_responses:
                _check("creating ACLs", code, message)

    async def count_acls(self) -> int:
        response = await self._send(_DescribeAcls())
        _check("describing ACLs", response.error_code, response.error_message)
        return sum(len(resource[-1]) for resource in response.resources)

    async def cluster_metadata(self) -> dict[str, int]:
        """Brokers, topics and partitions the cluster's metadata holds."""
        try:
            topics = await self._client.list_topics()
            described = await self._client.describe_topics(topics)
            cluster = await self._client.describe_cluster()
        except KafkaError as exc:
            raise _wrap("reading metadata", exc) from exc
        return {
            "brokers": len(cluster["brokers"]),
            "topics": len(topics),
            "partitions": sum(len(t["partitions"]) for t in described),
        }
