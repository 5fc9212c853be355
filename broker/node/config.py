"""Node configuration: a TOML file plus environment overrides, typed, secrets as `SecretStr`.

Environment variables `CUSTOMS_NODE_<FIELD>` override the file, nested with `__`
(`CUSTOMS_NODE_KAFKA__BOOTSTRAP_SERVERS=...`). Relative paths are relative to the config file.
An invalid configuration is one `ConfigError` listing every problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from broker.errors import ConfigError, Problem
from broker.model import TransportMode
from broker.policy import unknown_fields
from broker.transport.settings import KafkaSettings

NodeId = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{2,8}$")]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentitySettings(_Section):
    """Where the node's keys and the corridor trust list are (made by `customs-broker pki`)."""

    node_dir: Path
    trust_list: Path
    passphrase_env: str = "CUSTOMS_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
    passphrase_file: Path | None = None


class TopicSettings(_Section):
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,100}$")] = "customs.v1"
    partitions: Annotated[int, Field(ge=1, le=1000)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=7)] = 1
    min_insync_replicas: Annotated[int, Field(ge=1, le=7)] = 1

    @model_validator(mode="after")
    def _isr_fits(self) -> Self:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas cannot exceed replication_factor")
        return self


class Partner(_Section):
    """Another node this one exchanges with, under a data-sharing agreement."""

    node_id: NodeId
    # Canonical field paths this partner may receive (None: the whole declaration).
    allow_fields: tuple[str, ...] | None = None
    seal: bool = False  # encrypt values to this partner (the corridor operator cannot read them)

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        unknown = unknown_fields(self.allow_fields or ())
        if unknown:
            raise ValueError(f"allow_fields names no canonical field: {', '.join(unknown)}")
        return self

    @property
    def country(self) -> str:
        return self.node_id[:2]


class TransitRoute(_Section):
    """A corridor route the national format cannot describe, known to the node instead.

    China's single-window XML names the destination but not the countries crossed: a node that
    knows its rail service to Thailand runs through Laos fills in the itinerary, so the Lao
    node receives the declaration too.
    """

    mode: TransportMode
    destination: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    via: tuple[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], ...]


class NodeConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CUSTOMS_NODE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    node_id: NodeId
    format: str
    kafka: KafkaSettings = KafkaSettings()
    identity: IdentitySettings
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
    if isinstance(out.get("identity"), dict):
        identity = dict(out["identity"])
        for key in ("node_dir", "trust_list", "passphrase_file"):
            if key in identity:
                identity[key] = fix(identity[key])
        out["identity"] = identity
    return out


def load_node_config(path: Path, known_formats: frozenset[str] | None = None) -> NodeConfig:
    """Read, override from the environment, validate; `ConfigError` lists every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read node configuration {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = NodeConfig(**_absolute(raw, path.parent))
    except ValidationError as exc:
        problems = [
            Problem(reason=e["msg"], source=str(path), field=".".join(str(p) for p in e["loc"]))
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(f"invalid node configuration {path}", problems) from exc
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
