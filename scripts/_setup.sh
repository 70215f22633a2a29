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
    # hass-cli (homeassistant-cli, run by tests/core/http/ha_api/hatools.py) in a
    # virtual env of its own, .venv-hass-cli, fixed the way its user would fix it.
    # WHY: 0.9.6's published requirements cannot work together: regex>=2022.9 and
    # dateparser>=0.7.1,<0.8, and dateparser 0.7.x fails at its first parse with every
    # regex from 2022 on ("bad escape \d": `hass-cli state history` never sends a
    # request); it also imports six, which nothing requires. So six is added and regex
    # pinned back to 2021.11.10 with --no-deps (against hass-cli's stated range; no
    # wheel for 3.11, so pip compiles it: gcc, python3-dev). In .venv that pin would
    # break `pip check` and be undone by the next `pip install -e .[test]`.
    hc="$ROOT/.venv-hass-cli"
    hc_pkgs="homeassistant-cli==0.9.6 six"
    hc_regex="regex==2021.11.10"
    hc_stamp="$hc/.gatehouse-$(printf '%s|%s' "$hc_pkgs" "$hc_regex" | sha256sum | cut -c1-16)"
    if [ ! -f "$hc_stamp" ]; then
        log "installing hass-cli into $hc"
        apt_install gcc python3-dev
        [ -x "$hc/bin/python" ] || "$PY" -m venv "$hc"
        "$hc/bin/python" -m pip install -q $hc_pkgs
        "$hc/bin/python" -m pip install -q --no-deps "$hc_regex"
        "$hc/bin/python" -c "import dateparser; assert dateparser.parse('1 hour ago')"
        rm -f "$hc"/.gatehouse-*
        touch "$hc_stamp"
    fi
fi
