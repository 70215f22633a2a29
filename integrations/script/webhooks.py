"""The host's webhook table: ``webhook_id`` → the trigger that waits for it.

``POST /api/webhook/<id>`` (served by the script integration's routes) looks the id
up here. The id is the only credential of a webhook, as in Home Assistant: make it
long and random. ``local_only`` (the default) refuses callers outside loopback and
the private ranges; ``allowed_methods`` defaults to POST and PUT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from gatehouse.core import Host, HostKey

from .errors import ScriptConfigError


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: str
    handler: Callable[[dict[str, Any]], None]
    methods: tuple[str, ...]
    local_only: bool


_WEBHOOKS: Final[HostKey[dict[str, Webhook]]] = HostKey("script.webhooks")


def webhooks(host: Host) -> dict[str, Webhook]:
    return host.data.setdefault(_WEBHOOKS, {})


def register_webhook(
    host: Host, webhook_id: str, handler: Callable[[dict[str, Any]], None], *,
    methods: list[str], local_only: bool,
) -> Callable[[], None]:
    table = webhooks(host)
    if webhook_id in table:
        raise ScriptConfigError(f"webhook id {webhook_id!r} is already used by another trigger")
    hook = Webhook(webhook_id, handler, tuple(methods), local_only)
    table[webhook_id] = hook

    def unregister() -> None:
        if table.get(webhook_id) is hook:
            del table[webhook_id]

    return unregister
