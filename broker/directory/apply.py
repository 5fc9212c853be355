"""`corridor apply` and `corridor check`: the cluster brought to (or compared with) the directory.

Topics: missing ones are created, inboxes the directory grew get their partitions, configs are
set; what Kafka cannot change in place (fewer partitions, another replication factor) is reported
as drift, and so is everything when only checking. Identities: one SCRAM user per member (and the
two publishers) and exactly the ACLs of `access`, created idempotently.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from broker.directory.access import corridor_acls
from broker.directory.layout import FIXABLE, Drift, DriftKind, drift
from broker.directory.model import Corridor
from broker.errors import ConfigError
from broker.node.topics import CorridorTopics
from broker.transport.corridor_admin import CorridorAdmin


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    grown: dict[str, int] = field(default_factory=dict)
    configured: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)  # what is still different afterwards
    users: int = 0
    acls: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.drift

    def lines(self) -> list[str]:
        out = [f"created {len(self.created)} topic(s)"]
        out += [f"grew {name} to {count} partitions" for name, count in sorted(self.grown.items())]
        out += [f"set configs of {name}" for name in self.configured]
        out += [f"DRIFT {d}" for d in self.drift]
        if self.users:
            out.append(f"{self.users} SCRAM user(s), {self.acls} ACL binding(s)")
        out.append(f"{'in line with' if self.clean else 'DIFFERS from'} the directory "
                   f"({self.seconds:.1f} s)")  # fmt: skip
        return out


def passwords_in(folder: Path, users: list[str]) -> dict[str, str]:
    """Each user's password from `<folder>/<user>.password`, made (owner-only) when missing."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    found = {}
    for user in users:
        path = folder / f"{user}.password"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24), encoding="ascii")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: group or others can read it; run `chmod 600 {path}`")
        found[user] = path.read_text(encoding="ascii").strip()
    return found


async def apply_corridor(
    admin: CorridorAdmin,
    corridor: Corridor,
    *,
    fix: bool = True,
    passwords: Mapping[str, str] | None = None,
) -> ApplyReport:
    began = time.monotonic()
    report = ApplyReport()
    specs = CorridorTopics(corridor.topics.namespace).layout(corridor)
    observed = await admin.observe(s.name for s in specs)
    found = drift(specs, observed)
    if fix:
        by_name = {s.name: s for s in specs}
        missing = [by_name[d.topic] for d in found if d.kind is DriftKind.MISSING]
        await admin.create_topics(missing)
        report.created = [s.name for s in missing]
        report.grown = {
            d.topic: by_name[d.topic].partitions
            for d in found
            if d.kind is DriftKind.PARTITIONS_GROW
        }
        await admin.grow_partitions(report.grown)
        configs = sorted({d.topic for d in found if d.kind is DriftKind.CONFIG})
        await admin.set_configs({name: by_name[name].configs for name in configs})
        report.configured = configs
        found = [d for d in found if d.kind not in FIXABLE]
        if passwords is not None:
            bindings = corridor_acls(corridor)
            missing_users = sorted(set(bindings) - set(passwords))
            if missing_users:
                raise ConfigError(f"no password for {', '.join(missing_users[:5])}")
            await admin.upsert_scram_users({u: passwords[u] for u in bindings})
            if admin.settings.security_protocol.startswith("SASL"):
                last = sorted(bindings)[-1]
                await admin.wait_for_login(last, passwords[last])
            every = [acl for acls in bindings.values() for acl in acls]
            await admin.create_acls(every)
            report.users, report.acls = len(bindings), len(every)
    report.drift = found
    report.seconds = time.monotonic() - began
    return report
