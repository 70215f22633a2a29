#!/usr/bin/env bash
# Shared set-up for scripts/run and scripts/test: a fresh Debian machine with Python 3.11
# needs nothing else. Idempotent and quick when everything is in place already.
#   GATEHOUSE_SETUP=run   -> the host's own dependencies
#   GATEHOUSE_SETUP=test  -> also test tools, Mosquitto, Chromium and the test plugin
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
MODE="${GATEHOUSE_SETUP:-run}"

log() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
    # Install Debian packages that are missing (root, or passwordless sudo).
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# Re-install only when what we install from changed (hash of the project files).
stamp_src=$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" \
    $( [ "$MODE" = test ] && find "$ROOT/tests/plugin_pkg" -type f -not -path '*/build/*' -not -name '*.pyc' -not -path '*egg-info*' | sort ) \
    2>/dev/null | sha256sum | cut -c1-16)
stamp="$VENV/.gatehouse-$MODE-$stamp_src"
if [ ! -f "$stamp" ]; then
    if [ "$MODE" = test ]; then
        log "installing gatehouse with test dependencies"
        "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
        "$VENV/bin/python" -m pip install -q "$ROOT/tests/plugin_pkg"
    else
        log "installing gatehouse"
        "$VENV/bin/python" -m pip install -q -e "$ROOT[all]"
    fi
    rm -f "$VENV"/.gatehouse-"$MODE"-*
    touch "$stamp"
fi

if [ "$MODE" = test ]; then
    # mypy checks the packages under their installed names: gatehouse.core -> core/ ...
    mkdir -p "$VENV/mypy-path/gatehouse"
    ln -sfn "$ROOT/core" "$VENV/mypy-path/gatehouse/core"
    ln -sfn "$ROOT/integrations" "$VENV/mypy-path/gatehouse/integrations"
    apt_install mosquitto chromium socat
    # Mosquitto's Debian service is not needed: the tests start their own brokers.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
    # InfluxDB 1.x (influxd) for tests/integrations/influxdb: the fixture starts its own
    # server on loopback ports with a generated config, so Debian's service is not needed.
    apt_install influxdb
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now influxdb >/dev/null 2>&1 || true; fi
    # protoc for tests/integrations/schema_guard: descriptor sets made from .proto files.
    apt_install protobuf-compiler
    # zbarimg decodes the provisioning QR codes in tests/integrations/mqtt_provisioning.
    apt_install zbar-tools
    # systemd-analyze for tests/appliance/test_systemd.py (verifies the shipped unit).
    apt_install systemd
    # The npm test tools of tests/js_client (pinned in its package-lock.json): Home
    # Assistant's client library (test_ha_js_client.py) and TypeScript, which type-checks
    # frontend/ (test_typecheck.py). Installed outside frontend/, which the server serves.
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    js="$ROOT/tests/js_client"
    if [ ! -d "$js/node_modules" ] || [ "$js/package-lock.json" -nt "$js/node_modules" ]; then
        log "installing the npm packages of tests/js_client"
        npm ci --no-audit --no-fund --loglevel=error --prefix "$js" >/dev/null
        touch "$js/node_modules"
    fi
fi
