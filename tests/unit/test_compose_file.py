"""docker-compose.yml is valid Compose and runs the same Kafka as the local launcher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from broker.devkafka.config import KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "vendor" / "compose-spec.json"


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_validates_against_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(load_compose()))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_schema_copy_matches_the_shared_vendor_file_when_present() -> None:
    shared = ROOT.parent / "shared" / "vendor" / "compose-spec.json"
    if not shared.exists():
        pytest.skip("no ../shared/vendor beside this clone; the vendored copy is used")
    assert shared.read_bytes() == SCHEMA.read_bytes()


def test_kafka_service_is_kraft_on_the_launchers_version() -> None:
    kafka = load_compose()["services"]["kafka"]
    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert tag == KAFKA_VERSION
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


def test_invalid_compose_is_caught_by_the_same_check() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = load_compose()
    broken["services"]["kafka"]["ports"] = "9092"  # must be a list
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))
