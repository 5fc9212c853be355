"""Prometheus configs, recording rules and alerts, checked by the real `promtool`.

The alert unit tests in deploy/prometheus/tests/ feed synthetic series and expect each alert to
fire on its failure and stay quiet otherwise; here we also prove those tests have teeth (a rule
that can never fire makes them fail) and that every metric they name is one a node exports.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.exposition import generate_latest

from tests.unit.test_metrics import exercised

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
ALERTS_FILE = PROMETHEUS_DIR / "rules" / "customs-alerts.yml"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

# What issue #7 asks for, by name: node down, lag, receipts, verification, dead letters, replay.
REQUIRED_ALERTS = {
    "CustomsNodeDown",
    "CustomsConsumerLagGrowing",
    "CustomsReceiptsOverdue",
    "CustomsVerificationFailures",
    "CustomsDeadLetterRateHigh",
    "CustomsReplayAttempt",
}


def require_binary(name: str) -> str:
    """The binary's path; in CI its absence is a failure, elsewhere a skip that says why."""
    path = shutil.which(name)
    if path is not None:
        return path
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{name} is missing in CI: scripts/ensure-system-deps.sh installs it")
    pytest.skip(f"{name} not installed (Debian: apt-get install prometheus); CI installs it")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for group in load_yaml(ALERTS_FILE)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def exported_series_names() -> set[str]:
    """Every series name a node's /metrics can show (one sample in each family), plus `up`."""
    text = generate_latest(exercised().registry).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    return names | {"up"}


def test_both_prometheus_configs_are_valid_and_load_every_rule_file() -> None:
    for config in ("prometheus.yml", "prometheus.compose.yml"):
        result = promtool("check", "config", PROMETHEUS_DIR / config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_rule_files_are_valid() -> None:
    assert RULE_FILES
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    assert TEST_FILES
    result = promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def test_the_required_alerts_exist_with_a_severity_and_a_runbook_section() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    headings = {m.lower() for m in re.findall(r"^#+ +(\S+)\s*$", doc, flags=re.MULTILINE)}
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md"
        assert anchor == rule["alert"].lower()
        assert anchor in headings, f"docs/operations.md has no section {rule['alert']}"


def test_every_alert_is_tested_both_firing_and_quiet() -> None:
    checks: dict[str, list[bool]] = {}
    for path in TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                checks.setdefault(check["alertname"], []).append(bool(check["exp_alerts"]))
    for rule in alert_rules():
        outcomes = checks.get(rule["alert"], [])
        assert True in outcomes, f"{rule['alert']} is never shown firing"
        assert False in outcomes, f"{rule['alert']} is never shown staying quiet"


@pytest.mark.parametrize("alert", sorted(REQUIRED_ALERTS))
def test_the_alert_tests_fail_when_the_rule_can_never_fire(alert: str, tmp_path: Path) -> None:
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp_path / "rules")
    shutil.copytree(PROMETHEUS_DIR / "tests", tmp_path / "tests")
    broken = load_yaml(ALERTS_FILE)
    for group in broken["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = "vector(0) > 1"  # valid PromQL that never returns a series
    (tmp_path / "rules" / ALERTS_FILE.name).write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = promtool("test", "rules", *sorted((tmp_path / "tests").glob("*.test.yml")))
    assert result.returncode != 0
    assert f"alertname: {alert}," in result.stdout + result.stderr


def test_rules_and_alert_tests_name_only_metrics_a_node_exports() -> None:
    exported = exported_series_names()
    referenced: set[str] = set()
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                referenced |= set(re.findall(r"(?<![:\w])customs_\w+", rule["expr"]))
    for path in TEST_FILES:
        for case in load_yaml(path)["tests"]:
            referenced |= {s["series"].split("{")[0] for s in case.get("input_series", [])}
    assert referenced
    assert referenced - {"up"} <= exported, sorted(referenced - exported)
