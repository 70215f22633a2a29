"""What a loaded AWS IoT entry holds (``entry.runtime_data``), and how it connects.

Set-up makes the **offline half** first, whatever AWS is doing: the outbox destination
with its sender, the link and problem sensors, the telemetry listener. Telemetry is
therefore queued from the first second (store-and-forward at boot). Then it starts the
connection (``AwsConnection.start`` waits at most ``connect_timeout``; paho keeps trying
in the background) and the protocol modules, which only see the ``MqttLink``: the shadow
sync and the jobs runner (only with a non-empty ``allowed_services``), which ask the link
for what they need on each (re)connect.

Credentials: the entry's ``certificate``/``private_key``, or the ones fleet provisioning
stored under ``.storage/aws_iot/<entry_id>/`` (``Provisioned``); with neither, the entry
has only a claim, and the connection waits for provisioning (``provisioning.py``) to
store them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.helpers import Backoff, LinkSensor, OutboxLink

from .binary_sensor import ProblemSensor
from .client import AwsConnection, Credentials, Endpoint, tls_context
from .const import (
    ALPN_PORT,
    CONF_CERTIFICATE,
    CONF_CONNECT_TIMEOUT,
    CONF_ENDPOINT,
    CONF_KEEPALIVE,
    CONF_NAME,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROVISIONING,
    CONF_PUBLISH_RATE,
    CONF_RECONNECT_MAX,
    CONF_RECONNECT_MIN,
    CONF_ROOT_CA,
    CONF_STORM,
    CONF_THING,
    DOMAIN,
)
from .errors import AwsIotError
from .jobs import JobRunner
from .provisioning import provision, stored_identity
from .sender import TelemetrySender
from .shadow import ShadowSync
from .telemetry import Telemetry

_LOGGER = logging.getLogger(__name__)

#: How long to wait before asking AWS again after a refused provisioning.
PROVISION_RETRY: Final = Backoff(initial=5.0, maximum=300.0)


def store_dir(host: Host, entry_id: str) -> Path:
    """Where fleet provisioning keeps an entry's certificate, key and identity."""
    return host.storage_dir / DOMAIN / entry_id


def stored_credentials(directory: Path) -> Credentials | None:
    """The provisioned identity as credentials, or None before provisioning. Blocking;
    raises ``ProvisioningError`` naming the file when what is stored is broken."""
    identity = stored_identity(directory)
    if identity is None:
        return None
    return Credentials(identity.thing_name, str(identity.cert_path), str(identity.key_path))


def endpoint_of(config: Mapping[str, Any]) -> Endpoint:
    port = int(config[CONF_PORT])
    alpn = config.get("alpn")
    return Endpoint(
        host=config[CONF_ENDPOINT],
        port=port,
        root_ca=config[CONF_ROOT_CA],
        alpn=port == ALPN_PORT if alpn is None else bool(alpn),
        keepalive=int(config[CONF_KEEPALIVE]),
        connect_timeout=float(config[CONF_CONNECT_TIMEOUT]),
        reconnect_min_delay=float(config[CONF_RECONNECT_MIN]),
        reconnect_max_delay=max(float(config[CONF_RECONNECT_MAX]),
                                float(config[CONF_RECONNECT_MIN])),
        max_publish_rate=float(config[CONF_PUBLISH_RATE]),
        storm_disconnects=int(config[CONF_STORM]["disconnects"]),
        storm_window=float(config[CONF_STORM]["window"]),
        storm_pause=float(config[CONF_STORM]["pause"]),
    )


def configured_credentials(config: Mapping[str, Any]) -> Credentials | None:
    if CONF_CERTIFICATE not in config:
        return None
    return Credentials(config[CONF_THING], config[CONF_CERTIFICATE], config[CONF_PRIVATE_KEY])


