"""A synthetic corridor of N members for scale tests: the demo's members, then more districts.

Country codes cycle over the corridor's countries (China first, as it has most districts); the
extra members are synthetic districts (`CN-D016`, ...) in the country's national format. One
multilateral framework agreement covers every pair (so each node has N-1 partners), and the
demo's bilateral agreements keep their terms.
"""

from __future__ import annotations

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
    countries = list(ZONES)
    added: list[Member] = []
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
