"""The audit integration: a tamper-evident, append-only log of security events.

The modules, each with one job:

* ``record.py``: the record schema and its canonical encoding, the hash chain;
* ``note.py``: checkpoints as C2SP-style signed notes (Ed25519), verifier keys;
* ``keystore.py``: the signing key, made on first use (0600), its public half;
* ``writer.py``: the files (append, rotate, checkpoint, fsync; one thread);
* ``committer.py``: ``AuditLog``, the bounded queue and the group-commit writer task;
* ``listeners.py``: bus events → records; ``api.py``: the events other code fires,
  ``query`` and ``record`` for the API and other integrations;
* ``verify.py``: ``gatehouse audit verify`` (offline, public key only);
* ``runtime.py`` (``AuditRuntime``), ``config.py``, ``flow.py``, ``services.py``
  (``audit.checkpoint``), ``errors.py``.

The log lives in ``<config>/.storage/audit``. Set-up opens it (a damaged last record
refuses set-up: verify first), starts the writer task, then listens; unload writes what
is queued and signs a last checkpoint, so a clean stop leaves a fully signed log.
Each checkpoint, once on disk, is also fired as the bus event ``audit_checkpoint``
(``{origin, size, note}``) and, with ``publish_checkpoints``, queued in the outbox for
an MQTT/NATS topic (``publish.py``). ``views.py``/``wscommands.py``/``browse.py``: the
admin-only queries; ``sealed.py``: values of sensitive entities encrypted;
``offline.py``: ``append_offline`` for CLI commands with no host running.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigEntryError, Host, YamlEntry, hookimpl
from gatehouse.core.http import RouteDef, WsCommand

from .config import CONFIG_SCHEMA, ENTRY_SCHEMA
from .const import (
    AUDIT_DIR,
    CONF_NAME,
    CONF_PUBLISH_CHECKPOINTS,
    DOMAIN,
    EVENT_AUDIT_CHECKPOINT,
)
from .errors import AuditError
from .flow import AuditConfigFlow
from .listeners import AuditListeners
from .publish import start_publisher
from .runtime import AuditRuntime
from .sealed import cipher_of
from .services import LOADED


class AuditIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = AuditConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        data = dict(config or {})
        return [YamlEntry(unique_id=DOMAIN, title=data.get(CONF_NAME, "Audit log"),
                          data=data)]

    async def setup_entry(self, host: Host, entry: ConfigEntry[AuditRuntime]) -> None:
        try:
            config: dict[str, Any] = ENTRY_SCHEMA({**entry.data, **entry.options})
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid audit settings: {err}") from err
        try:
            runtime = await AuditRuntime.open(config, host.storage_dir / AUDIT_DIR)
        except (AuditError, OSError) as err:
            raise ConfigEntryError(f"audit log: {err}") from err
        entry.runtime_data = runtime
        entry.on_unload(runtime.log.writer.close)  # the lock, if the task never ran
        publish = config.get(CONF_PUBLISH_CHECKPOINTS)
        if publish is not None:
            runtime.publisher = await start_publisher(host, entry, publish, entry.title)
        runtime.log.on_checkpoint = partial(_announce, host, runtime)
        cipher = cipher_of(host)
        if cipher is not None:  # the keyring read and epoch taken here, not in a listener
            await anyio.to_thread.run_sync(cipher.prepare)
        entry.spawn(runtime.log.run(), "audit writer")
        listeners = runtime.listeners = AuditListeners(host, runtime.log, entry.entry_id)
        for undo in listeners.start():
            entry.on_unload(undo)
        entry.spawn(runtime.summaries(), "audit schema_guard summaries")
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[AuditRuntime]) -> None:
        """Write what is queued and sign a last checkpoint before the task is cancelled."""
        await entry.runtime_data.log.close()


def _announce(host: Host, runtime: AuditRuntime, note: str) -> None:
    """Fire ``audit_checkpoint`` (origin, size, note) and queue it for publication."""
    origin, size = note.split("\n", 2)[:2]
    host.bus.fire(EVENT_AUDIT_CHECKPOINT, {"origin": origin, "size": int(size), "note": note})
    if runtime.publisher is not None:
        runtime.publisher.offer(note, origin, int(size))


INTEGRATION = AuditIntegration()


@hookimpl
def gatehouse_integration() -> AuditIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: origin, seq, file, queue and checkpoint figures (no key)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """The log's REST API (admins only; ``views.py``), imported with aiohttp."""
    from .views import routes

    return routes(host)


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """The log over the WebSocket API (admins only; ``wscommands.py``)."""
    from .wscommands import commands

    return commands(host)
