"""The corridor's definition: who is in it, what each pair agreed to share, how topics are laid out.

Pure and typed. One `Corridor` answers every question a node or an operator asks of it:
a node's partners with their data-sharing terms (`partners_of`), the transit routes its national
format cannot state (`transit_routes_of`), the partitions of each inbox (`inbox_partitions`).

Agreements name two or more members. A multilateral agreement (a framework every signatory
shares) gives each pair among its members the same terms; a bilateral agreement between two of
them overrides it for that pair. Terms are per receiving side: what member B may receive from A
is `receives[B]`, else the agreement's default.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broker.model import TransportMode
from broker.policy import unknown_fields

NodeId = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{2,8}$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TopicSettings(_Frozen):
    """The corridor's topic layout: one namespace, the default inbox size and durability."""

    namespace: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,100}$")] = "customs.v1"
    partitions: Annotated[int, Field(ge=1, le=1000)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=7)] = 1
    min_insync_replicas: Annotated[int, Field(ge=1, le=7)] = 1

    @model_validator(mode="after")
    def _isr_fits(self) -> Self:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas cannot exceed replication_factor")
        return self


class Terms(_Frozen):
    """What one side of an agreement may receive."""

    # Canonical field paths the receiver may get (None: the whole declaration).
    allow_fields: tuple[str, ...] | None = None
    seal: bool = False  # encrypt values to it (the corridor operator cannot read them)

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        unknown = unknown_fields(self.allow_fields or ())
        if unknown:
            raise ValueError(f"allow_fields names no canonical field: {', '.join(unknown)}")
        return self


# Envelope versions a member's receivers can verify: 2 (one signature per record) or 3 (batch
# signatures, docs/signing.md 3.3). Every node verifies all; a sender writes v3 only to a member
# that says 3.
EnvelopeVersion = Annotated[int, Field(ge=2, le=3)]


class Partner(Terms):
    """Another node this one exchanges with, and what it may receive from this one."""

    node_id: NodeId
    envelope: EnvelopeVersion = 2  # the highest envelope version its receivers verify

    @property
    def country(self) -> str:
        return self.node_id[:2]


class TransitRoute(_Frozen):
    """A corridor route the national format cannot describe, known to the node instead.

    China's single-window XML names the destination but not the countries crossed: a node that
    knows its rail service to Thailand runs through Laos fills in the itinerary, so the Lao
    node receives the declaration too.
    """

    mode: TransportMode
    destination: Country
    via: tuple[Country, ...]


class Member(_Frozen):
    """One customs administration (or a district of one) with a node in the corridor."""

    node_id: NodeId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    district: Annotated[str, Field(min_length=1, max_length=100)]
    format: Annotated[str, Field(min_length=1, max_length=40)]
    ca: Country | None = None  # the national CA that issues its certificates (default: country)
    time_zone: str | None = None  # IANA zone its national system states local times in
    partitions: Annotated[int, Field(ge=1, le=1000)] | None = None  # inbox size override
    envelope: EnvelopeVersion = 2  # the highest envelope version its receivers verify

    @property
    def country(self) -> str:
        return self.node_id[:2]

    @property
    def ca_country(self) -> str:
        return self.ca or self.country

    @field_validator("time_zone")
    @classmethod
    def _zone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class TransitLeg(_Frozen):
    """A route of a bilateral agreement: from the first member's country via `via` to the
    second's (the way back runs through the same countries in reverse)."""

    mode: TransportMode
    via: tuple[Country, ...]


