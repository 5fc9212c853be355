"""Prometheus metrics of one node, on a registry the caller owns (no global default registry).

Names carry the `customs_` prefix and their unit; label sets are fixed and bounded (node ids,
formats, reason codes, canonical field names, partitions): never a declaration id.
`deploy/prometheus/rules/` and `deploy/grafana/dashboards/` query these names; tests check both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from broker import __version__
from broker.signing.reasons import Reason

# From 5 ms (same machine) to 2 min (a partner's node down for a while).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)

# Dead-letter codes besides the verifier's reasons (`Code` in broker/node/receiver.py).
OTHER_DEAD_LETTER_CODES = (
    "not-a-partner", "binding-mismatch", "unknown-original", "receipt-mismatch",
    "undecodable-receipt", "unsupported-type", "internal-error",
)  # fmt: skip
# What handling a record came to (`Outcome` in broker/node/receiver.py).
OUTCOMES = ("delivered", "rejected", "dead-lettered", "redelivered", "recorded", "held-for-retry")

# Where /metrics listens unless the caller says: loopback, since the numbers are nobody else's
# business. A container sets 0.0.0.0 here so Prometheus in another container or pod can scrape.
METRICS_HOST_ENV = "CUSTOMS_METRICS_HOST"


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry, *, node: str, country: str, fmt: str) -> None:
        self.registry = registry
        self.node = node
        pair = ["sender", "recipient", "format"]
        self.submitted = Counter(
            "customs_declarations_submitted", "National documents accepted for sending",
            ["sender", "format"], registry=registry,
        )  # fmt: skip
        self.sent = Counter(
            "customs_declarations_sent", "Declarations acknowledged by Kafka, per recipient",
            pair, registry=registry,
        )  # fmt: skip
        self.delivered = Counter(
            "customs_declarations_delivered", "Declarations delivered to the national system",
            pair, registry=registry,
        )  # fmt: skip
        self.rejected = Counter(
            "customs_declarations_rejected", "Declarations refused on validation by the receiver",
            pair, registry=registry,
        )  # fmt: skip
        self.receipts = Counter(
            "customs_receipts_received", "Receipts received back from recipients",
            ["sender", "recipient", "status"], registry=registry,
        )  # fmt: skip
        self.end_to_end_latency = Histogram(
            "customs_end_to_end_latency_seconds", "From ce_time at the sender to delivery",
            ["sender", "recipient"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.publish_latency = Histogram(
            "customs_publish_latency_seconds", "From submit to Kafka's acknowledgement",
            ["sender", "recipient"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.verification_failures = Counter(
            "customs_verification_failures", "Records refused by verification, by reason",
            ["node", "reason"], registry=registry,
        )  # fmt: skip
        self.dead_lettered = Counter(
            "customs_dead_lettered", "Records written to the dead-letter topic, by reason",
            ["node", "reason"], registry=registry,
        )  # fmt: skip
        self.receipts_pending = Gauge(
            "customs_receipts_pending", "Declarations sent and not yet acknowledged",
            ["node", "partner"], registry=registry,
        )  # fmt: skip
        self.receipts_overdue = Gauge(
            "customs_receipts_overdue", "Declarations without a receipt past the deadline",
            ["node", "partner"], registry=registry,
        )  # fmt: skip
        self.normalization_errors = Counter(
            "customs_normalization_errors", "National documents refused by their parser",
            ["node", "format"], registry=registry,
        )  # fmt: skip
        self.loss_fields = Counter(
            "customs_loss_report_fields", "Canonical fields a target format could not carry",
            ["node", "format", "field"], registry=registry,
        )  # fmt: skip
        self.consumer_lag = Gauge(
            "customs_consumer_lag_records", "End offset minus committed offset",
            ["node", "topic", "partition"], registry=registry,
        )  # fmt: skip
        self.outcomes = Counter(
            "customs_records_handled", "Inbox records by what handling them came to",
            ["node", "outcome"], registry=registry,
        )  # fmt: skip
        self.duplicates = Counter(
            "customs_duplicates_acknowledged",
            "The same message (sender, id, bytes) read again: answered again, not delivered again",
            ["node", "sender"], registry=registry,
        )  # fmt: skip
        self.inbox_held = Gauge(
            "customs_inbox_held", "1 while a retriable fault holds the inbox (see /readyz)",
            ["node"], registry=registry,
        )  # fmt: skip
        self.answers_reduced = Counter(
            "customs_dead_letters_reduced", "Dead letters sent without their too-large value",
            ["node"], registry=registry,
        )  # fmt: skip
        self.answers_unsent = Counter(
            "customs_answers_unsent", "Receipts or dead letters Kafka will never take (kept in "
            "the ledger)", ["node", "kind"], registry=registry,
        )  # fmt: skip
        Info("customs_node", "This node", registry=registry).info(
            {"node": node, "country": country, "format": fmt, "version": __version__}
        )
        # Known reasons start at 0: a counter series that first appears at 1 shows no increase
        # to `rate()`/`increase()`, so the first replay or forged record would raise no alert.
        for reason in Reason:
            self.verification_failures.labels(node, reason.value)
            self.dead_lettered.labels(node, reason.value)
        for code in OTHER_DEAD_LETTER_CODES:
            self.dead_lettered.labels(node, code)
        for outcome in OUTCOMES:
            self.outcomes.labels(node, outcome)
        self.inbox_held.labels(node).set(0)


class MetricsServer:
    """`/metrics`, `/healthz` (process alive) and `/readyz` (node consuming) on one port.

    `port=0` takes any free port (see `.port`); `host` defaults to `$CUSTOMS_METRICS_HOST`,
    else 127.0.0.1.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        port: int,
        ready: Callable[[], bool],
        host: str | None = None,
    ) -> None:
        registry_ = registry
        host = host or os.environ.get(METRICS_HOST_ENV) or "127.0.0.1"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    self._answer(200, generate_latest(registry_), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    self._answer(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    ok = ready()
                    self._answer(
                        200 if ok else 503, b"ready\n" if ok else b"starting\n", "text/plain"
                    )
                else:
                    self._answer(404, b"not found\n", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # scrapes every few seconds would drown the node's own log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever: never started, never ends
            self._server.shutdown()
        self._server.server_close()
