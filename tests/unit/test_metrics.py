"""A node's metrics: the names and labels dashboards and alerts rely on, and the HTTP endpoints."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from broker.metrics import METRICS_HOST_ENV, MetricsServer, NodeMetrics
from broker.signing.reasons import Reason

# The contract with deploy/prometheus/rules and deploy/grafana: family -> (type, label names).
# Changing a row here means changing the rules and the dashboard in the same commit.
CONTRACT: dict[str, tuple[str, tuple[str, ...]]] = {
    "customs_declarations_submitted": ("counter", ("sender", "format")),
    "customs_declarations_sent": ("counter", ("sender", "recipient", "format")),
    "customs_declarations_delivered": ("counter", ("sender", "recipient", "format")),
    "customs_declarations_rejected": ("counter", ("sender", "recipient", "format")),
    "customs_receipts_received": ("counter", ("sender", "recipient", "status")),
    "customs_end_to_end_latency_seconds": ("histogram", ("sender", "recipient")),
    "customs_publish_latency_seconds": ("histogram", ("sender", "recipient")),
    "customs_verification_failures": ("counter", ("node", "reason")),
    "customs_dead_lettered": ("counter", ("node", "reason")),
    "customs_receipts_pending": ("gauge", ("node", "partner")),
    "customs_receipts_overdue": ("gauge", ("node", "partner")),
    "customs_normalization_errors": ("counter", ("node", "format")),
    "customs_loss_report_fields": ("counter", ("node", "format", "field")),
    "customs_consumer_lag_records": ("gauge", ("node", "topic", "partition")),
    "customs_node": ("info", ("node", "country", "format", "version")),
    "customs_records_handled": ("counter", ("node", "outcome")),
    "customs_duplicates_acknowledged": ("counter", ("node", "sender")),
    "customs_inbox_held": ("gauge", ("node",)),
    "customs_dead_letters_reduced": ("counter", ("node",)),
    "customs_answers_unsent": ("counter", ("node", "kind")),
}


def exercised(registry: CollectorRegistry | None = None) -> NodeMetrics:
    """CN-CQ's metrics with one sample in every family, as after a little traffic."""
    m = NodeMetrics(registry or CollectorRegistry(), node="CN-CQ", country="CN", fmt="cn-swxml")
    m.submitted.labels("CN-CQ", "cn-swxml").inc()
    m.sent.labels("CN-CQ", "LA-VTE", "cn-swxml").inc()
    m.delivered.labels("LA-VTE", "CN-CQ", "cn-swxml").inc()
    m.rejected.labels("LA-VTE", "CN-CQ", "cn-swxml").inc()
    m.receipts.labels("CN-CQ", "LA-VTE", "ACCEPTED").inc()
    m.end_to_end_latency.labels("LA-VTE", "CN-CQ").observe(0.042)
    m.publish_latency.labels("CN-CQ", "LA-VTE").observe(0.003)
    m.verification_failures.labels("CN-CQ", Reason.REPLAY.value).inc()
    m.dead_lettered.labels("CN-CQ", Reason.REPLAY.value).inc()
    m.receipts_pending.labels("CN-CQ", "LA-VTE").set(3)
    m.receipts_overdue.labels("CN-CQ", "LA-VTE").set(1)
    m.normalization_errors.labels("CN-CQ", "cn-swxml").inc()
    m.loss_fields.labels("CN-CQ", "cn-swxml", "goods_items.preference").inc()
    m.consumer_lag.labels("CN-CQ", "customs.v1.inbox.CN-CQ", "0").set(7)
    m.duplicates.labels("CN-CQ", "LA-VTE").inc()
    m.answers_reduced.labels("CN-CQ").inc()
    m.answers_unsent.labels("CN-CQ", "receipt").inc()
    return m


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, list[bool]]]:
    ready = [False]
    server = MetricsServer(exercised().registry, 0, lambda: ready[0])
    server.start()
    try:
        yield server, ready
    finally:
        server.stop()


