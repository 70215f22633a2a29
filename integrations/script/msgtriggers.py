"""Trigger platforms fed by messages and by the host: mqtt, nats, webhook, start/stop.

* ``mqtt`` subscribes through the mqtt integration's public api (``MQTT_API``), which
  keeps subscriptions made before an mqtt entry loads and re-applies them across its
  reloads, so an automation need not wait for the broker.
* ``nats`` matches the bus events nats consumers with ``target: event`` fire
  (``nats_message`` by default, ``event_type:`` to name another) by ``subject``, with
  NATS wildcards (``*`` one token, ``>`` the rest). The nats integration has no public
  subscription api; its events are its public surface.
* ``webhook`` registers its id with the web server's webhook table
  (``gatehouse.core.http.register_webhook``): ``POST /api/webhook/<id>`` (public; the
  id is the credential; ``local_only`` by default; ``allowed_methods`` POST and PUT).
* ``homeassistant`` (Home Assistant's name) and ``gatehouse``: ``event: start`` fires
  when the host has started (only for automations set up while it starts, as in Home
  Assistant), ``event: shutdown`` when it begins to stop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import Event, Host, HostState
from gatehouse.core.http import Webhook, register_webhook
from gatehouse.integrations.mqtt.api import MQTT_API, MqttApi, MqttMessage

from .errors import ScriptConfigError, ScriptError
from .syntax import as_list
from .templating import render

Fire = Callable[[dict[str, Any], Any], None]
Undo = Callable[[], None]


def _data(base: dict[str, Any], **items: Any) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k != "_variables"}
    out.update(items)
    return out


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _mqtt(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    topic = config.get("topic")
    if not isinstance(topic, str) or not topic:
        raise ScriptConfigError("mqtt trigger needs a topic")
    wanted = config.get("payload")
    template = config.get("value_template")
    encoding = config.get("encoding", "utf-8")
    qos = int(config.get("qos", 0))
    variables = base.get("_variables", {})
    api = host.data.setdefault(MQTT_API, MqttApi())

    def received(message: MqttMessage) -> None:
        payload: Any = message.payload
        if encoding:
            payload = message.payload.decode(str(encoding), "replace")
        payload_json = _json_or_none(payload) if isinstance(payload, str) else None
        compared = payload
        if template is not None:
            try:
                compared = render(host, str(template),
                                  {**variables, "value": payload, "value_json": payload_json})
            except ScriptError:
                return
        if wanted is not None and str(compared) != str(wanted):
            return
        fire(_data(base, topic=message.topic, payload=payload, payload_json=payload_json,
                   qos=message.qos, retain=message.retain,
                   description=f"mqtt topic {message.topic}"), None)

    try:
        return api.subscribe(topic, received, qos=qos)
    except ValueError as err:
        raise ScriptConfigError(f"mqtt trigger: {err}") from err


def subject_matches(pattern: list[str], subject: str) -> bool:
    """NATS wildcards: ``*`` one token, ``>`` one or more trailing tokens."""
    tokens = subject.split(".")
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(tokens) == len(pattern)


def _nats(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    subject = config.get("subject")
    if not isinstance(subject, str) or not subject:
        raise ScriptConfigError("nats trigger needs a subject")
    pattern = subject.split(".")
    wanted = config.get("payload")
    event_type = str(config.get("event_type", "nats_message"))

    def matches(data: Mapping[str, Any]) -> bool:
        got = data.get("subject")
        return isinstance(got, str) and subject_matches(pattern, got)

    def received(event: Event[Any]) -> None:
        payload = event.data.get("data")
        if wanted is not None and str(payload) != str(wanted):
            return
        fire(_data(base, subject=event.data.get("subject"), payload=payload,
                   payload_json=event.data.get("json"),
                   description=f"nats subject {event.data.get('subject')}"), event.context)

    return host.bus.listen(event_type, received, matches)


def _host_event(host: Host, config: Mapping[str, Any], fire: Fire,
                base: dict[str, Any]) -> Undo:
    which = str(config.get("event", ""))
    if which not in ("start", "shutdown"):
        raise ScriptConfigError(f"{config['trigger']} trigger: event must be start or shutdown")

    def ring(event: Event[Any]) -> None:
        fire(_data(base, event=which, description=f"host {which}"), None)

    if which == "start":
        if host.state is not HostState.STARTING:
            return lambda: None
        return host.bus.listen_once("host_started", ring)
    return host.bus.listen_once("host_stopping", ring)


def _webhook(host: Host, config: Mapping[str, Any], fire: Fire,
             base: dict[str, Any]) -> Undo:
    webhook_id = config.get("webhook_id")
    if not isinstance(webhook_id, str) or not webhook_id:
        raise ScriptConfigError("webhook trigger needs a webhook_id")
    methods = [str(m).upper() for m in as_list(config.get("allowed_methods"))] or ["POST",
                                                                                  "PUT"]
    local_only = bool(config.get("local_only", True))

    def received(data: dict[str, Any]) -> None:
        fire(_data(base, **data,
                   description=f"webhook {webhook_id}"), None)

    try:
        return register_webhook(host, Webhook(webhook_id, received, tuple(methods), local_only))
    except ValueError as err:
        raise ScriptConfigError(f"webhook trigger: {err}") from None


MESSAGE_PLATFORMS = {
    "mqtt": _mqtt,
    "nats": _nats,
    "homeassistant": _host_event,
    "gatehouse": _host_event,
    "webhook": _webhook,
}
