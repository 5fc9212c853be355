"""The Grafana dashboard, evaluated by a real Prometheus that scrapes a real running corridor.

`customs-broker demo --keep-running` runs the four nodes on the session's Kafka; a Prometheus
(the Debian binary, its own config, data dir and free port, 1 s scrapes, the repository's rules)
scrapes them. Every panel query, with Grafana's variables substituted, must then be valid PromQL
returning at least one series; the demo's two attacks must show in the dashboard and fire the
alerts. The structural tests at the top need neither Kafka nor Prometheus.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_prometheus_rules import (
    PROMETHEUS_DIR,
    exported_series_names,
    require_binary,
)
from tests.kafka_support import KafkaEndpoint, free_port_block

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "ilstc-customs-corridor.json"
DEMO_NODES = ("CN-CQ", "LA-VTE", "TH-BKK", "VN-HAN")  # port order of --metrics-base-port
# What Grafana puts in for its built-in variables (a 30-minute dashboard, 1 s scrapes).
GRAFANA_BUILTINS = {"$__rate_interval": "30s", "$__range": "30m", "$__interval": "2s"}
# The demo prints this once the summary is out and it only serves until a signal.
DEMO_SERVING = "keep running"


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def queries() -> list[tuple[str, str]]:
    """(panel title + refId, PromQL as written) for every target of every panel."""
    return [(f"{p['title']} [{t['refId']}]", t["expr"]) for p in panels() for t in p["targets"]]


def substitute(expr: str, nodes: list[str]) -> str:
    """What Grafana sends for a query: `$node` as the regex of all its values, built-ins."""
    for name, value in GRAFANA_BUILTINS.items():
        expr = expr.replace(name, value)
    # Grafana escapes regex metacharacters inside a PromQL string (`\\.`); `-` stays as it is.
    escaped = [re.sub(r"[\\^$*+?.()|{}\[\]]", lambda m: "\\\\" + m[0], n) for n in nodes]
    expr = expr.replace("$node", "(" + "|".join(sorted(escaped)) + ")")
    assert "$" not in expr, f"a variable the dashboard does not define: {expr}"
    return expr


def recording_rule_names() -> set[str]:
    data = yaml.safe_load((PROMETHEUS_DIR / "rules" / "customs-recording.yml").read_text())
    return {r["record"] for g in data["groups"] for r in g["rules"]}


# ---------------------------------------------------------------------------- structure
def test_dashboard_has_the_panels_operations_needs() -> None:
    board = dashboard()
    assert board["title"] == "ILSTC customs corridor"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    by_title = {p["title"]: p for p in panels()}
    for title in (
        "Flow between node pairs",
        "Throughput",
        "End-to-end latency p50 / p99",
        "End-to-end latency distribution",
        "Publish latency p50 / p99",
        "Verification failures by reason",
        "Dead letters by reason",
        "Receipts pending per partner",
        "Receipts overdue per partner",
        "Consumer lag",
    ):
        assert title in by_title, title
    latency = " ".join(t["expr"] for t in by_title["End-to-end latency p50 / p99"]["targets"])
    assert "histogram_quantile(0.5," in latency
    assert "histogram_quantile(0.99," in latency
    heatmap = by_title["End-to-end latency distribution"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["targets"][0]["format"] == "heatmap"
    assert "_bucket" in heatmap["targets"][0]["expr"]


def test_every_query_uses_the_datasource_and_node_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["node"]["query"] == "label_values(customs_node_info, node)"
    assert variables["node"]["multi"] is True
    assert variables["node"]["includeAll"] is True
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert "$node" in target["expr"], f"{panel['title']} ignores the node selector"


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert not cells & taken, panel["title"]
        taken |= cells


def test_queries_name_exported_metrics_and_use_every_recording_rule() -> None:
    exported, recorded = exported_series_names(), recording_rule_names()
    used: set[str] = set()
    for title, expr in queries():
        names = set(re.findall(r"\w+:\w+:\w+|(?<![:\w])(?:customs_\w+|up(?=\{))", expr))
        assert names, title
        assert names <= exported | recorded, (title, sorted(names - exported - recorded))
        used |= names
    assert recorded <= used, f"recording rules no panel reads: {sorted(recorded - used)}"


def test_grafana_provisioning_loads_this_dashboard_from_prometheus() -> None:
    sources = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    [source] = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"  # the compose service
    compose_config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.compose.yml").read_text())
    assert source["jsonData"]["timeInterval"] == compose_config["global"]["scrape_interval"]
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/ilstc.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------------------- real Prometheus
@dataclass
class Process:
    """A child in its own process group, its output collected by a thread."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str] | None = None) -> Process:
        popen = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        process = cls(popen)
        process.reader = threading.Thread(target=process._collect, daemon=True)
        process.reader.start()
        return process

    def _collect(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, wait; None if it had to be killed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)  # its own group: children go too
            self.popen.wait(10)

    def close(self) -> None:
        """After exit: the reader has seen the end of the output; close our end of the pipe."""
        if self.reader is not None:
            self.reader.join(10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float, *alive: Process) -> None:
    """Until `check()` holds; fails early, with their output, if a process we wait on died."""
    deadline = time.monotonic() + timeout
    while not check():
        for process in alive:
            if process.popen.poll() is not None:
                pytest.fail(f"exited ({process.popen.returncode}) before {what}:\n{process.output}")
        if time.monotonic() > deadline:
            tails = "\n---\n".join(p.output[-3000:] for p in alive)
            pytest.fail(f"no {what} after {timeout:.0f}s\n{tails}")
        time.sleep(0.25)


