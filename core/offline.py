"""Entry commands of the CLI when no host runs: edit ``.storage`` directly.

``entries list/add/remove`` work on a stopped appliance too (provisioning an image,
repairing a config). A host that is not running cannot race us for the file; the next
start sets the new entries up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from .exceptions import GatehouseError


def offline_command(config_dir: Path, payload: dict[str, Any], show: Callable[[Any], None]) -> int:
    from .cli import EXIT_FAILED, EXIT_NOT_FOUND, _result_code
    from .exceptions import IntegrationNotFound, UnknownEntry, UnknownFlow
    from .host import Host

    async def work() -> Any:
        host = Host(config_dir)
        await host.config_entries.load()
        await host.entity_registry.load()
        await host.device_registry.load()
        cmd = payload["cmd"]
        if cmd == "entries":
            return [e.as_summary() for e in host.config_entries.entries()]
        if cmd == "entry_remove":
            await host.config_entries.remove(payload["entry_id"])
            result: Any = {"removed": payload["entry_id"]}
        elif cmd == "entry_add":
            flow = host.config_entries.flow
            step = await flow.init(payload["domain"])
            if step["type"] == "form":
                step = await flow.configure(step["flow_id"], payload.get("data") or {})
            result = dict(step)
        else:  # pragma: no cover - the CLI only sends the three above
            raise GatehouseError(f"{cmd} needs a running host")
        await host.config_entries.flush()
        await host.entity_registry.flush()
        await host.device_registry.flush()
        return result

    try:
        result = anyio.run(work)
    except (UnknownEntry, IntegrationNotFound, UnknownFlow) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except GatehouseError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    show(result)
    return _result_code(result)
