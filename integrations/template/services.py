"""``template.reload``: read the ``template:`` section of configuration.yaml again.

Registered while any template entry is loaded (``LOADED``). The section is read from
the file (``load_section``, in a worker thread), validated, and the YAML entry made to
match it (``sync_yaml``: changed → reloaded, gone → removed), without restarting the
host. A section that does not load or validate is refused with the file's problem or
the field, and the running entities stay as they were. The work runs in a task of the
host, so a template button whose action calls ``template.reload`` does not cancel its
own reload halfway. Admins only: it re-reads configuration from disk.
"""

from __future__ import annotations

import json

import anyio
import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, ServiceValidationError, Unsubscribe
from gatehouse.core.helpers import describe_invalid, load_section

from .config import CONFIG_SCHEMA, yaml_entries
from .const import DOMAIN
from .runtime import TemplateRuntime


async def reload_yaml(host: Host) -> None:
    """Make the YAML entry match the file now (module docstring)."""
    section = await anyio.to_thread.run_sync(load_section, host.config_dir, DOMAIN)
    if section.issues:
        raise ServiceValidationError(DOMAIN, "reload", "; ".join(map(str, section.issues)))
    try:
        # located YAML values → plain JSON values (the entry is stored as JSON)
        config = CONFIG_SCHEMA(json.loads(json.dumps(section.value)))
    except vol.Invalid as err:
        raise ServiceValidationError(DOMAIN, "reload",
                                     f"template: {describe_invalid(err)}") from None
    wanted = yaml_entries(config) if section.value is not None else []
    done = anyio.Event()
    failure: list[BaseException] = []

    async def work() -> None:
        try:
            await host.config_entries.sync_yaml(DOMAIN, wanted)
        except Exception as err:
            failure.append(err)
            raise
        finally:
            done.set()

    host.spawn(work(), "template reload")
    await done.wait()
    if failure:
        raise failure[0]


def _register_services(host: Host) -> list[Unsubscribe]:
    async def reload(call: ServiceCall) -> None:
        await reload_yaml(host)

    return [host.services.register(DOMAIN, "reload", reload, {}, admin_only=True)]


#: Loaded template entries by entry id; ``template.reload`` lives while there is one.
LOADED: LoadedEntries[TemplateRuntime] = LoadedEntries(DOMAIN, _register_services)
