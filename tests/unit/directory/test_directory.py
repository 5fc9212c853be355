"""The corridor directory: its meaning for a node, its signed entries, ACLs and drift."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from broker.clock import FakeClock
from broker.directory.access import corridor_acls, node_acls, user_name
from broker.directory.entries import DirectoryReason, DirectoryState, sign_entries
from broker.directory.generate import scaled_corridor
from broker.directory.layout import DriftKind, ObservedTopic, drift
from broker.directory.load import corridor_from_dict, corridor_toml, load_corridor
from broker.directory.model import Corridor
from broker.errors import ConfigError, SignatureError
from broker.node.topics import CorridorTopics
from broker.signing.envelope import parse_envelope
from broker.signing.keystore import KeyStore
from broker.signing.pki import NodeIdentity, create_ca, issue_node
from broker.signing.trust import TrustList

ROOT = Path(__file__).resolve().parents[3]
DEMO = load_corridor(ROOT / "deploy" / "corridor.toml")
CLOCK = FakeClock()


def test_the_demo_directory_lists_the_whole_meeting() -> None:
    districts = {m.district for m in DEMO.members if m.country == "CN"}
    assert districts == {"Chongqing", "Zhanjiang", "Nanning", "Kunming", "Xi'an", "Urumqi"}
    assert set(DEMO.countries()) == {"BN", "CN", "KH", "KZ", "LA", "MM", "MY", "SG", "TH", "VN"}
    assert DEMO.member("MM-RGN") is not None
    assert DEMO.member("MM-RGN").time_zone == "Asia/Yangon"  # type: ignore[union-attr]


def test_partners_terms_and_routes_follow_the_governing_agreement() -> None:
    chongqing = {p.node_id: p for p in DEMO.partners_of("CN-CQ")}
    assert set(chongqing) == {"LA-VTE", "TH-BKK", "VN-HAN"}
    assert chongqing["TH-BKK"].seal
    assert not chongqing["LA-VTE"].seal
    assert chongqing["VN-HAN"].allow_fields is not None
    # What Chongqing may receive from Hanoi is not limited: terms are per receiving side.
    hanoi = {p.node_id: p for p in DEMO.partners_of("VN-HAN")}
    assert hanoi["CN-CQ"].allow_fields is None
    [route] = DEMO.transit_routes_of("CN-CQ")
    assert (route.destination, route.via) == ("TH", ("LA",))
    [back] = DEMO.transit_routes_of("TH-BKK")
    assert (back.destination, back.via) == ("CN", ("LA",))


def test_each_member_says_which_envelope_its_receivers_verify() -> None:
    # This project's nodes verify batch signatures (envelope 3); a partner's entry carries it.
    assert {m.envelope for m in DEMO.members} == {3}
    assert {p.envelope for p in DEMO.partners_of("CN-CQ")} == {3}
    data = tomllib.loads(corridor_toml(DEMO))
    del data["members"][0]["envelope"]  # CN-CQ, as a member written before the attribute
    older = corridor_from_dict(data, "x")
    assert older.member("CN-CQ").envelope == 2  # type: ignore[union-attr]
    assert {p.node_id: p.envelope for p in older.partners_of("LA-VTE")}["CN-CQ"] == 2
    for wrong in (1, 4):
        data["members"][0]["envelope"] = wrong
        with pytest.raises(ConfigError, match="envelope"):
            corridor_from_dict(data, "x")


def test_the_toml_writer_reads_back_an_equal_directory() -> None:
    assert corridor_from_dict(tomllib.loads(corridor_toml(DEMO)), "x") == DEMO


def test_an_invalid_directory_lists_every_problem() -> None:
    data = tomllib.loads(corridor_toml(DEMO))
    data["members"][0]["time_zone"] = "Asia/Atlantis"
    data["agreements"].append({"name": "bad", "members": ["CN-CQ", "XX-NOPE"]})
    data["agreements"][1]["allow_fields"] = ["exporter.nmae"]
    with pytest.raises(ConfigError) as caught:
        corridor_from_dict(data, "corridor.toml")
    text = str(caught.value)
    assert "Asia/Atlantis" in text
    assert "exporter.nmae" in text


def test_two_agreements_of_one_size_on_one_pair_are_ambiguous() -> None:
    data = tomllib.loads(corridor_toml(DEMO))
    data["agreements"].append({"name": "again", "members": ["CN-CQ", "LA-VTE"]})
    with pytest.raises(ConfigError, match="covered by both cq-vte-rail and again"):
        corridor_from_dict(data, "corridor.toml")


def test_a_scaled_corridor_gives_every_node_all_others_as_partners() -> None:
    big = scaled_corridor(DEMO, 145)
    assert len(big.members) == 145
    assert len(big.partners_of("CN-CQ")) == 144
    # The bilateral terms still win over the framework.
    assert {p.node_id: p for p in big.partners_of("CN-CQ")}["TH-BKK"].seal


def test_acls_let_a_node_read_only_its_own_topics_and_write_only_to_partners() -> None:
    topics = CorridorTopics(DEMO.topics.namespace)
    acls = node_acls(DEMO, "KZ-ALA")
    reads = {a.name for a in acls if a.operation.value == "Read"}
    writes = {a.name for a in acls if a.operation.value == "Write"}
    assert reads == {
        topics.inbox("KZ-ALA"), topics.dead_letters("KZ-ALA"), topics.keys, topics.directory,
        topics.group("KZ-ALA"), topics.replay_group("KZ-ALA"),
    }  # fmt: skip
    assert writes == {topics.inbox("CN-URC"), topics.inbox("CN-XA"), topics.dead_letters("KZ-ALA")}
    assert user_name("KZ-ALA") in corridor_acls(DEMO)
    assert not any(a.prefixed for a in acls)


def test_drift_reports_every_difference_and_says_what_can_be_fixed() -> None:
    specs = CorridorTopics("ns").specs(["CN-CQ"], DEMO.topics)
    observed = {
        s.name: ObservedTopic(s.name, s.partitions, s.replication_factor, dict(s.configs))
        for s in specs
    }
    assert drift(specs, observed) == []
    inbox = CorridorTopics("ns").inbox("CN-CQ")
    observed[inbox] = ObservedTopic(inbox, 2, 3, {"min.insync.replicas": "2"})
    del observed[CorridorTopics("ns").keys]
    kinds = {(d.topic, d.kind) for d in drift(specs, observed)}
    assert kinds == {
        (inbox, DriftKind.PARTITIONS_GROW),
        (inbox, DriftKind.REPLICATION),
        (inbox, DriftKind.CONFIG),
        (CorridorTopics("ns").keys, DriftKind.MISSING),
    }
    wanted = next(s for s in specs if s.name == inbox)
    observed[inbox] = ObservedTopic(inbox, 6, 1, dict(wanted.configs))
    [shrink] = drift(specs, observed)[1:]
    assert shrink.kind is DriftKind.PARTITIONS_SHRINK


# ---------------------------------------------------------------- signed entries
@pytest.fixture(scope="module")
def pki() -> tuple[KeyStore, NodeIdentity, NodeIdentity]:
    ca = create_ca("CN", clock=CLOCK)
    secretariat = issue_node(ca, "CN-ILSTC", clock=CLOCK)
    other = issue_node(ca, "CN-CQ", clock=CLOCK)
    keys = KeyStore(TrustList([ca.certificate]))
    keys.add(secretariat.certificate)
    keys.add(other.certificate)
    return keys, secretariat, other


def _apply_all(state: DirectoryState, corridor: Corridor, signer: NodeIdentity) -> Corridor | None:
    result = None
    for entry in sign_entries(corridor, signer, at=CLOCK.now()):
        applied = state.apply(entry.headers, entry.value, entry.key)
        result = applied.corridor or result
    return result


def test_a_node_adopts_a_complete_signed_directory(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    keys, secretariat, _ = pki
    state = DirectoryState(keys, "CN-ILSTC")
    assert _apply_all(state, DEMO, secretariat) == DEMO
    assert state.current == DEMO
    assert state.current.member("LA-VTE").envelope == 3  # type: ignore[union-attr]  # signed in


def test_unsigned_foreign_signed_and_mislabelled_entries_are_refused(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    keys, secretariat, other = pki
    state = DirectoryState(keys, "CN-ILSTC")
    [entry, *_] = sign_entries(DEMO, secretariat, at=CLOCK.now())
    with pytest.raises(SignatureError):
        state.apply([], entry.value, entry.key)  # no envelope at all
    forged = DEMO.model_copy(update={"secretariat": "CN-CQ"})
    [foreign, *_] = sign_entries(forged, other, at=CLOCK.now())
    with pytest.raises(SignatureError) as caught:
        state.apply(foreign.headers, foreign.value, foreign.key)
    assert caught.value.code == DirectoryReason.NOT_SECRETARIAT
    with pytest.raises(SignatureError) as caught:
        state.apply(entry.headers, entry.value, b"member/TH-BKK")  # key is not the subject
    assert caught.value.code == DirectoryReason.MALFORMED
    body = json.loads(entry.value)
    body["member"]["format"] = "cusdec"
    with pytest.raises(SignatureError) as caught:
        state.apply(entry.headers, json.dumps(body).encode(), entry.key)  # tampered
    assert caught.value.code == "bad-signature"
    assert state.current is None


def test_an_older_serial_is_refused_as_stale_even_after_a_restart(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    keys, secretariat, _ = pki
    newer = corridor_from_dict({**DEMO.model_dump(mode="json"), "serial": 2}, "x")
    old_entries = sign_entries(DEMO, secretariat, at=CLOCK.now())
    state = DirectoryState(keys, "CN-ILSTC")
    assert _apply_all(state, newer, secretariat) == newer
    with pytest.raises(SignatureError) as caught:
        state.apply(old_entries[0].headers, old_entries[0].value, old_entries[0].key)
    assert caught.value.code == DirectoryReason.STALE
    # Restarted with the serial it kept: only the old head is left on the topic (compaction).
    restarted = DirectoryState(keys, "CN-ILSTC", min_serial=2)
    for entry in old_entries[:-1]:
        restarted.apply(entry.headers, entry.value, entry.key)  # entries alone change nothing
    head = old_entries[-1]
    with pytest.raises(SignatureError) as caught:
        restarted.apply(head.headers, head.value, head.key)
    assert caught.value.code == DirectoryReason.STALE
    assert restarted.current is None


def test_a_head_without_all_its_entries_changes_nothing(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    keys, secretariat, _ = pki
    state = DirectoryState(keys, "CN-ILSTC")
    entries = sign_entries(DEMO, secretariat, at=CLOCK.now())
    for entry in entries[1:]:  # the first member's entry never arrived
        if entry is entries[-1]:
            with pytest.raises(SignatureError, match="not published at that serial"):
                state.apply(entry.headers, entry.value, entry.key)
        else:
            state.apply(entry.headers, entry.value, entry.key)
    assert state.current is None
    assert parse_envelope(entries[-1].headers).subject == "head"


def test_a_proof_added_to_an_entry_is_a_bad_signature(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    keys, secretariat, _ = pki
    state = DirectoryState(keys, "CN-ILSTC")
    [entry, *_] = sign_entries(DEMO, secretariat, at=CLOCK.now())
    with pytest.raises(SignatureError) as caught:
        state.apply((*entry.headers, ("ce_sigproof", b"0;1;")), entry.value, entry.key)
    assert caught.value.code == "bad-signature"


def test_an_entry_labelled_with_another_algorithm_is_a_bad_signature(
    pki: tuple[KeyStore, NodeIdentity, NodeIdentity],
) -> None:
    import base64

    from broker.signing.envelope import signing_input

    keys, secretariat, _ = pki
    [entry, *_] = sign_entries(DEMO, secretariat, at=CLOCK.now())
    relabelled = [
        (name, b"ecdsa-p256-sha256" if name == "ce_sigalg" else value)
        for name, value in entry.headers
        if name != "ce_signature"
    ]  # signed with the right (Ed25519) key over the wrong label: the signature itself holds
    signature = secretariat.signer.sign(signing_input(relabelled, entry.value))
    relabelled.append(("ce_signature", base64.b64encode(signature)))
    with pytest.raises(SignatureError) as caught:
        DirectoryState(keys, "CN-ILSTC").apply(relabelled, entry.value, entry.key)
    assert caught.value.code == "bad-signature"
    assert "key is ed25519" in str(caught.value)
