"""`customs-broker pki ...`, and no secret in any log record or output line."""

from __future__ import annotations

import argparse
import base64
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from broker import cli as broker_cli
from broker.errors import ConfigError
from broker.signing import cli, corridor_pki
from broker.signing.keyfile import read_sealing_key, read_signing_key
from broker.signing.pki import load_node, read_certificate
from broker.signing.trust import TrustList

PASSPHRASE = "mekong-lancang-corridor-42"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


def test_the_command_group_is_registered() -> None:
    assert "broker.signing.cli" in broker_cli.COMMAND_MODULES


def test_init_ca_issue_node_and_trust_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ILSTC_KEY_PASSPHRASE", PASSPHRASE)
    assert run("pki", "init-ca", "--country", "CN", "--out", str(tmp_path / "ca-cn")) == 0
    assert (
        run(
            "pki",
            "init-ca",
            "--country",
            "TH",
            "--out",
            str(tmp_path / "ca-th"),
            "--algorithm",
            "ecdsa-p256-sha256",
        )
        == 0
    )
    assert (
        run(
            "pki",
            "issue-node",
            "--ca",
            str(tmp_path / "ca-cn"),
            "--node",
            "CN-CQ",
            "--out",
            str(tmp_path / "cn-cq"),
        )
        == 0
    )
    trust_file = tmp_path / "trust.pem"
    assert (
        run(
            "pki",
            "trust-list",
            "--out",
            str(trust_file),
            str(tmp_path / "ca-cn" / "ca.crt.pem"),
            str(tmp_path / "ca-th" / "ca.crt.pem"),
        )
        == 0
    )
    trust_list = TrustList.load(trust_file)
    assert sorted(ca.country for ca in trust_list) == ["CN", "TH"]
    node = load_node(tmp_path / "cn-cq", SecretStr(PASSPHRASE))
    assert trust_list.issuer_of(node.certificate) is not None
    assert PASSPHRASE not in capsys.readouterr().out


def test_issue_node_with_a_separate_ca_passphrase_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_secret = tmp_path / "ca-passphrase"
    ca_secret.write_text("laos-customs-ca-secret\n")
    ca_secret.chmod(0o600)
    assert (
        run(
            "pki",
            "init-ca",
            "--country",
            "LA",
            "--out",
            str(tmp_path / "ca"),
            "--passphrase-file",
            str(ca_secret),
        )
        == 0
    )
    monkeypatch.setenv("NODE_PASS", PASSPHRASE)
    assert (
        run(
            "pki",
            "issue-node",
            "--ca",
            str(tmp_path / "ca"),
            "--node",
            "LA-VTE",
            "--out",
            str(tmp_path / "node"),
            "--passphrase-env",
            "NODE_PASS",
            "--ca-passphrase-file",
            str(ca_secret),
        )
        == 0
    )
    assert load_node(tmp_path / "node", SecretStr(PASSPHRASE)).node_id == "LA-VTE"
    with pytest.raises(ConfigError):  # the CA key is not under the node passphrase
        run(
            "pki",
            "issue-node",
            "--ca",
            str(tmp_path / "ca"),
            "--node",
            "LA-LPQ",
            "--out",
            str(tmp_path / "other"),
            "--passphrase-env",
            "NODE_PASS",
        )


def test_demo_builds_the_four_country_pki_and_leaks_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ILSTC_KEY_PASSPHRASE", raising=False)
    caplog.set_level(logging.DEBUG)
    assert run("pki", "demo", "--out", str(tmp_path)) == 0
    passphrase_file = tmp_path / corridor_pki.PASSPHRASE_FILE
    assert passphrase_file.stat().st_mode & 0o777 == 0o600
    passphrase = SecretStr(passphrase_file.read_text())
    trust_list = TrustList.load(tmp_path / corridor_pki.TRUST_LIST_FILE)
    assert sorted(ca.country for ca in trust_list) == ["CN", "LA", "TH", "VN"]

    secrets = [passphrase.get_secret_value(), "PRIVATE KEY"]
    for node_id in corridor_pki.DEMO_NODES:
        folder = tmp_path / "nodes" / node_id
        assert trust_list.issuer_of(read_certificate(folder / "node.crt.pem")) is not None
        signing = read_signing_key(folder / "node.key.pem", passphrase)
        sealing = read_sealing_key(folder / "seal.key.pem", passphrase)
        for raw in (
            signing.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            sealing.private_bytes_raw(),
        ):
            secrets += [raw.hex(), base64.b64encode(raw).decode()]

    shown = capsys.readouterr()
    texts = [shown.out, shown.err]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    assert caplog.records, "the PKI logs what it does"
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_validity_days_must_be_positive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ILSTC_KEY_PASSPHRASE", PASSPHRASE)
    with pytest.raises(SystemExit):
        run("pki", "init-ca", "--country", "VN", "--out", str(tmp_path / "a"), "--days", "0")
    assert (
        run("pki", "init-ca", "--country", "VN", "--out", str(tmp_path / "b"), "--days", "30") == 0
    )
    certificate = read_certificate(tmp_path / "b" / "ca.crt.pem")
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days == 30
