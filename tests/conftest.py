"""Shared fixtures: the real Kafka (session-wide) and fresh names per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka_support import KafkaEndpoint, Names, provide_kafka


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaEndpoint]:
    """A real Apache Kafka broker for the whole session; stopped at the end if we started it."""
    with provide_kafka(tmp_path_factory.mktemp("kafka-state")) as endpoint:
        yield endpoint


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Names:
    return Names(request.node.name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that asks for the broker is a Kafka test, marked or not: `-m "not kafka"` must work.
    for item in items:
        if "kafka" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)
