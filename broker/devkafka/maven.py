"""Resolve Java artifacts from Maven Central into a cache folder outside the repository, once.

Maven itself does the resolving (it knows Central, checksums and transitive dependencies); we only
write a throw-away `pom.xml` and ask `maven-dependency-plugin` to copy the runtime jars. A folder
is complete only when its marker file exists, so an interrupted download is redone, never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from broker.errors import LauncherError

_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
_MARKER = ".complete"


def cache_root() -> Path:
    """`$CUSTOMS_BROKER_CACHE`, else `$XDG_CACHE_HOME/customs-broker`, else `~/.cache/...`."""
    explicit = os.environ.get("CUSTOMS_BROKER_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "customs-broker"


def pom_for(coordinates: Sequence[str]) -> str:
    """A packaging=pom project whose dependencies are `group:artifact:version` coordinates."""
    deps = []
    for coordinate in coordinates:
        parts = coordinate.split(":")
        if len(parts) != 3 or not all(parts):
            raise LauncherError(f"bad Maven coordinate {coordinate!r}: want group:artifact:version")
        group, artifact, version = (escape(p) for p in parts)
        deps.append(
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version></dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.customs-broker</groupId><artifactId>runtime</artifactId>"
        "<version>1</version>\n  <packaging>pom</packaging>\n  <dependencies>\n"
        + "\n".join(deps)
        + "\n  </dependencies>\n</project>\n"
    )


def resolve(coordinates: Sequence[str], dest: Path, *, transitive: bool = True) -> Path:
    """Ensure `dest/lib` holds the jars of `coordinates`; return that folder.

    Downloads only when `dest` is not complete yet. Raises `LauncherError` (with how to install)
    when Maven is missing, and with Maven's own output when resolution fails.
    """
    lib = dest / "lib"
    if (dest / _MARKER).exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LauncherError(
            "Maven (mvn) is not installed; it fetches Apache Kafka's jars from Maven Central. "
            "Install it with `apt-get install -y maven` (Debian/Ubuntu) or see maven.apache.org."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        (work / "pom.xml").write_text(pom_for(coordinates), encoding="utf-8")
        command = [
            mvn,
            "-B",
            "-q",
            _DEPENDENCY_PLUGIN,
            "-DoutputDirectory=lib",
            "-DincludeScope=runtime",
            f"-DexcludeTransitive={'false' if transitive else 'true'}",
        ]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-20:]
            raise LauncherError(
                "Maven could not resolve " + ", ".join(coordinates) + ":\n" + "\n".join(tail)
            )
        (work / _MARKER).write_text("\n".join(coordinates) + "\n", encoding="utf-8")
        if dest.exists():  # a stale, incomplete attempt
            shutil.rmtree(dest)
        work.rename(dest)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return lib
