"""A corridor of N members for scale tests: the demo's members, then other customs authorities.

The platform the secretariat runs connects 145 customs authorities: past the demo's members, each
added member is the customs of one more country (ISO 3166 from pycountry, in code order, node id
`<CC>-CUS`, canonical JSON), then synthetic districts of the corridor's countries if N exceeds
the world's countries. One multilateral framework agreement covers every pair (so each node has
N-1 partners), and the demo's bilateral agreements keep their terms.
"""

from __future__ import annotations

import pycountry

from broker.directory.model import Agreement, Corridor, Member

FORMAT_OF_COUNTRY = {"CN": "cn-swxml", "VN": "cusdec", "KZ": "canonical-json"}
ZONES = {
    "CN": "Asia/Shanghai", "VN": "Asia/Ho_Chi_Minh", "LA": "Asia/Vientiane",
    "TH": "Asia/Bangkok", "KH": "Asia/Phnom_Penh", "MM": "Asia/Yangon",
    "MY": "Asia/Kuala_Lumpur", "SG": "Asia/Singapore", "BN": "Asia/Brunei", "KZ": "Asia/Almaty",
}  # fmt: skip


def scaled_corridor(base: Corridor, members: int, *, name: str | None = None) -> Corridor:
    if members < len(base.members):
        raise ValueError(f"at least {len(base.members)} members (the base corridor's)")
    taken = set(base.countries())
    added: list[Member] = []
    for other in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        if len(base.members) + len(added) >= members:
            break
        if other.alpha_2 in taken:
            continue
        added.append(
            Member(
                node_id=f"{other.alpha_2}-CUS",
                name=f"Customs administration of {other.name}",
                district=other.name,
                format="canonical-json",
            )
        )
    countries = list(ZONES)
    number = len(base.members)
    while len(base.members) + len(added) < members:
        number += 1
        country = countries[number % len(countries)]
        added.append(
            Member(
                node_id=f"{country}-D{number:03d}",
                name=f"Synthetic district {number} ({country})",
                district=f"District {number}",
                format=FORMAT_OF_COUNTRY.get(country, "acdd-xml"),
                time_zone=ZONES[country],
            )
        )
    every = (*base.members, *added)
    framework = Agreement(name="framework", members=tuple(m.node_id for m in every))
    bilateral = tuple(a for a in base.agreements if len(a.members) == 2)
    # Validated anew (never `model_copy`: the copy would share the base's cached views).
    return Corridor(
        name=name or f"{base.name}, {members} members",
        serial=base.serial,
        secretariat=base.secretariat,
        topics=base.topics,
        members=every,
        agreements=(framework, *bilateral),
    )
