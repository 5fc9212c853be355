"""Missing Java or Maven must say how to install them, not crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.devkafka import maven
from broker.devkafka.launcher import check_java
from broker.errors import LauncherError


def test_missing_java_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LauncherError, match="apt-get install -y openjdk-17"):
        check_java()


def test_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LauncherError, match="Java 11"):
        check_java()


def test_missing_maven_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LauncherError, match="apt-get install -y maven"):
        maven.resolve(["a:b:1"], tmp_path / "cache")


def test_complete_cache_is_reused_without_maven(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dest = tmp_path / "cache"
    (dest / "lib").mkdir(parents=True)
    (dest / ".complete").write_text("a:b:1\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn: must not be needed
    assert maven.resolve(["a:b:1"], dest) == dest / "lib"
