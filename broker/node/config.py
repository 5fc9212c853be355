"""Node configuration: a TOML file plus environment overrides, typed, secrets as `SecretStr`.

Environment variables `CUSTOMS_NODE_<FIELD>` override the file, nested with `__`
(`CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS=...`). Relative paths are relative to the config file.
An invalid configuration is one `ConfigError` listing every problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from broker.codec.subjects import SubjectNameStrategy
from broker.directory.model import NodeId, Partner, TopicSettings, TransitRoute
from broker.errors import ConfigError, Problem
from broker.transport.settings import KafkaSettings

__all__ = [
    "DirectorySettings",
    "IdentitySettings",
    "NodeConfig",
    "Partner",
    "TopicSettings",
    "TransitRoute",
    "load_node_config",
]

# What the corridor directory decides: a node file that sets these is refused.
FROM_DIRECTORY = ("partners", "transit_routes", "topics")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentitySettings(_Section):
    """Where the node's keys and the corridor trust list are (made by `customs-broker pki`)."""

    node_dir: Path
    trust_list: Path
    passphrase_env: str = "CUSTOMS_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
    passphrase_file: Path | None = None


class SchemaRegistrySettings(_Section):
    """A Confluent-API schema registry: records are then Confluent-framed (`00` + schema id)."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
    subject_strategy: SubjectNameStrategy = SubjectNameStrategy.TOPIC
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class DirectorySettings(_Section):
    """Which corridor the node joins and whom it believes about it.

    Partners, data-sharing terms, transit routes and the topic layout come from the corridor
    directory, never from this file: `file` is a local copy (development, tests, first start),
    `secretariat` the identity whose signed entries on `<namespace>.corridor` the node follows
    live (a node refuses unsigned, foreign-signed or stale entries).
    """

    namespace: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,100}$")] = "customs.v1"
    file: Path | None = None
    secretariat: NodeId | None = None

    @model_validator(mode="after")
    def _has_a_source(self) -> Self:
        if self.file is None and self.secretariat is None:
            raise ValueError("the directory needs a file, a secretariat to follow, or both")
        return self


class NodeConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CUSTOMS_NODE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    node_id: NodeId
    format: str = ""  # the national format; "" = the directory's word for this member
    kafka: KafkaSettings = KafkaSettings()
    identity: IdentitySettings
    directory: DirectorySettings | None = None
    schema_registry: SchemaRegistrySettings | None = None  # None: Avro single-object framing
    # Filled from the corridor directory (by `load_node_config`, the live follower, or a test).
    topics: TopicSettings = TopicSettings()
    partners: tuple[Partner, ...] = ()
    transit_routes: tuple[TransitRoute, ...] = ()
    state_dir: Path
    gateway_dir: Path | None = None
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    receipt_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    max_clock_skew_s: Annotated[float, Field(gt=0)] = 300.0
    replay_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @property
    def country(self) -> str:
        return self.node_id[:2]

    @model_validator(mode="after")
    def _partners_make_sense(self) -> Self:
        ids = [p.node_id for p in self.partners]
        problems = [f"partner {i} is listed twice" for i in sorted(set(ids)) if ids.count(i) > 1]
        if self.node_id in ids:
            problems.append(f"{self.node_id} cannot be its own partner")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: an operator's override beats the file passed as init values.
        return env_settings, init_settings


def _absolute(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Resolve the file's relative paths against the directory of the file."""

    def fix(value: Any) -> Any:
        return (
            str(base / value) if isinstance(value, str) and not Path(value).is_absolute() else value
        )

    out = dict(data)
    for key in ("state_dir", "gateway_dir"):
        if key in out:
            out[key] = fix(out[key])
    if isinstance(out.get("directory"), dict) and "file" in out["directory"]:
        out["directory"] = {**out["directory"], "file": fix(out["directory"]["file"])}
    if isinstance(out.get("identity"), dict):
        identity = dict(out["identity"])
        for key in ("node_dir", "trust_list", "passphrase_file"):
            if key in identity:
                identity[key] = fix(identity[key])
        out["identity"] = identity
    return out


def _refused_keys(raw: dict[str, Any], path: Path) -> list[Problem]:
    return [
        Problem(
            "decided by the corridor directory, not by a node's file: remove it",
            source=str(path),
            field=key,
        )
        for key in FROM_DIRECTORY
        if key in raw
    ]


def load_node_config(path: Path, known_formats: frozenset[str] | None = None) -> NodeConfig:
    """Read, override from the environment, validate, join the directory file if one is named;
    `ConfigError` lists every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read node configuration {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    refused = _refused_keys(raw, path)
    try:
        config = NodeConfig(**_absolute(raw, path.parent))
    except ValidationError as exc:
        problems = [
            Problem(reason=e["msg"], source=str(path), field=".".join(str(p) for p in e["loc"]))
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(f"invalid node configuration {path}", refused + problems) from exc
    if refused:
        raise ConfigError(f"invalid node configuration {path}", refused)
    if config.directory is None:
        raise ConfigError(
            f"invalid node configuration {path}",
            [
                Problem(
                    "a node needs [directory] (file and/or secretariat)",
                    str(path),
                    field="directory",
                )
            ],
        )
    if config.directory.file is not None:
        from broker.directory.load import load_corridor  # the directory imports this module

        config = joined(config, load_corridor(config.directory.file), source=str(path))
    if known_formats is not None and config.format not in known_formats:
        raise ConfigError(
            f"invalid node configuration {path}",
            [
                Problem(
                    f"unknown format; known: {', '.join(sorted(known_formats))}",
                    source=str(path),
                    field="format",
                    value=config.format,
                )
            ],
        )
    return config


class _CorridorView(Protocol):
    """What `joined` needs of `broker.directory.model.Corridor`."""

    @property
    def topics(self) -> TopicSettings: ...
    def member(self, node_id: str) -> Any: ...
    def partners_of(self, node_id: str) -> tuple[Partner, ...]: ...
    def transit_routes_of(self, node_id: str) -> tuple[TransitRoute, ...]: ...


def joined(config: NodeConfig, corridor: _CorridorView, *, source: str = "") -> NodeConfig:
    """`config` with the partners, terms, routes and topics the directory gives its node."""
    member = corridor.member(config.node_id)
    problems = []
    if member is None:
        problems.append(Problem("not a member of the corridor directory", source, field="node_id"))
    elif config.format and config.format != member.format:
        problems.append(
            Problem(
                f"the directory says {config.node_id} speaks {member.format}",
                source,
                field="format",
                value=config.format,
            )
        )
    namespace = config.directory.namespace if config.directory else corridor.topics.namespace
    if corridor.topics.namespace != namespace:
        problems.append(
            Problem(
                f"the directory's namespace is {corridor.topics.namespace}",
                source,
                field="directory.namespace",
                value=namespace,
            )
        )
    if problems or member is None:
        raise ConfigError(f"{config.node_id} cannot join the corridor", problems)
    return config.model_copy(
        update={
            "format": member.format,
            "topics": corridor.topics,
            "partners": corridor.partners_of(config.node_id),
            "transit_routes": corridor.transit_routes_of(config.node_id),
        }
    )
