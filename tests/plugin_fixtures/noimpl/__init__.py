"""Fixture: valid manifest, but the plugin forgets ``gatehouse_integration``."""

from __future__ import annotations

from gatehouse.core import Host, hookimpl

STARTED: list[Host] = []


@hookimpl
def gatehouse_host_started(host: Host) -> None:
    STARTED.append(host)