class Agreement(_Frozen):
    name: Name
    members: Annotated[tuple[NodeId, ...], Field(min_length=2)]
    allow_fields: tuple[str, ...] | None = None  # default terms for every receiving member
    seal: bool = False
    receives: dict[NodeId, Terms] = Field(default_factory=dict)
    transit: tuple[TransitLeg, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        if len(set(self.members)) != len(self.members):
            problems.append("a member is listed twice")
        strangers = sorted(set(self.receives) - set(self.members))
        if strangers:
            problems.append(f"receives names non-members: {', '.join(strangers)}")
        if self.transit and len(self.members) != 2:
            problems.append("transit routes belong to bilateral agreements only")
        unknown = unknown_fields(self.allow_fields or ())
        if unknown:
            problems.append(f"allow_fields names no canonical field: {', '.join(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def terms_for(self, receiver: str) -> Terms:
        return self.receives.get(receiver) or Terms(allow_fields=self.allow_fields, seal=self.seal)

    def pairs(self) -> Iterator[tuple[str, str]]:
        """Every unordered pair of members, each as (lower id, higher id)."""
        ordered = sorted(self.members)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1 :]:
                yield first, second


class Corridor(_Frozen):
    """The whole directory. `serial` grows with every published change (nodes refuse older)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    serial: Annotated[int, Field(ge=1)]
    secretariat: NodeId  # the identity whose key signs the published directory entries
    topics: TopicSettings = TopicSettings()
    members: tuple[Member, ...]
    agreements: tuple[Agreement, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        ids = [m.node_id for m in self.members]
        problems += [f"member {i} is listed twice" for i in sorted(set(ids)) if ids.count(i) > 1]
        names = [a.name for a in self.agreements]
        problems += [
            f"agreement {n} is listed twice" for n in sorted(set(names)) if names.count(n) > 1
        ]
        known = set(ids)
        for agreement in self.agreements:
            strangers = sorted(set(agreement.members) - known)
            if strangers:
                problems.append(
                    f"agreement {agreement.name} names non-members: {', '.join(strangers)}"
                )
        if not problems:
            problems += self._ambiguous_pairs()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _ambiguous_pairs(self) -> list[str]:
        """Two agreements of the same size covering one pair: neither can win."""
        seen: dict[tuple[str, str], Agreement] = {}
        problems = []
        for agreement in self.agreements:
            for pair in agreement.pairs():
                other = seen.get(pair)
                if other is not None and len(other.members) == len(agreement.members):
                    problems.append(
                        f"{pair[0]} and {pair[1]} are covered by both {other.name} and "
                        f"{agreement.name}: make one of them bilateral"
                    )
                elif other is None or len(agreement.members) < len(other.members):
                    seen[pair] = agreement
        return problems[:10]

    # ------------------------------------------------------------------ what it means
    @cached_property
    def _by_id(self) -> dict[str, Member]:
        return {m.node_id: m for m in self.members}

    @cached_property
    def _governing(self) -> dict[tuple[str, str], Agreement]:
        """The agreement that governs each pair: the one with the fewest members."""
        governing: dict[tuple[str, str], Agreement] = {}
        for agreement in sorted(self.agreements, key=lambda a: -len(a.members)):
            for pair in agreement.pairs():
                governing[pair] = agreement
        return governing

    @cached_property
    def _partners(self) -> dict[str, list[tuple[str, Agreement]]]:
        partners: dict[str, list[tuple[str, Agreement]]] = {m.node_id: [] for m in self.members}
        for (first, second), agreement in sorted(self._governing.items()):
            partners[first].append((second, agreement))
            partners[second].append((first, agreement))
        return partners

    def member(self, node_id: str) -> Member | None:
        return self._by_id.get(node_id)

    def partners_of(self, node_id: str) -> tuple[Partner, ...]:
        """Who `node_id` exchanges with, each with what that partner may receive from it."""
        return tuple(
            Partner(
                node_id=other,
                allow_fields=terms.allow_fields,
                seal=terms.seal,
                envelope=self._by_id[other].envelope,
            )
            for other, agreement in sorted(self._partners.get(node_id, ()))
            for terms in (agreement.terms_for(other),)
        )

    def transit_routes_of(self, node_id: str) -> tuple[TransitRoute, ...]:
        routes = []
        for other, agreement in sorted(self._partners.get(node_id, ())):
            if other[:2] == node_id[:2]:
                continue  # two districts of one country: no border between them
            forward = agreement.members[0] == node_id
            for leg in agreement.transit:
                via = leg.via if forward else tuple(reversed(leg.via))
                routes.append(TransitRoute(mode=leg.mode, destination=other[:2], via=via))
        return tuple(dict.fromkeys(routes))

    def inbox_partitions(self, node_id: str) -> int:
        member = self._by_id.get(node_id)
        if member is not None and member.partitions is not None:
            return member.partitions
        return self.topics.partitions

    def countries(self) -> list[str]:
        return sorted({m.country for m in self.members})
