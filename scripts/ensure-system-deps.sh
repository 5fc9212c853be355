#!/usr/bin/env bash
# Installs what a bare Debian/Ubuntu machine lacks for this project: Python venv support, a JDK 17+
# and Maven (the local Apache Kafka, the Java conformance verifier), Go 1.21+ (the Go conformance
# verifier), openssl (signature interop test), Prometheus (promtool for the alert tests, the
# server for the dashboard test). Idempotent: does nothing when everything is present. Needs root
# (or sudo) only when something is missing.
set -euo pipefail

missing=()
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$major" ] && [ "$major" -ge 17 ]
}
java_ok || missing+=(openjdk-17-jdk-headless)
# Go 1.21+: crypto/ecdh (X25519) and the min/max built-ins of the Go verifier.
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local minor
  minor=$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge 21 ]
}
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# One Debian package holds both: /usr/bin/prometheus and /usr/bin/promtool.
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ] && go_ok; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root to install: ${missing[*]} go" >&2; exit 1; }
  SUDO=sudo
fi

# Debian 12's golang-go is Go 1.19. The Go toolchain is itself published as a module on the Go
# module proxy (golang.org/toolchain, what `GOTOOLCHAIN` downloads): fetch that one, check it
# against the checksum database (through the proxy) and link it as /usr/local/bin/go.
install_go_toolchain() {
  local module=golang.org/toolchain version=v0.0.1-go1.22.12.linux-amd64
  local cache="${CUSTOMS_BROKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/customs-broker}/go-toolchain"
  local root="$cache/$module@$version" proxy=https://proxy.golang.org
  if [ ! -x "$root/bin/go" ]; then
    [ "$(uname -m)" = x86_64 ] || { echo "install Go 1.21+ for $(uname -m) by hand" >&2; exit 1; }
    mkdir -p "$cache"
    echo "fetching $module@$version from the Go module proxy"
    curl -fsSL -o "$cache/toolchain.zip" "$proxy/$module/@v/$version.zip"
    local sum
    sum=$(curl -fsSL "$proxy/sumdb/sum.golang.org/lookup/$module@$version" \
      | awk -v v="$version" '$2 == v {print $3}')
    python3 "$(dirname "$0")/go_module_zip_check.py" "$cache/toolchain.zip" "$sum"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "$cache/toolchain.zip" "$cache"
    chmod -R u+x "$root/bin" "$root/pkg/tool"
    rm -f "$cache/toolchain.zip"
  fi
  $SUDO ln -sf "$root/bin/go" /usr/local/bin/go
  $SUDO ln -sf "$root/bin/gofmt" /usr/local/bin/gofmt
}
if [ ${#missing[@]} -eq 0 ]; then
  install_go_toolchain
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Debian's prometheus package starts a system Prometheus on :9090 by default. The tests start
# their own on free ports and nothing here wants a daemon left running: a policy-rc.d that
# refuses service starts during the install (removed after, unless it was already there)...
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# ...and the unit disabled, so it does not come up at the next boot either.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

hash -r
go_ok || install_go_toolchain