class AwsIotRuntime:
    """A loaded entry: its connection (once it has credentials) and its parts."""

    def __init__(self, host: Host, entry: ConfigEntry[Any], config: Mapping[str, Any],
                 key: str) -> None:
        self.host = host
        self.entry = entry
        self.config = config
        self.name: str = config[CONF_NAME]
        self.key = key
        self.endpoint = endpoint_of(config)
        self.connection: AwsConnection | None = None
        self.sender = TelemetrySender(
            lambda: self.connection, budget=float(config["outbox"]["send_timeout"]) / 2
        )
        self.outbox: OutboxLink | None = None
        self.telemetry: Telemetry | None = None
        self.shadow: ShadowSync | None = None
        self.jobs: JobRunner | None = None
        self.link: LinkSensor | None = None
        self.problem_sensor: ProblemSensor | None = None
        self.provisioning_error: str | None = None
        self._claim: AwsConnection | None = None
        #: The entry's own entities (link, problem, queue figures): never exported.
        self.own_entities: list[str] = []
        #: The entry reason this runtime set (cleared with the problem, not another's).
        self._reason: str | None = None

    @property
    def thing_name(self) -> str:
        c = self.connection
        return c.credentials.client_id if c is not None else str(self.config[CONF_THING])

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.connected

    def problem(self) -> str | None:
        """What needs the operator (storm, shadow refused, provisioning refused)."""
        if self.connection is not None and self.connection.problem:
            return self.connection.problem
        if self.shadow is not None and self.shadow.problem:
            return f"shadow: {self.shadow.problem}"
        return self.provisioning_error

    def link_attributes(self) -> dict[str, Any]:
        c = self.connection
        if c is not None:
            error = c.last_error
        elif self._claim is not None:
            error = f"provisioning: {self._claim.last_error or 'connecting with the claim'}"
        else:
            error = "waiting for credentials"
        return {"endpoint": self.endpoint.where, "thing_name": self.thing_name,
                "last_error": error}

    def _claim_changed(self) -> None:
        """The claim connection: a refusal (not an endpoint that is down) is a problem
        retrying cannot fix, so it is shown at once."""
        claim = self._claim
        error = claim.last_error if claim is not None else None
        if error is not None and ("refused" in error or "before CONNACK" in error):
            self.provisioning_error = f"fleet provisioning: the claim certificate: {error}"
        self.refresh()

    def refresh(self) -> None:
        """Connection or problem changed: sensors and the entry's reason follow."""
        if self.link is not None:
            self.link.refresh()
        if self.problem_sensor is not None:
            self.problem_sensor.refresh()
        problem = self.problem()
        if problem is not None:
            self.entry.reason = self._reason = problem
        elif self._reason is not None and self.entry.reason == self._reason:
            self.entry.reason = self._reason = None

    async def connect(self, credentials: Credentials) -> bool:
        """Make the connection with ``credentials`` and start the protocols on it."""
        context = await anyio.to_thread.run_sync(tls_context, self.endpoint, credentials)
        connection = AwsConnection(self.endpoint, credentials, context)
        self.connection = connection
        self.entry.on_unload(connection.close)
        self.entry.on_unload(connection.add_listener(self.refresh))
        shadow_config = dict(self.config["shadow"])
        if _empty(shadow_config.get("include")):
            # As for telemetry, nothing is selected without an include: only the mapped
            # keys are reported (the schema's empty defaults would read as "all").
            shadow_config.pop("include", None)
            shadow_config.pop("exclude", None)
        else:
            # Never the entry's own entities: each report would change them (queue
            # figures) and make another report.
            exclude = dict(shadow_config.get("exclude") or {})
            exclude["entities"] = [*exclude.get("entities", ()), *self.own_entities]
            shadow_config["exclude"] = exclude
        if shadow_config["enabled"] and (shadow_config["mapping"] or "include" in shadow_config):
            self.shadow = ShadowSync(connection, self.host, credentials.client_id, shadow_config)
            await self.shadow.start()
            self.entry.on_unload(self.shadow.stop)
        jobs_config = self.config["jobs"]
        if jobs_config["enabled"] and jobs_config["allowed_services"]:
            # Without an approved service there is nothing this host may run, and
            # jobs meant for another agent on the thing must not be REJECTED by us.
            self.jobs = JobRunner(connection, self.host, credentials.client_id,
                                  jobs_config["allowed_services"])
            await self.jobs.start()
            self.entry.on_unload(self.jobs.stop)
        connected = await connection.start()
        self.refresh()
        return connected

    async def provision_then_connect(self) -> None:
        """An entry task: connect with the claim, provision, store, then connect with
        the new identity. Retries (with backoff) while AWS refuses; the refusal is the
        entry's problem meanwhile. Runs once per appliance: later set-ups find the
        stored identity (``stored_credentials``) and never get here."""
        block = self.config[CONF_PROVISIONING]
        claim = Credentials(str(self.config[CONF_THING]), block["claim_certificate"],
                            block["claim_private_key"])
        directory = store_dir(self.host, self.entry.entry_id)
        pacing = PROVISION_RETRY.counter()
        while True:
            context = await anyio.to_thread.run_sync(tls_context, self.endpoint, claim)
            link = self._claim = AwsConnection(self.endpoint, claim, context)
            up = anyio.Event()
            link.add_listener(_when_connected(link, up))
            link.add_listener(self._claim_changed)
            try:
                if not await link.start():
                    await up.wait()
                identity = await provision(
                    link, template_name=block["template_name"],
                    parameters=block["parameters"], store_dir=directory,
                    csr=bool(block.get("csr", False)),
                )
            except AwsIotError as err:  # refused, no answer, or the link dropped
                self.provisioning_error = f"fleet provisioning: {err}"
                _LOGGER.error("AWS IoT %s: %s", self.name, self.provisioning_error)
                self.refresh()
                await anyio.sleep(pacing.failed())
                continue
            finally:
                self._claim = None
                await link.close()
            break
        self.provisioning_error = None
        _LOGGER.info("AWS IoT %s: provisioned as %s; connecting with its certificate",
                     self.name, identity.thing_name)
        await self.connect(Credentials(identity.thing_name, str(identity.cert_path),
                                       str(identity.key_path)))

    def diagnostics(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connection": self.connection.diagnostics() if self.connection else None,
            "outbox": self.outbox.diagnostics() if self.outbox else None,
            "telemetry": self.telemetry.diagnostics() if self.telemetry else None,
            "shadow": dict(self.shadow.stats) if self.shadow else None,
            "jobs": dict(self.jobs.stats) if self.jobs else None,
            "problem": self.problem(),
        }


def _empty(selector: Any) -> bool:
    if not isinstance(selector, Mapping):
        return True
    return not any(selector.get(k) for k in selector)


def _when_connected(link: AwsConnection, event: anyio.Event) -> Callable[[], None]:
    def listener() -> None:
        if link.connected:
            event.set()

    return listener
