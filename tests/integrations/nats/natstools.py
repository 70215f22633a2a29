"""What only the NATS tests need beside the kit (``import natstools``; not a conftest,
so the name cannot collide with the suite's other conftest modules).

Hosts, entries and waiting come from ``gatehouse.core.testing`` (``host``,
``make_host``, ``add_entry``, ``wait_until``, ``state_of``); here are the entry data
the tests start from, a plain nats-py client to drive and check the integration, and
small readers of what the server stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.client import Client as NATS

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.helpers import slugify
from gatehouse.core.testing import add_entry

#: Quick reconnects and retries, so outages in tests cost milliseconds.
FAST_RECONNECT: dict[str, Any] = {
    "reconnect_time_wait": 0.1,
    "connect_timeout": 1.0,
    "setup_timeout": 3.0,
    "ack_timeout": 2.0,
    "outbox": {"retry_max": 0.3, "breaker_reset": 0.5},
}


async def add_nats(host: Host, title: str = "Bus", **data: Any) -> ConfigEntry[Any]:
    """The kit's ``add_entry`` for a NATS entry named ``title`` (unique id its slug),
    with ``FAST_RECONNECT`` unless ``data`` says otherwise."""
    return await add_entry(
        host, "nats", {**FAST_RECONNECT, "name": title, **data},
        title=title, unique_id=slugify(title),
    )


def assert_loaded(entry: ConfigEntry[Any]) -> None:
    assert entry.state is ConfigEntryState.LOADED, (entry.state, entry.reason)


@asynccontextmanager
async def raw_client(servers: str | list[str], **options: Any) -> AsyncIterator[NATS]:
    """A plain nats-py connection for driving and checking the integration."""
    nc = await nats.connect(servers, connect_timeout=2, reconnect_time_wait=0.1, **options)
    try:
        yield nc
    finally:
        await nc.close()


async def stream_payloads(nc: NATS, stream: str, subject: str = ">") -> list[bytes]:
    """Every payload stored in ``stream`` (filtered), in stream order."""
    js = nc.jetstream()
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True)
    info = await js.stream_info(stream)
    expected = info.state.messages if subject == ">" else None
    payloads: list[bytes] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            payloads.append(msg.data)
            if expected is not None and len(payloads) >= expected:
                break
    finally:
        await sub.unsubscribe()
    return payloads


def jdump(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value).encode()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
