"""The conformance kit checked by two verifiers written from docs/signing.md alone: Java (JDK
crypto, Apache Avro Java from Maven Central, built with Maven) and Go (standard library crypto,
github.com/hamba/avro from the Go module proxy).

Each must reach every vector's expected outcome (accept or refuse with the right reason, the same
signing input, the unsealed plaintext, the same decoded JSON), and must notice when an expected
outcome is wrong (a kit with two falsified expectations makes each verifier fail on exactly
those). Each verifier's own unit tests (batch-signature proofs against RFC 9162: `go test` in
conformance/go, JUnit run by `mvn package` in conformance/java) pass too. Builds are cached: Go's
build and test caches and a binary under the project cache, Maven's local repository and its
incremental `target/`; a warm run takes a few seconds.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broker.devkafka.maven import cache_root

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "conformance"
VECTORS: dict[str, Any] = json.loads((KIT / "vectors.json").read_text("utf-8"))

pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]

Runner = Callable[..., subprocess.CompletedProcess[str]]


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env=env, timeout=540
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def go_verifier() -> Runner:
    go = shutil.which("go")
    if go is None:  # scripts/ensure-system-deps.sh installs Go; a bare pytest run may lack it
        pytest.fail("the Go toolchain is missing: run scripts/ensure-system-deps.sh")
    binary = cache_root() / "conformance" / "go-verifier"
    binary.parent.mkdir(parents=True, exist_ok=True)
    _run([go, "build", "-o", str(binary), "."], KIT / "go")  # a no-op when nothing changed

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(binary), str(ROOT), *args], capture_output=True, text=True, check=False
        )

    return run


@pytest.fixture(scope="module")
def java_verifier() -> Runner:
    mvn, java = shutil.which("mvn"), shutil.which("java")
    if mvn is None or java is None:
        pytest.fail("a JDK 17+ and Maven are missing: run scripts/ensure-system-deps.sh")
    project = KIT / "java"
    _run([mvn, "-B", "-q", "package"], project, env={**os.environ, "MAVEN_OPTS": "-Xmx256m"})
    classpath = f"{project / 'target' / 'classes'}{os.pathsep}{project / 'target' / 'lib' / '*'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [java, "-cp", classpath, "org.ilstc.conformance.Verifier", str(ROOT), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    return run


def _check_passes(run: Runner) -> None:
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "all vectors pass"
    assert [line.split(" (")[0] for line in lines[:-1]] == [
        f"ok   {v['name']}" for v in VECTORS["vectors"]
    ]


def _check_catches_a_wrong_expectation(run: Runner, tmp_path: Path) -> None:
    kit = copy.deepcopy(VECTORS)
    by_name = {v["name"]: v for v in kit["vectors"]}
    by_name["revoked key"]["expected"]["code"] = "bad-signature"
    by_name["signed declaration"]["expected"]["decoded"]["functional_reference"] = "CQ-OTHER"
    # batch signatures: a malformed proof is no bad signature, and the root message is compared
    by_name["batch: a hash too many"]["expected"]["code"] = "bad-signature"
    other_batch = by_name["ECDSA P-256 batch record"]["expected"]["root_message_base64"]
    by_name["batch of 5, leaf 3"]["expected"]["root_message_base64"] = other_batch
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(kit), "utf-8")
    done = run(str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    failed = [name for name in by_name if any(x.startswith(f"FAIL {name}: ") for x in lines)]
    assert sorted(failed) == [
        "batch of 5, leaf 3",
        "batch: a hash too many",
        "revoked key",
        "signed declaration",
    ]
    assert len([line for line in lines if line.startswith("FAIL ")]) == len(failed)


def test_the_go_verifiers_own_tests_pass() -> None:
    go = shutil.which("go")
    assert go is not None, "the Go toolchain is missing: run scripts/ensure-system-deps.sh"
    out = _run([go, "test", "-v", "."], KIT / "go")  # cached by Go when nothing changed
    passed = [line for line in out.splitlines() if line.startswith("--- PASS")]
    assert len(passed) >= 5, out
    assert "--- FAIL" not in out, out


def test_the_java_verifiers_own_tests_pass(java_verifier: Runner) -> None:
    # `mvn package` (the fixture) runs them and fails the build on a failure; this says how many
    reports = sorted((KIT / "java" / "target" / "surefire-reports").glob("TEST-*.xml"))
    suites = [ElementTree.parse(report).getroot() for report in reports]
    assert sum(int(suite.get("tests", "0")) for suite in suites) >= 5, reports
    assert all(suite.get("failures") == "0" and suite.get("errors") == "0" for suite in suites)


def test_the_go_verifier_passes_every_vector(go_verifier: Runner) -> None:
    _check_passes(go_verifier)


def test_the_go_verifier_catches_a_wrong_expectation(go_verifier: Runner, tmp_path: Path) -> None:
    _check_catches_a_wrong_expectation(go_verifier, tmp_path)


def test_the_java_verifier_passes_every_vector(java_verifier: Runner) -> None:
    _check_passes(java_verifier)


def test_the_java_verifier_catches_a_wrong_expectation(
    java_verifier: Runner, tmp_path: Path
) -> None:
    _check_catches_a_wrong_expectation(java_verifier, tmp_path)
