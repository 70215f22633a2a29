"""``flaky``: an integration whose behaviour each config entry chooses through its data.

Entry data (all optional):

``mode``
    ``ok`` (default), ``not_ready``, ``error``, ``auth`` or ``crash``: what the first
    ``fail_times`` set-up attempts raise (``ConfigEntryNotReady``, ``ConfigEntryError``,
    ``ConfigEntryAuthFailed``, ``RuntimeError``). ``fail_times: -1`` fails forever.
``fail_times``
    How many attempts fail before one succeeds (default -1: every one; needs a mode).
``unload_raises``
    ``unload_entry`` raises ``RuntimeError``.
``partial``
    Before failing, make an entity, register a service, listen on the bus and start a
    task, so the tests can prove a failed attempt leaves nothing behind.

A two-step config flow (``user``: host, port, password, mode; ``confirm``) adds entries
without checking the unique id itself, so the manager's own duplicate guard is tested.
Host ``unreachable`` shows a base error; host ``nowhere`` leads to a step that does not
exist.

Every set-up makes one sensor (on a device), one service ``flaky.ping_<slug>``, one bus
listener and one background task, all released by the host on unload. The integration
object is new for every host (``gatehouse_integration`` builds one), so tests configure
it through ``host.plugins.load("flaky").integration`` without leaking between tests
(a test that needs ``migrate_entry`` or another ``entry_version`` sets it on that object).
"""

from __future__ import annotations

from typing import Any

import anyio
import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    ConfigFlow,
    FlowResult,
    Host,
    SensorEntity,
    ServiceCall,
    SupportsResponse,
    hookimpl,
)
from gatehouse.core.util import slugify

DOMAIN = "flaky"


class FlakySensor(SensorEntity):
    def __init__(self, prefix: str, name: str, attempt: int) -> None:
        self._attr_unique_id = f"{prefix}_value"
        self._attr_name = f"{name} value"
        self._attr_native_value = attempt
        self._attr_device_info = {
            "identifiers": {(DOMAIN, prefix)},
            "name": name,
            "manufacturer": "Tests",
        }


USER_SCHEMA = vol.Schema(
    {
        vol.Required("host"): str,
        vol.Optional("port", default=80): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Required("password"): str,
        vol.Optional("mode", default="ok"): vol.In(["ok", "not_ready", "error"]),
    }
)
CONFIRM_SCHEMA = vol.Schema({vol.Required("confirm"): bool})


class FlakyConfigFlow(ConfigFlow):
    def __init__(self) -> None:
        super().__init__()
        self._input: dict[str, Any] = {}

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input["host"] == "unreachable":
                errors["base"] = "cannot_connect"
            elif user_input["host"] == "nowhere":
                return self.show_form(step_id="nowhere")
            else:
                self._input = user_input
                await self.set_unique_id(user_input["host"])
                return self.show_form(
                    step_id="confirm",
                    data_schema=CONFIRM_SCHEMA,
                    description_placeholders={"host": user_input["host"]},
                )
        return self.show_form(step_id="user", data_schema=USER_SCHEMA, errors=errors)

    async def step_confirm(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None or not user_input["confirm"]:
            return self.abort("not_confirmed")
        return self.create_entry(title=self._input["host"], data=self._input)


class FlakyIntegration:
    domain = DOMAIN
    entry_version = 1
    config_flow = FlakyConfigFlow

    def __init__(self) -> None:
        #: Set-up attempts per entry id (never reset: the tests count retries with it).
        self.attempts: dict[str, int] = {}
        self.unloads: dict[str, int] = {}
        #: Entry ids whose background task is running right now.
        self.running_tasks: set[str] = set()
        #: Set when an attempt starts; tests wait on it instead of sleeping.
        self.attempted = anyio.Event()
        #: If set, each set-up waits for it (to catch an entry mid set-up).
        self.gate: anyio.Event | None = None

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        attempt = self.attempts[entry.entry_id] = self.attempts.get(entry.entry_id, 0) + 1
        self.attempted.set()
        self.attempted = anyio.Event()
        if self.gate is not None:
            await self.gate.wait()
        mode = entry.data.get("mode", "ok")
        fail_times = int(entry.data.get("fail_times", -1))
        failing = mode != "ok" and (fail_times < 0 or attempt <= fail_times)
        if failing and not entry.data.get("partial"):
            _raise(mode, attempt)
        await self._make_things(host, entry, attempt)
        if failing:
            _raise(mode, attempt)

    async def _make_things(self, host: Host, entry: ConfigEntry[Any], attempt: int) -> None:
        name = entry.title
        prefix = slugify(entry.unique_id or entry.entry_id)
        await host.entities.add(entry, [FlakySensor(prefix, name, attempt)])

        async def ping(call: ServiceCall) -> dict[str, Any]:
            return {"entry_id": entry.entry_id, "attempt": attempt}

        entry.on_unload(
            host.services.register(
                DOMAIN, f"ping_{prefix}", ping, supports_response=SupportsResponse.OPTIONAL
            )
        )
        entry.on_unload(host.bus.listen("flaky_poke", lambda event: None))
        entry.spawn(self._worker(entry.entry_id), f"flaky {name} worker")

    async def _worker(self, entry_id: str) -> None:
        self.running_tasks.add(entry_id)
        try:
            await anyio.sleep_forever()
        finally:
            self.running_tasks.discard(entry_id)

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        self.unloads[entry.entry_id] = self.unloads.get(entry.entry_id, 0) + 1
        if entry.data.get("unload_raises"):
            raise RuntimeError("unload exploded")


def _raise(mode: str, attempt: int) -> None:
    if mode == "not_ready":
        raise ConfigEntryNotReady(f"device asleep (attempt {attempt})")
    if mode == "error":
        raise ConfigEntryError("bad configuration")
    if mode == "auth":
        raise ConfigEntryAuthFailed("wrong password")
    if mode == "crash":
        raise RuntimeError("kaboom")
    raise AssertionError(f"unknown mode {mode!r}")


@hookimpl
def gatehouse_integration() -> FlakyIntegration:
    return FlakyIntegration()
