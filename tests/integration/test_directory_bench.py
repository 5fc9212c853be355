"""`bench corridor` end to end on a small corridor: its numbers are consistent with each other."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_bench_corridor_applies_starts_a_node_and_carries_traffic() -> None:
    members = 20
    done = subprocess.run(
        [sys.executable, "-m", "broker", "bench", "corridor", "--members", str(members),
         "--declarations", "3", "--heap-mb", "512", "--json"],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["members"] == members
    assert result["partners_of_measured_node"] == members - 1
    assert result["topics_created"] == result["topics_in_cluster"] == 2 * members + 2
    assert result["scram_users"] == members + 3  # and the secretariat, key publisher, operator
    assert result["acl_bindings_in_cluster"] == result["acl_bindings_applied"] > 0
    assert result["sample_acknowledged"] == result["sample_declarations"] > 0
    assert result["node_ready_s"] > 0
    assert result["node_peak_rss_mb"] > 0
    assert result["broker_rss_mb"] > 0