def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def test_readiness_is_503_until_the_node_is_ready_while_health_is_200(
    served: tuple[MetricsServer, list[bool]],
) -> None:
    server, ready = served
    assert get(server, "/healthz")[0] == 200
    assert get(server, "/readyz")[:1] == (503,)
    ready[0] = True
    assert get(server, "/readyz")[0] == 200
    assert get(server, "/healthz")[0] == 200
    assert get(server, "/nothing-here")[0] == 404


def test_metrics_endpoint_serves_the_text_exposition(
    served: tuple[MetricsServer, list[bool]],
) -> None:
    server, _ = served
    status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type == CONTENT_TYPE_LATEST  # Prometheus picks its text parser from this
    assert content_type.startswith("text/plain;")
    # Counters get `_total` in the exposition: the rules and the dashboard use those names.
    assert 'customs_verification_failures_total{node="CN-CQ",reason="replay"} 1.0' in body
    assert 'customs_end_to_end_latency_seconds_bucket{le="0.05",recipient="CN-CQ"' in body
    assert 'customs_node_info{country="CN",format="cn-swxml",node="CN-CQ",version=' in body


def test_every_family_keeps_its_name_type_and_labels() -> None:
    families = {f.name: f for f in exercised().registry.collect()}
    assert {n: (f.type, _labels(f)) for n, f in families.items()} == {
        n: (t, frozenset(labels)) for n, (t, labels) in CONTRACT.items()
    }


def test_the_exposition_parses_and_every_counter_sample_ends_in_total() -> None:
    text = generate_latest(exercised().registry).decode()
    parsed = list(text_string_to_metric_families(text))
    counters = [f for f in parsed if f.type == "counter"]
    assert len(counters) == sum(1 for kind, _ in CONTRACT.values() if kind == "counter")
    for family in counters:
        values = [s for s in family.samples if not s.name.endswith("_created")]
        assert values, family.name
        assert all(s.name.endswith("_total") for s in values), family.name


def test_names_carry_the_prefix_and_units_and_no_label_names_a_message() -> None:
    for name, (kind, labels) in CONTRACT.items():
        assert name.startswith("customs_")
        if kind == "histogram":
            assert name.endswith("_seconds")
        if kind == "gauge" and "lag" in name:
            assert name.endswith("_records")
        # Bounded label sets only: an id or reference per declaration would explode the TSDB.
        assert not {"message_id", "reference", "declaration"} & set(labels)


def test_every_verification_reason_is_exported_at_zero_before_it_happens() -> None:
    registry = CollectorRegistry()
    NodeMetrics(registry, node="LA-VTE", country="LA", fmt="acdd-xml")
    for reason in Reason:
        for family in ("customs_verification_failures_total", "customs_dead_lettered_total"):
            value = registry.get_sample_value(family, {"node": "LA-VTE", "reason": reason.value})
            assert value == 0.0, (family, reason)


def test_each_node_has_its_own_registry_and_none_touches_the_global_one() -> None:
    before = {m.name for m in REGISTRY.collect()}
    first, second = exercised(CollectorRegistry()), exercised(CollectorRegistry())
    first.submitted.labels("CN-CQ", "cn-swxml").inc()
    assert first.registry.get_sample_value(
        "customs_declarations_submitted_total", {"sender": "CN-CQ", "format": "cn-swxml"}
    ) == 2.0  # fmt: skip
    assert second.registry.get_sample_value(
        "customs_declarations_submitted_total", {"sender": "CN-CQ", "format": "cn-swxml"}
    ) == 1.0  # fmt: skip
    assert {m.name for m in REGISTRY.collect()} == before


def test_listens_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    monkeypatch.delenv(METRICS_HOST_ENV, raising=False)
    local = MetricsServer(registry, 0, lambda: True)
    monkeypatch.setenv(METRICS_HOST_ENV, "0.0.0.0")  # what the container images set
    everywhere = MetricsServer(registry, 0, lambda: True)
    try:
        assert local.host == "127.0.0.1"
        assert everywhere.host == "0.0.0.0"
    finally:
        local.stop()  # never started: stop must not hang
        everywhere.stop()


def _labels(family: Metric) -> frozenset[str]:
    names: set[str] = set()
    for sample in family.samples:
        names |= set(sample.labels) - {"le"}  # `le` is the histogram's own bucket label
    return frozenset(names)
