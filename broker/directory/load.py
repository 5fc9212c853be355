"""The directory as a TOML file (read, and written back by `corridor generate`).

    name = "..."          serial = 7          secretariat = "CN-ILSTC"
    [topics]              namespace, partitions, replication_factor, min_insync_replicas
    [[members]]           node_id, name, district, format, ca?, time_zone?, partitions?
    [[agreements]]        name, members, allow_fields?, seal?, [agreements.receives.<NODE>],
                          [[agreements.transit]] mode, via

An invalid file is one `ConfigError` listing every problem with its field path.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from broker.directory.model import Agreement, Corridor, Member, Terms, TopicSettings
from broker.errors import ConfigError, Problem


def corridor_from_dict(data: dict[str, Any], source: str) -> Corridor:
    try:
        return Corridor.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(reason=e["msg"], source=source, field=".".join(str(p) for p in e["loc"]))
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(f"invalid corridor directory {source}", problems[:50]) from exc


def load_corridor(path: Path) -> Corridor:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read corridor directory {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return corridor_from_dict(raw, str(path))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _pairs(data: dict[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in data.items() if value is not None]


def _member(member: Member) -> str:
    return "\n".join(["[[members]]", *_pairs(member.model_dump(exclude_defaults=True))])


def _terms(node_id: str, terms: Terms) -> str:
    return "\n".join(
        [f'[agreements.receives."{node_id}"]', *_pairs(terms.model_dump(exclude_defaults=True))]
    )


def _agreement(agreement: Agreement) -> str:
    head = agreement.model_dump(exclude_defaults=True, exclude={"receives", "transit"})
    head["members"] = list(agreement.members)
    blocks = ["\n".join(["[[agreements]]", *_pairs(head)])]
    blocks += [_terms(node_id, terms) for node_id, terms in sorted(agreement.receives.items())]
    for leg in agreement.transit:
        blocks.append(
            "\n".join(["[[agreements.transit]]", *_pairs({"mode": leg.mode.value, "via": leg.via})])
        )
    return "\n".join(blocks)


def corridor_toml(corridor: Corridor, header: str = "") -> str:
    """The TOML text of `corridor`; `load_corridor` reads back an equal corridor."""
    top = _pairs(
        {"name": corridor.name, "serial": corridor.serial, "secretariat": corridor.secretariat}
    )
    parts = [header.rstrip("\n")] if header else []
    parts += ["\n".join(top), "\n".join(["[topics]", *_pairs(corridor.topics.model_dump())])]
    parts += [_member(m) for m in corridor.members]
    parts += [_agreement(a) for a in corridor.agreements]
    return "\n\n".join(parts) + "\n"


def small_corridor(
    formats: Mapping[str, str],
    namespace: str = "customs.v1",
    partitions: int = 3,
    envelopes: Mapping[str, int] | None = None,
) -> Corridor:
    """Members `node id -> format`, all partners of each other (tests, benchmarks); each verifies
    envelope 3 (this project's nodes) unless `envelopes` says otherwise."""
    envelopes = envelopes or {}
    members = [
        Member(
            node_id=node_id,
            name=node_id,
            district=node_id,
            format=fmt,
            envelope=envelopes.get(node_id, 3),
        )
        for node_id, fmt in formats.items()
    ]
    agreements = [Agreement(name="all", members=tuple(formats))] if len(formats) >= 2 else []
    return Corridor(
        name=f"corridor {namespace}",
        serial=1,
        secretariat="CN-ILSTC",
        topics=TopicSettings(namespace=namespace, partitions=partitions),
        members=tuple(members),
        agreements=tuple(agreements),
    )


def write_small_corridor(
    path: Path,
    formats: Mapping[str, str],
    namespace: str,
    partitions: int = 3,
    envelopes: Mapping[str, int] | None = None,
) -> Path:
    """Write `small_corridor(...)` to `path`; returns `path`."""
    corridor = small_corridor(formats, namespace, partitions, envelopes)
    path.write_text(corridor_toml(corridor), encoding="utf-8")
    return path
