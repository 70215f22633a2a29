"""The ``nats.publish`` and ``nats.request`` services.

Both are registered once per host, while at least one NATS entry is loaded, and act on
the entry named by ``entry_id`` (its id or title; ``entry`` is the deprecated spelling),
or on the only one loaded: ``LoadedEntries.pick_entry``, the rule every domain service
shares (with several loaded and none named the call is refused, naming them).

``nats.publish`` with ``jetstream: true`` does not publish at all: it stores the
message in the outbox and returns once it is on disk, and the entry's
``JetStreamSender`` delivers it with an ack — so a caller (an automation) is never held
up by, nor loses a message to, a broker outage, even one that lasts since boot. A
plain publish returns once the server confirmed it has the message; it and
``nats.request`` need a connection, so before the entry's first connect they fail at
once and say so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import nats.errors
import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, SupportsResponse
from gatehouse.core.helpers import OutboxError

from .client import flush_in_order, json_or_none
from .config import publish_subject
from .const import DOMAIN, HDR_STREAM, HDR_SUBJECT
from .errors import NatsPublishError, NatsRequestError

if TYPE_CHECKING:
    from .runtime import NatsRuntime

_LOGGER = logging.getLogger(__name__)


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise vol.Invalid("headers must be a mapping of names to strings")
    return {str(k): str(v) for k, v in value.items()}


_COMMON = {
    vol.Required("subject"): publish_subject,
    vol.Optional("payload", default=""): vol.Any(str, int, float, bool),
    vol.Optional("headers"): _headers,
    **LoadedEntries.ENTRY_FIELDS,
}

PUBLISH_SCHEMA = vol.Schema(
    {
        **_COMMON,
        vol.Optional("reply"): publish_subject,
        vol.Optional("jetstream", default=False): bool,
        vol.Optional("stream"): str,
    }
)

REQUEST_SCHEMA = vol.Schema(
    {
        **_COMMON,
        vol.Optional("timeout", default=5.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=300)
        ),
    }
)


def _register_services(host: Host) -> list[Callable[[], None]]:
    """Registered with the first loaded entry, removed with the last (``LOADED``).

    Both are admin-only: they reach any subject, past the entities a user's policy names.
    """
    return [
        host.services.register(
            DOMAIN, "publish", _publish(host), PUBLISH_SCHEMA, admin_only=True
        ),
        host.services.register(
            DOMAIN, "request", _request(host), REQUEST_SCHEMA,
            supports_response=SupportsResponse.ONLY, admin_only=True,
        ),
    ]


#: Loaded NATS entries of a host, by entry id; the services act on these.
LOADED: LoadedEntries[NatsRuntime] = LoadedEntries(DOMAIN, _register_services)


def _payload(call: ServiceCall) -> bytes:
    value = call.data["payload"]
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value).encode()


#: Seconds a plain ``nats.publish`` waits for the server to confirm it has the message
#: (an int: nats-py's ``flush`` is typed so).
PUBLISH_CONFIRM_TIMEOUT: Final = 5


def _publish(host: Host) -> Callable[[ServiceCall], Any]:
    async def publish(call: ServiceCall) -> None:
        runtime = LOADED.pick_entry(host, call)
        subject, payload = call.data["subject"], _payload(call)
        headers = call.data.get("headers")
        if call.data["jetstream"]:
            routing = {HDR_SUBJECT: subject}
            if call.data.get("stream"):
                routing[HDR_STREAM] = call.data["stream"]
            try:
                await runtime.outbox.enqueue(payload, headers={**(headers or {}), **routing})
            except OutboxError as err:
                raise NatsPublishError(f"nats.publish: not queued: {err}") from err
            return
        if not runtime.client.ever_connected:
            raise NatsPublishError(
                f"nats.publish to {subject!r}: not connected to NATS yet "
                "(with jetstream: true the message would be queued)"
            )
        try:
            await runtime.client.nc.publish(
                subject, payload, reply=call.data.get("reply", ""), headers=headers
            )
            # A round trip: when the call returns, the server has the message (a plain
            # publish is otherwise only buffered in this process).
            await flush_in_order(runtime.client.nc, PUBLISH_CONFIRM_TIMEOUT)
        except (nats.errors.Error, TimeoutError) as err:
            raise NatsPublishError(
                f"nats.publish to {subject!r} failed: {err or type(err).__name__}"
            ) from err

    return publish


def _request(host: Host) -> Callable[[ServiceCall], Any]:
    async def request(call: ServiceCall) -> dict[str, Any]:
        runtime = LOADED.pick_entry(host, call)
        subject, timeout = call.data["subject"], call.data["timeout"]
        if not runtime.client.ever_connected:
            raise NatsRequestError(f"request on {subject!r}: not connected to NATS yet")
        try:
            reply = await runtime.client.nc.request(
                subject, _payload(call), timeout=timeout, headers=call.data.get("headers")
            )
        except nats.errors.NoRespondersError as err:
            raise NatsRequestError(f"no responders on subject {subject!r}") from err
        except TimeoutError as err:
            raise NatsRequestError(
                f"no reply on subject {subject!r} within {timeout:g} s"
            ) from err
        except nats.errors.Error as err:
            raise NatsRequestError(f"request on {subject!r} failed: {err}") from err
        text = reply.data.decode(errors="replace")
        return {
            "subject": subject,
            "data": text,
            "json": json_or_none(reply.data),
            "headers": dict(reply.headers or {}),
        }

    return request
