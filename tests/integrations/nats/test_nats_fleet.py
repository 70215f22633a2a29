"""The fleet bridge between two hosts on a 3-node JetStream cluster, losing a node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from natstools import add_nats, assert_loaded

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host
from gatehouse.core.testing import NatsCluster, make_host, state_of, wait_until

pytestmark = pytest.mark.anyio

STOP_AT = 100


def _config_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "configuration.yaml").write_text("# empty\n", encoding="utf-8")
    return path


def _node_of(host: Host, cluster: NatsCluster) -> int:
    (entry,) = host.config_entries.entries("nats")
    url = entry.runtime_data.client.connected_url
    return [node.url for node in cluster.nodes].index(url)


async def test_fleet_bridge_loses_nothing_when_a_node_stops(
    nats_cluster: NatsCluster, tmp_path: Path
) -> None:
    alpha_fleet = {"site": "plant", "host": "alpha", "replicas": 3,
                   "include": ["sensor.tick", "sensor.info"], "events": ["shift_changed"]}
    beta_fleet = {"site": "plant", "host": "beta", "replicas": 3}  # forwards everything
    seen: list[str] = []
    fleet_events: list[dict[str, Any]] = []

    def record(event: Event[Any]) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == "sensor.remote_alpha_tick" and new is not None:
            seen.append(new.state)

    async with (
        make_host(_config_dir(tmp_path, "a")).running() as alpha,
        make_host(_config_dir(tmp_path, "b")).running() as beta,
    ):
        beta.bus.listen(EVENT_STATE_CHANGED, record)
        beta.bus.listen("nats_fleet_event", lambda event: fleet_events.append(dict(event.data)))
        assert_loaded(await add_nats(alpha, "Alpha", servers=nats_cluster.urls, fleet=alpha_fleet))
        assert_loaded(await add_nats(beta, "Beta", servers=nats_cluster.urls, fleet=beta_fleet))

        alpha.states.set("sensor.info", "v1", {"unit_of_measurement": "kW", "floor": 2})
        alpha.states.set("sensor.not_shared", "x")
        alpha.bus.fire("shift_changed", {"shift": 2})
        stopped = anyio.Event()

        async def stop_alphas_node() -> None:
            victim = _node_of(alpha, nats_cluster)
            await anyio.to_thread.run_sync(nats_cluster.stop_node, victim)
            stopped.set()

        tick = 0
        async with anyio.create_task_group() as tg:
            # Changes before, during and after the node's shutdown.
            while tick < STOP_AT or not stopped.is_set() or tick < STOP_AT + STOP_AT:
                tick += 1
                alpha.states.set("sensor.tick", tick)
                if tick == STOP_AT:
                    tg.start_soon(stop_alphas_node)
                await anyio.sleep(0.002)
        ticks = tick

        await wait_until(lambda: state_of(beta, "sensor.remote_alpha_tick") == str(ticks), 45)
        # Every change of alpha arrived at beta, once, in order, across the failover.
        assert [int(value) for value in seen] == list(range(1, ticks + 1))
        (alpha_entry,) = alpha.config_entries.entries("nats")
        assert alpha_entry.runtime_data.client.reconnects >= 1

        info = beta.states.get("sensor.remote_alpha_info")
        assert info is not None and info.state == "v1"
        assert info.attributes["remote_host"] == "alpha"
        assert info.attributes["remote_site"] == "plant"
        assert info.attributes["remote_entity_id"] == "sensor.info"
        assert info.attributes["unit_of_measurement"] == "kW"
        assert info.attributes["floor"] == 2
        assert "sensor.remote_alpha_not_shared" not in beta.states
        assert {"site": "plant", "host": "alpha", "event_type": "shift_changed",
                "data": {"shift": 2}} in fleet_events

        # The other way round; and imported entities are never forwarded back.
        beta.states.set("sensor.boiler", "55")
        await wait_until(lambda: state_of(alpha, "sensor.remote_beta_boiler") == "55", 20)
        assert not any(
            s.entity_id.startswith("sensor.remote_beta_remote_") for s in alpha.states.all()
        )
