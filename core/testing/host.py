"""Hosts for tests, and the three helpers every integration test needs.

A test host retries entries quickly (tests wait for ``setup_retry`` → ``loaded`` in
milliseconds, not the production two seconds) and stops within five seconds.
Waiting is done by polling a predicate with a deadline, never by sleeping a fixed time:
a fixed sleep is too short on a loaded CI box and wastes time everywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import anyio

from ..config_entry import ConfigEntry, Source
from ..host import Host
from ..util.backoff import Backoff

T = TypeVar("T")

#: Entry retries in tests: 10 ms, doubling to 50 ms, no jitter (deterministic).
TEST_RETRY = Backoff(initial=0.01, maximum=0.05, jitter=0)


def make_host(
    config_dir: Path | str,
    *,
    stop_timeout: float = 5.0,
    retry: Backoff = TEST_RETRY,
    packages: Mapping[str, str] | None = None,
) -> Host:
    """A host tuned for tests (quick retries, short stop); not started.

    ``packages`` makes integrations available without an entry point, domain → package
    (``{"mydevice": "my_pkg.mydevice"}``): handy while a plugin is not installed yet.
    Run it with ``async with host.running(): ...``.
    """
    host = Host(config_dir, stop_timeout=stop_timeout)
    host.config_entries.retry_policy = retry
    for domain, package in (packages or {}).items():
        host.plugins.add_package(domain, package)
    return host


async def add_entry(
    host: Host,
    domain: str,
    data: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
    options: Mapping[str, Any] | None = None,
    unique_id: str | None = None,
    source: Source = Source.USER,
) -> ConfigEntry[Any]:
    """Add a config entry of ``domain`` and set it up (the host must be running).

    Returns the entry in whatever state set-up left it (``loaded``, ``setup_retry``...):
    asserting that is the test's business.
    """
    entry: ConfigEntry[Any] = ConfigEntry(
        domain=domain,
        title=title or domain,
        data=dict(data or {}),
        options=dict(options or {}),
        unique_id=unique_id,
        source=source,
    )
    await host.config_entries.add(entry)
    return entry


async def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, message: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails with ``AssertionError`` after ``timeout`` seconds, naming ``message`` (or the
    predicate). Polls every 10 ms, yielding to the loop in between, so the host's tasks
    run while the test waits.
    """
    deadline = time.monotonic() + timeout
    # Polling is the point: the kit waits for states no event announces.
    while not (value := _check(predicate, deadline, timeout, message)):  # noqa: ASYNC110
        await anyio.sleep(0.01)
    return value


def wait_until_sync(
    predicate: Callable[[], T], timeout: float = 10.0, message: str = ""
) -> T:
    """``wait_until`` for tests with no event loop (a host in a subprocess, a CLI)."""
    deadline = time.monotonic() + timeout
    while not (value := _check(predicate, deadline, timeout, message)):
        time.sleep(0.02)
    return value


def _check(predicate: Callable[[], T], deadline: float, timeout: float, message: str) -> T:
    """The predicate's value; past the deadline a falsy one fails the test."""
    value = predicate()
    if not value and time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout} s: {message or predicate}")
    return value


def state_of(host: Host, entity_id: str) -> str | None:
    """The state string of ``entity_id``, or None if it has no state."""
    state = host.states.get(entity_id)
    return None if state is None else state.state
