"""Make a config dir with today's code, to be committed as ``fixture_<date>/``.

    .venv/bin/python tests/appliance/upgrade/make_fixture.py \
        tests/appliance/upgrade/fixture_YYYYMMDD

Runs ``gatehouse run`` on a small configuration (demo, recorder, an InfluxDB exporter
whose server is down so the outbox holds points, automation and script), creates the
owner over HTTP, lets the stores fill for a few seconds, stops the host and writes
``expected.json`` (entries, entity ids, users, row counts) beside the config dir. The
upgrade test starts later code on a copy and compares. Make a new fixture before
changing any stored format, and keep the old ones.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
CONFIG = """\
gatehouse:
  name: Upgrade fixture
http:
  server_host: 127.0.0.1
  server_port: 0
demo:
  name: Demo
  update_interval: 0.5
recorder:
  commit_interval: 0.5
influxdb:
  host: 127.0.0.1
  port: 9
  database: offline
  flush_interval: 0.5
automation:
script:
"""


def main() -> int:
    out = Path(sys.argv[1])
    config = out / "config"
    if out.exists():
        shutil.rmtree(out)
    config.mkdir(parents=True)
    (config / "configuration.yaml").write_text(CONFIG)
    log = out / "run.log"
    with log.open("w") as stream:
        proc = subprocess.Popen([GATEHOUSE, "run", "--config", str(config)], stdout=stream,
                                stderr=subprocess.STDOUT)
    port = 0
    for _ in range(600):
        found = re.search(r"listening on http://127.0.0.1:(\d+)", log.read_text())
        if found:
            port = int(found.group(1))
            break
        time.sleep(0.1)
    body = json.dumps({"username": "owner", "password": "fixture-pass", "name": "Owner"})
    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/api/onboarding/users", data=body.encode(),
        headers={"Content-Type": "application/json"}), timeout=10).close()
    time.sleep(5)  # a fixture, not a test: let the demo fill outbox and recorder
    states = json.loads(subprocess.run([GATEHOUSE, "states", "--json", "--config", str(config)],
                                       capture_output=True, check=True).stdout)
    entries = json.loads(subprocess.run(
        [GATEHOUSE, "entries", "list", "--json", "--config", str(config)],
        capture_output=True, check=True).stdout)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    log.unlink()

    def count(db: str, table: str) -> int:
        with sqlite3.connect(config / db) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    expected = {
        "entries": sorted([e["entry_id"], e["domain"], e["title"]] for e in entries),
        "entities": sorted(s["entity_id"] for s in states),
        "users": ["owner"],
        "outbox_rows": count(".storage/outbox.db", "messages"),
        "recorder_states": count("gatehouse_v2.db", "states"),
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for leftover in config.rglob("*"):
        if leftover.is_socket() or leftover.name in (".gatehouse.lock",):
            leftover.unlink()
    print(json.dumps(expected, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
