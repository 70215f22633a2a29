"""Helpers for the NATS integration tests (``import natstools``; not a conftest, so the
name cannot collide with the suite's other conftest modules)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import nats
from nats.aio.client import Client as NATS

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.util import slugify
from hosttools import make_host

NATS_PACKAGE = "gatehouse.integrations.nats"
FAST_RECONNECT: dict[str, Any] = {
    "reconnect_time_wait": 0.1,
    "connect_timeout": 1.0,
    "setup_timeout": 3.0,
    "outbox": {"retry_max": 0.3, "breaker_reset": 0.5, "ack_timeout": 2.0},
}


def nats_host(config_dir: Path) -> Host:
    """A test host that can load the nats integration without its entry point."""
    host = make_host(config_dir)
    if "nats" not in host.plugins.available():
        host.plugins.add_package("nats", NATS_PACKAGE)
    return host


@asynccontextmanager
async def running_nats_host(config_dir: Path) -> AsyncIterator[Host]:
    host = nats_host(config_dir)
    async with host.running():
        yield host


async def add_entry(host: Host, title: str = "Bus", **data: Any) -> ConfigEntry[Any]:
    """Add and set up a NATS entry (fast reconnect settings unless overridden)."""
    merged = {**FAST_RECONNECT, "name": title, **data}
    entry: ConfigEntry[Any] = ConfigEntry(
        domain="nats", title=title, data=merged, unique_id=slugify(title)
    )
    await host.config_entries.add(entry)
    return entry


def assert_loaded(entry: ConfigEntry[Any]) -> None:
    assert entry.state is ConfigEntryState.LOADED, (entry.state, entry.reason)


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - no event to wait on
            await anyio.sleep(0.01)


def state_of(host: Host, entity_id: str) -> str | None:
    state = host.states.get(entity_id)
    return None if state is None else state.state


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