class PrometheusApi:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400 for invalid PromQL: its JSON says why
            with error:
                return json.loads(error.read())

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as response:
                status: int = response.status
        except OSError:
            return False
        return status == 200

    def query(self, expr: str) -> Any:
        return self.get("/api/v1/query", query=expr)

    def scalar(self, expr: str) -> float:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def firing(self) -> set[tuple[str, str]]:
        alerts = self.get("/api/v1/alerts")["data"]["alerts"]
        return {
            (a["labels"]["alertname"], a["labels"].get("reason", ""))
            for a in alerts
            if a["state"] == "firing"
        }


def prometheus_config(directory: Path, metrics_base: int) -> Path:
    """deploy/prometheus/prometheus.yml with the demo's ports, 1 s scrapes, absolute rule paths."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / "rules" / "*.yml")]
    [job] = config["scrape_configs"]
    for static in job["static_configs"]:
        port = metrics_base + DEMO_NODES.index(static["labels"]["node"])
        static["targets"] = [f"127.0.0.1:{port}"]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def prometheus_binary() -> str:
    return require_binary("prometheus")


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every child the test starts; whatever is still running at the end is killed."""
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()
        process.close()


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_panel_query_returns_series_from_a_running_corridor(
    kafka: KafkaEndpoint, prometheus_binary: str, processes: list[Process], tmp_path: Path
) -> None:
    metrics_base, web_port = free_port_block(len(DEMO_NODES)), free_port_block(1)
    prometheus = Process.start(
        [
            prometheus_binary,
            f"--config.file={prometheus_config(tmp_path, metrics_base)}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
    )
    processes.append(prometheus)
    api = PrometheusApi(web_port)
    wait_for("Prometheus ready", api.ready, 30, prometheus)

    demo = Process.start(
        [
            sys.executable, "-m", "broker", "demo",
            "--bootstrap-servers", kafka.bootstrap_servers,
            "--keep-running",
            "--work-dir", str(tmp_path / "demo"),
            "--metrics-base-port", str(metrics_base),
            "--rate", "20",
            "--duration", "5",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    processes.append(demo)
    wait_for("demo summary", lambda: DEMO_SERVING in demo.output, 150, demo, prometheus)
    wait_for(
        "four nodes scraped",
        lambda: api.scalar('count(up{job="customs-nodes"} == 1)') == len(DEMO_NODES),
        20,
        demo,
        prometheus,
    )
    # The attacks came before the summary: once Prometheus has the replay, it has the run.
    wait_for(
        "the replay attack in Prometheus",
        lambda: api.scalar('sum(customs_verification_failures_total{reason="replay"})') >= 1,
        20,
        demo,
    )

    # `$node` as Grafana resolves it: label_values(customs_node_info, node).
    nodes = api.get("/api/v1/label/node/values", **{"match[]": "customs_node_info"})["data"]
    assert sorted(nodes) == sorted(DEMO_NODES)

    problems = []
    for title, expr in queries():
        answer = api.query(substitute(expr, nodes))
        if answer["status"] != "success":
            problems.append(f"{title}: invalid: {answer.get('error')}")
        elif not answer["data"]["result"]:
            problems.append(f"{title}: no series")
    assert problems == [], "\n".join(problems)

    # The dashboard shows the demo's attacks, on the node attacked, by reason.
    [failures] = [e for t, e in queries() if t.startswith("Verification failures by reason")]
    shown = api.query(substitute(failures, nodes))["data"]["result"]
    assert {(s["metric"]["node"], s["metric"]["reason"]) for s in shown} >= {
        ("LA-VTE", "bad-signature"),
        ("LA-VTE", "replay"),
    }
    # The repository's rules evaluate cleanly on real series, and the attacks page someone.
    groups = api.get("/api/v1/rules")["data"]["groups"]
    assert {r["health"] for g in groups for r in g["rules"]} == {"ok"}
    wait_for(
        "replay and forgery alerts firing",
        lambda: (
            {
                ("CustomsReplayAttempt", "replay"),
                ("CustomsVerificationFailures", "bad-signature"),
            }
            <= api.firing()
        ),
        15,
        prometheus,
    )

    # SIGTERM: the demo drains its nodes and exits with its verdict: every legitimate
    # declaration delivered and acknowledged, both attacks dead-lettered.
    status = demo.stop(timeout=30)
    assert status == 0, f"demo failed or did not stop cleanly ({status}):\n{demo.output}"
    assert "OK: " in demo.output
    assert "Traceback" not in demo.output, demo.output
    assert prometheus.stop(timeout=30) == 0, prometheus.output
