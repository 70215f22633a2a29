"""Entry health: a loaded hub whose server stops says "reconnecting" (not just "loaded").

Issue 14: with the simulator stopped the modbus entry stayed a green "Loaded" in the UI.
The hub reports every connect and failed attempt to ``entry.set_health``; the REST and
WebSocket entry JSON carry it as ``health`` (connected, since, last_error).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mbtools import entry_of, running_host
from modbus_peers import ModbusPeer

from gatehouse.core import ConfigEntryState
from gatehouse.core.http.views_config import entry_json
from gatehouse.core.testing import state_of, wait_until

pytestmark = pytest.mark.anyio

YAML = """modbus:
  - name: Beta
    host: 127.0.0.1
    port: {port}
    timeout: 0.2
    retries: 1
    scan_interval: 0.05
    reconnect_delay: 0.05
    reconnect_delay_max: 0.2
    sensors:
      - name: One
        slave: 1
        address: 0
"""


async def test_stopped_server_makes_the_entry_report_reconnecting_then_connected(
    config_dir: Path,
) -> None:
    server = ModbusPeer((1,))
    await server.start()
    try:
        async with running_host(config_dir, YAML.format(port=server.port)) as host:
            await wait_until(lambda: state_of(host, "sensor.beta_one") == "0")
            entry = entry_of(host, title="Beta")
            health = entry_json(host, entry)["health"]
            assert health is not None and health["connected"] is True
            assert health["last_error"] is None
            connected_since = health["since"]

            await server.stop()
            await wait_until(lambda: entry.health is not None and not entry.health.connected)
            assert entry.state is ConfigEntryState.LOADED  # still loaded: set-up did succeed
            down = entry_json(host, entry)["health"]
            assert down["connected"] is False and down["since"] >= connected_since
            assert f"cannot connect to 127.0.0.1:{server.port}" in down["last_error"]

            server = ModbusPeer((1,), port=server.port)
            await server.start()
            await wait_until(lambda: entry.health is not None and entry.health.connected,
                             timeout=5)
            back = entry_json(host, entry)["health"]
            assert back["since"] >= down["since"]
            # The error stays readable after the reconnect: what happened, and when.
            assert back["last_error"] == down["last_error"]

        # Unloaded (the host stopped): no stale claim about a link.
        assert entry.health is None
        assert entry_json(host, entry)["health"] is None
    finally:
        await server.stop()
