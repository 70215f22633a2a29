"""The ``aws_iot.publish`` service: a message to AWS IoT Core through the outbox.

Registered while at least one entry is loaded; acts on the entry named by ``entry_id``
(id or title; ``entry`` is the deprecated spelling) or the only one loaded
(``LoadedEntries.pick_entry``: with several, name one). The message is stored in the
outbox and the call returns once it is on disk, so an automation is never held up by,
nor loses a message to, an outage. Admin-only: it reaches any topic of the thing's
policy, past the entities a user's policy names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, ServiceValidationError

from .config import qos
from .const import DOMAIN, HDR_QOS, HDR_TOPIC, MAX_PAYLOAD

if TYPE_CHECKING:
    from .runtime import AwsIotRuntime


def _topic(value: Any) -> str:
    text = str(value)
    if not text or "+" in text or "#" in text or len(text.encode()) > 256:
        raise vol.Invalid("topic: no wildcards, 1 to 256 bytes")
    return text


PUBLISH_SCHEMA = vol.Schema(
    {
        vol.Required("topic"): _topic,
        vol.Optional("payload", default=""): vol.Any(str, int, float, bool),
        vol.Optional("qos", default=1): qos,
        **LoadedEntries.ENTRY_FIELDS,
    }
)


def _register_services(host: Host) -> list[Callable[[], None]]:
    return [host.services.register(DOMAIN, "publish", _publish(host), PUBLISH_SCHEMA,
                                   admin_only=True)]


#: Loaded AWS IoT entries of a host, by entry id.
LOADED: LoadedEntries[AwsIotRuntime] = LoadedEntries(DOMAIN, _register_services)


def _publish(host: Host) -> Callable[[ServiceCall], Any]:
    async def publish(call: ServiceCall) -> None:
        runtime = LOADED.pick_entry(host, call)
        payload = str(call.data["payload"]).encode("utf-8")
        if len(payload) > MAX_PAYLOAD:
            raise ServiceValidationError(
                DOMAIN, "publish", f"payload of {len(payload)} bytes is over AWS's {MAX_PAYLOAD}"
            )
        if runtime.outbox is None:
            raise ServiceValidationError(DOMAIN, "publish", "the entry is not set up yet")
        await runtime.outbox.enqueue(
            payload, {HDR_TOPIC: call.data["topic"], HDR_QOS: str(call.data["qos"])}
        )

    return publish
