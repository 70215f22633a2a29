"""``mqtt.publish`` and the ``mqtt_message`` event.

The service belongs to the domain, not to an entry: it is registered when the first
mqtt entry loads and removed when the last one unloads (``LOADED``), so unloading one of
two brokers leaves it working for the other. ``entry_id`` (an id or the entry's title)
says which broker; left out, the only one loaded (``LoadedEntries.pick_entry``). An
entry loads even while its broker is unreachable, so the service is there from boot on
and QoS 1/2 messages wait in the outbox instead of being refused.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    Unsubscribe,
)
from gatehouse.core.helpers import TemplateError, template_engine

from .api import EVENT_MQTT_MESSAGE, MQTT_API, MqttMessage
from .config import QOS
from .const import CONF_QOS, CONF_TOPIC, DOMAIN
from .errors import MqttUnavailable
from .provisioning.services import register_services as provisioning_services
from .runtime import MqttRuntime
from .topics import valid_topic

SERVICE_PUBLISH = "publish"

PUBLISH_SCHEMA = vol.Schema(
    {
        vol.Required("topic"): valid_topic,
        vol.Exclusive("payload", "payload"): vol.Any(str, int, float, bool, None),
        vol.Exclusive("payload_template", "payload"): str,
        vol.Optional("qos", default=0): QOS,
        vol.Optional("retain", default=False): bool,
        # The broker: an entry id or title; left out, the only loaded entry (pick_entry).
        **LoadedEntries.ENTRY_FIELDS,
    }
)

def _register_services(host: Host) -> list[Unsubscribe]:
    """Registered with the first loaded entry, removed with the last (``LOADED``)."""
    return [
        # Admin-only: it reaches any topic, past the entities a user's policy names.
        host.services.register(
            DOMAIN, SERVICE_PUBLISH, _publish_handler(host), PUBLISH_SCHEMA, admin_only=True
        ),
        # provision_device, revoke_device, delete_device (admin-only; provisioning/).
        *provisioning_services(host, LOADED),
    ]


#: Loaded mqtt entries by entry id; holding one keeps the domain's services registered.
LOADED: LoadedEntries[MqttRuntime] = LoadedEntries(DOMAIN, _register_services)


def _publish_handler(host: Host) -> Any:
    async def publish(call: ServiceCall) -> None:
        data = call.data
        if "payload_template" in data:
            try:
                payload: Any = template_engine(host).render(data["payload_template"])
            except TemplateError as err:
                raise ServiceValidationError(DOMAIN, SERVICE_PUBLISH, str(err)) from err
        else:
            payload = data.get("payload")
            if isinstance(payload, bool):
                payload = "true" if payload else "false"
        api = host.data.get(MQTT_API)
        if api is None:
            raise ServiceValidationError(DOMAIN, SERVICE_PUBLISH, "no mqtt entry is loaded")
        # Never "the first broker": with two loaded, the caller says which (by title).
        entry_id = LOADED.pick_entry_id(host, call)
        try:
            await api.publish(
                data["topic"], payload, qos=data["qos"], retain=data["retain"],
                entry_id=entry_id,
            )
        except MqttUnavailable as err:
            raise ServiceValidationError(DOMAIN, SERVICE_PUBLISH, str(err)) from err

    return publish


def setup_event_forwarding(
    host: Host,
    entry: ConfigEntry[Any],
    runtime: MqttRuntime,
    subscriptions: list[dict[str, Any]],
) -> None:
    """Fire ``mqtt_message`` for every message on the entry's ``subscribe:`` filters
    (validated: ``{"topic": ..., "qos": ...}`` each)."""
    fire = host.bus.fire

    def forward(message: MqttMessage) -> None:
        fire(
            EVENT_MQTT_MESSAGE,
            {
                "topic": message.topic,
                "payload": message.payload,
                "qos": message.qos,
                "retain": message.retain,
                "entry_id": message.entry_id,
            },
        )

    for item in subscriptions:
        entry.on_unload(runtime.subscribe(item[CONF_TOPIC], forward, int(item.get(CONF_QOS, 0))))
