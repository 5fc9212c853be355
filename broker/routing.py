"""Who must receive a declaration: every partner in a country the goods leave, cross or enter.

The China-Laos-Thailand railway transit (itinerary CN, LA, TH) sent by CN-CQ goes to the Lao and
the Thai nodes; the sender's own country never receives its own declaration back. Where the
national document had no itinerary, the node's configured transit routes supply it
(`with_known_itinerary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from broker.model import Declaration
from broker.node.config import Partner, TransitRoute


@dataclass(frozen=True)
class Route:
    recipients: tuple[Partner, ...]
    # Countries the declaration concerns but no partner node serves (reported, never hidden).
    unserved_countries: tuple[str, ...]


def countries_concerned(declaration: Declaration) -> tuple[str, ...]:
    """Itinerary first (in order), then importer, entry and exit countries; no repeats."""
    found: list[str] = list(declaration.itinerary)
    for country in (
        declaration.importer.country if declaration.importer else None,
        declaration.entry_place[:2] if declaration.entry_place else None,
        declaration.exit_place[:2] if declaration.exit_place else None,
    ):
        if country:
            found.append(country)
    return tuple(dict.fromkeys(found))


def route(declaration: Declaration, own_country: str, partners: Sequence[Partner]) -> Route:
    concerned = [c for c in countries_concerned(declaration) if c != own_country]
    recipients = tuple(p for p in partners if p.country in concerned)
    served = {p.country for p in recipients}
    return Route(recipients, tuple(c for c in concerned if c not in served))


def destination_country(declaration: Declaration) -> str | None:
    if declaration.importer is not None and declaration.importer.country:
        return declaration.importer.country
    if declaration.entry_place:
        return declaration.entry_place[:2]
    return declaration.itinerary[-1] if declaration.itinerary else None


def with_known_itinerary(
    declaration: Declaration, own_country: str, routes: Sequence[TransitRoute]
) -> Declaration:
    """The declaration with its itinerary filled from a matching route, when it has none."""
    if declaration.itinerary:
        return declaration
    destination = destination_country(declaration)
    for known in routes:
        if known.mode is declaration.transport.mode and known.destination == destination:
            itinerary = (own_country, *known.via, known.destination)
            return declaration.model_copy(update={"itinerary": itinerary})
    return declaration
