"""schema_guard services: replay, purge, query and export the quarantine.

All four are admin-only: replay and purge change what the house holds and ingests, and
query/export hand out device payloads (masked for PII, but still the devices' data).
Registered with the first loaded entry and removed with the last (``LOADED``).
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    SupportsResponse,
    Unsubscribe,
)

from .api import guard_for
from .const import DOMAIN
from .errors import GuardUnavailable
from .runtime import SchemaGuardRuntime
from .store import Filters

FILTER_FIELDS: dict[Any, Any] = {
    vol.Optional("rule"): str,
    vol.Optional("topic"): str,
    vol.Optional("path"): str,
    vol.Optional("since"): vol.Coerce(float),
    vol.Optional("until"): vol.Coerce(float),
}
REPLAY_SCHEMA = vol.Schema({vol.Optional("dry_run", default=True): bool, **FILTER_FIELDS})
PURGE_SCHEMA = vol.Schema({
    **FILTER_FIELDS,
    vol.Optional("replayed"): bool,
    vol.Optional("all", default=False): bool,
})
QUERY_SCHEMA = vol.Schema({
    **FILTER_FIELDS,
    vol.Optional("replayed"): bool,
    vol.Optional("limit", default=50): vol.All(int, vol.Range(min=1, max=1000)),
    vol.Optional("after_id", default=0): vol.All(int, vol.Range(min=0)),
})
EXPORT_SCHEMA = vol.Schema({
    **FILTER_FIELDS,
    vol.Optional("replayed"): bool,
    vol.Optional("name"): vol.All(str, vol.Match(r"^[A-Za-z0-9_-]{1,64}$")),
})


def _filters(data: Any) -> Filters:
    return Filters(topic=data.get("topic"), rule=data.get("rule"), path=data.get("path"),
                   since=data.get("since"), until=data.get("until"),
                   replayed=data.get("replayed"))


def _runtime(host: Host, service: str) -> SchemaGuardRuntime:
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        raise ServiceValidationError(DOMAIN, service, "no schema_guard entry is loaded")
    return next(iter(runtimes.values()))


def json_line(row: dict[str, Any]) -> str:
    """One exported message: the payload as text when it is UTF-8, else base64."""
    item = dict(row)
    payload = item.pop("payload", None)
    if payload is not None:
        try:
            item["payload"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            item["payload_base64"] = base64.b64encode(payload).decode("ascii")
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def _register_services(host: Host) -> list[Unsubscribe]:
    async def replay(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        try:
            result = await guard_for(host).replay(
                dry_run=data["dry_run"], rule=data.get("rule"), topic=data.get("topic"),
                path=data.get("path"), since=data.get("since"), until=data.get("until"))
        except GuardUnavailable as err:
            raise ServiceValidationError(DOMAIN, "replay", str(err)) from err
        return result.as_dict()

    async def purge(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        runtime = _runtime(host, "purge")
        filters = _filters(data)
        if filters == Filters() and not data["all"]:
            raise ServiceValidationError(DOMAIN, "purge", "needs a filter, or all: true")
        removed = await runtime.writer.call(runtime.store.purge, filters)
        return {"purged": removed}

    async def query(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        runtime = _runtime(host, "query")
        filters = _filters(data)
        rows = await runtime.writer.query(filters, limit=data["limit"],
                                          after_id=data["after_id"])
        counts = await runtime.writer.call(runtime.store.path_counts, filters)
        return {"messages": [json.loads(json_line(r)) for r in rows], "error_paths": counts}

    async def export(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        runtime = _runtime(host, "export")
        filters = _filters(data)
        folder = host.config_dir / "schema_guard_exports"
        name = data.get("name") or time.strftime("quarantine-%Y%m%d-%H%M%S")
        path = folder / f"{name}.jsonl"

        def write() -> int:
            folder.mkdir(mode=0o700, exist_ok=True)
            count = 0
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for row in runtime.store.iterate(filters):
                    fh.write(json_line(row) + "\n")
                    count += 1
            return count

        count = await runtime.writer.call(write)
        return {"path": str(Path(path)), "count": count}

    def reg(name: str, handler: Any, schema: vol.Schema) -> Unsubscribe:
        return host.services.register(DOMAIN, name, handler, schema,
                                      supports_response=SupportsResponse.OPTIONAL,
                                      admin_only=True)

    return [
        reg("replay", replay, REPLAY_SCHEMA),
        reg("purge", purge, PURGE_SCHEMA),
        reg("query", query, QUERY_SCHEMA),
        reg("export", export, EXPORT_SCHEMA),
    ]


#: Loaded schema_guard entries by entry id (one per host); the services act on it.
LOADED: LoadedEntries[SchemaGuardRuntime] = LoadedEntries(DOMAIN, _register_services)
