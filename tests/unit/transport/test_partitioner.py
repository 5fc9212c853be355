"""murmur2 and the default partition, byte for byte like Kafka's Java client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.transport.partitioner import default_partition, murmur2

VECTORS = json.loads(
    (Path(__file__).parents[2] / "data" / "kafka" / "murmur2-java.json").read_text("utf-8")
)["vectors"]

# Apache Kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
KAFKA_UTILS_TEST = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_UTILS_TEST.items())
def test_murmur2_matches_kafkas_own_test_cases(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=[v["key"] or "empty" for v in VECTORS])
def test_partitions_match_the_java_client(vector: dict[str, object]) -> None:
    key = str(vector["key"]).encode("utf-8")
    assert murmur2(key) == vector["murmur2"]
    for count in (3, 6, 12):
        assert default_partition(key, count) == vector[f"partition_{count}"]


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_a_partition_is_always_in_range(key: bytes, count: int) -> None:
    assert 0 <= default_partition(key, count) < count
    assert -(2**31) <= murmur2(key) < 2**31


def test_a_topic_without_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        default_partition(b"k", 0)
