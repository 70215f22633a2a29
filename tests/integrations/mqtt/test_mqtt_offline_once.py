"""One ``offline`` per stop (issue 16: on a SIGTERM the offline message arrived twice).

``close()`` publishes the will payload itself, then DISCONNECT (a graceful disconnect
makes the broker discard the will). But paho closed the socket right after writing
DISCONNECT; when the broker still had something to send us (the PUBACK of the offline
message, or the offline message itself when we subscribe its topic, as every entity
with that availability topic does), the close with unread data turned into a TCP
reset, the broker's write failed ("disconnected due to out of memory" in its log)
before it read DISCONNECT, and it published the will as well: a second ``offline``.
"""

from __future__ import annotations

from typing import Any

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, add_entry, wait_until

pytestmark = pytest.mark.anyio

ROUNDS = 12


async def test_each_stop_says_offline_once(mosquitto: Mosquitto, peer: Peer, host: Host) -> None:
    peer.subscribe("gatehouse/status", qos=1)
    peer.subscribe("marker/#", qos=1)
    for n in range(ROUNDS):
        client_id = f"once{n}"
        before = len(peer.snapshot())
        data: dict[str, Any] = entry_data(
            mosquitto.port, client_id=client_id,
            # Subscribed to its own status topic, as discovered entities are: the broker
            # sends us our offline message back while we disconnect.
            sensor=[{"name": f"status {n}", "state_topic": "gatehouse/status"}],
        )
        entry = await add_entry(host, "mqtt", data)
        assert loaded(entry), entry.reason
        await wait_until(lambda b=before: b"online" in [m[1] for m in peer.snapshot()[b:]])
        await host.config_entries.unload(entry.entry_id)
        await wait_until(
            lambda cid=client_id: f"Client {cid} disconnected" in mosquitto.log_text(),
            message="the broker never saw the client go",
        )
        # The broker sends a will when it drops the client, before it handles this.
        peer.publish(f"marker/{n}", "x", qos=1)
        await wait_until(lambda n=n: peer.payloads(f"marker/{n}"))
        got = [m[1] for m in peer.snapshot()[before:] if m[0] == "gatehouse/status"]
        assert got == [b"online", b"offline"], (
            f"round {n}: {got}\n" + "\n".join(
                line for line in mosquitto.log_text().splitlines() if client_id in line
            )[-3000:]
        )
