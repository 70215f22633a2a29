"""The registry lists' encodings, made once per entry (``registry_json``), and the
compressed states' fast encoder (``jsoncache.added_json``), for the overview with
10,000 entities (issue 14, point 7).

What must hold whatever is cached: a list shows every change at once (rename, new
entity id, disabling, a device renamed, an entry removed), only the entries that
changed are encoded again, a non-admin's list holds only what it may read even when
an admin's list warmed the cache first, the cache does not keep entries the registry
dropped, and the fast state encoder writes exactly the bytes the generic one did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gatehouse.core import Context, Host
from gatehouse.core.http.jsoncache import (
    ENTITY_ADDED,
    JsonCache,
    added_json,
    compressed_state,
)
from gatehouse.core.http.jsonutil import dumpb, dumpb_fast
from gatehouse.core.http.registry_json import (
    PieceCache,
    entity_display,
    entity_display_json,
    entity_stored,
)
from gatehouse.core.http.runtime import RUNTIME_KEY, HttpRuntime
from gatehouse.core.permissions import Policy
from gatehouse.core.states import State
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
WS = ClientWebSocketResponse
TIMEOUT = 5


async def socket(client: ClientSession | Client, token: str) -> WS:
    ws = await client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


class Commands:
    """Commands over one socket, with increasing ids."""

    def __init__(self, ws: WS) -> None:
        self.ws = ws
        self.next_id = 1

    async def __call__(self, kind: str, **fields: Any) -> Any:
        msg_id = self.next_id
        self.next_id += 1
        await self.ws.send_json({"id": msg_id, "type": kind, **fields})
        while True:
            answer = await self.ws.receive_json(timeout=TIMEOUT)
            if answer.get("id") == msg_id and answer["type"] == "result":
                assert answer["success"], answer
                return answer["result"]


async def user_token(runtime: HttpRuntime, name: str, read: list[str]) -> str:
    user = await runtime.auth.create_user(name, "a good password", role="user")
    await runtime.auth.update_user(user.id, by=None, policy=Policy.from_dict({"read": read}))
    _, value = await runtime.auth.create_token(user, "tests")
    return value


def display_ids(result: dict[str, Any]) -> set[str]:
    return {item["ei"] for item in result["entities"]}


# -- what the lists say ------------------------------------------------------------------


async def test_list_for_display_is_the_compact_form_of_enabled_entries(
    owner: Client, token: str, host: Host
) -> None:
    command = Commands(await socket(owner, token))
    registry = host.entity_registry
    entries = registry.entities()
    assert len(entries) >= 2  # the demo's
    result = await command("config/entity_registry/list_for_display")
    assert result["entity_categories"] == {"0": "config", "1": "diagnostic"}
    by_id = {item["ei"]: item for item in result["entities"]}
    assert set(by_id) == {e.entity_id for e in entries}
    for entry in entries:
        item = by_id[entry.entity_id]
        assert item["pl"] == entry.platform and item["lb"] == []
        assert item.get("di") == entry.device_id and item.get("ai") == entry.area_id
        assert item.get("en") == (entry.name or entry.original_name)

    # Disabled entries are left out (as in HA: there is no state to show).
    gone = entries[0].entity_id
    registry.update(gone, disabled_by="user")
    after = await command("config/entity_registry/list_for_display")
    assert display_ids(after) == {e.entity_id for e in entries} - {gone}


async def test_lists_follow_every_change_and_encode_only_what_changed(
    owner: Client, token: str, host: Host, runtime: HttpRuntime, bearer: dict[str, str]
) -> None:
    command = Commands(await socket(owner, token))
    caches = runtime.registry_json
    registry = host.entity_registry
    count = len(registry)
    first = await command("config/entity_registry/list")
    assert len(first) == count == caches.entity_partial.encodings
    await command("config/entity_registry/list_for_display")
    assert caches.entity_display.encodings == count
    assert await command("config/entity_registry/list") == first  # from the cache:
    assert caches.entity_partial.encodings == count  # nothing encoded again

    target = first[0]["entity_id"]
    await command("config/entity_registry/update", entity_id=target, name="Renamed")
    listed = {e["entity_id"]: e for e in await command("config/entity_registry/list")}
    assert listed[target]["name"] == "Renamed"
    assert caches.entity_partial.encodings == count + 1  # that entry alone
    display = await command("config/entity_registry/list_for_display")
    assert {i["ei"]: i for i in display["entities"]}[target]["en"] == "Renamed"
    rest = await owner.get("/api/config/entity_registry", headers=bearer)
    assert {e["entity_id"]: e for e in await rest.json()}[target]["name"] == "Renamed"

    await command("config/entity_registry/update", entity_id=target,
                  new_entity_id=f"{target}_moved")
    ids = {e["entity_id"] for e in await command("config/entity_registry/list")}
    assert f"{target}_moved" in ids and target not in ids
    display_after = await command("config/entity_registry/list_for_display")
    assert f"{target}_moved" in display_ids(display_after)
    assert target not in display_ids(display_after)

    assert registry.remove(f"{target}_moved")
    ids = {e["entity_id"] for e in await command("config/entity_registry/list")}
    assert ids == {e.entity_id for e in registry.entities()} and len(ids) == count - 1
    rest_ids = {e["entity_id"] for e in await (await owner.get(
        "/api/config/entity_registry", headers=bearer)).json()}
    assert rest_ids == ids

    device = host.device_registry.devices()[0]
    before = await command("config/device_registry/list")
    await command("config/device_registry/update", device_id=device.id, name_by_user="Hall")
    devices = {d["id"]: d for d in await command("config/device_registry/list")}
    assert devices[device.id]["name_by_user"] == "Hall"
    assert len(devices) == len(before)
    rest_devices = {d["id"]: d for d in await (await owner.get(
        "/api/config/device_registry", headers=bearer)).json()}
    assert rest_devices[device.id]["name_by_user"] == "Hall"


async def test_a_users_lists_hold_only_what_it_may_read_after_an_admin_warmed_them(
    owner: Client, token: str, host: Host, runtime: HttpRuntime
) -> None:
    admin = Commands(await socket(owner, token))
    everything = {e["entity_id"] for e in await admin("config/entity_registry/list")}
    await admin("config/entity_registry/list_for_display")
    readable = {e for e in everything if e.startswith("sensor.demo_")}
    assert readable and everything - readable  # the test needs both kinds

    uma = Commands(await socket(owner, await user_token(runtime, "uma", ["sensor.demo_*"])))
    listed = {e["entity_id"] for e in await uma("config/entity_registry/list")}
    assert listed == readable
    assert display_ids(await uma("config/entity_registry/list_for_display")) == readable
    # And the cached pieces an admin's list made are still whole for the admin.
    assert {e["entity_id"] for e in await admin("config/entity_registry/list")} == everything


# -- the piece cache itself --------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: str
    value: int


def item_json(item: Item) -> bytes:
    return dumpb({"k": item.key, "v": item.value})


def test_pieces_are_valid_for_the_very_object_and_removed_ones_are_dropped() -> None:
    store = {f"k{n}": Item(f"k{n}", n) for n in range(200)}
    cache: PieceCache[Item] = PieceCache(item_json, store.get)
    assert cache.array(store.items(), len(store)).startswith(b'[{"k":"k0","v":0},')
    assert cache.encodings == 200
    store["k1"] = Item("k1", 1)  # equal, but a new object: the registry replaced it
    store["k2"] = Item("k2", 99)
    text = cache.array(store.items(), len(store))
    assert cache.encodings == 202 and b'{"k":"k2","v":99}' in text
    for n in range(50, 200):
        del store[f"k{n}"]
    text = cache.array(store.items(), len(store))
    assert text.count(b'"k":') == 50
    assert len(cache) == 50  # the 150 removed ones went (more than the slack)
    assert cache.encodings == 202


def test_display_json_is_what_the_encoder_writes() -> None:
    from gatehouse.core.entity_registry import RegistryEntry

    entries = [
        RegistryEntry("sensor.a", "u1", "mqtt"),
        RegistryEntry("sensor.b", "u2", 'p"\\', device_id="d1", area_id="hall",
                      name='Ünïcode \u2028 "quoted"\n', original_name="ignored"),
        RegistryEntry("sensor.c", "u3", "p", original_name="\x00\x1f control"),
    ]
    for entry in entries:
        assert entity_display_json(entry) == dumpb(entity_display(entry))


def test_stored_entries_are_written_as_as_dict_writes_them() -> None:
    from gatehouse.core.entity_registry import RegistryEntry

    full = RegistryEntry("sensor.full", "u", "p", config_entry_id="e", device_id="d",
                         name="N", original_name="O", disabled_by="user", area_id="hall")
    for entry in (full, RegistryEntry("sensor.bare", "u2", "p")):
        assert entity_stored(entry) == entry.as_dict()
        assert dumpb_fast(entity_stored(entry)) == dumpb(entry.as_dict())


def test_the_shared_encoder_writes_what_dumpb_writes_and_refuses_what_it_refuses() -> None:
    values: list[Any] = [
        {"a": [1, 2.5, None, True], "ü": "\u2028\n", 3: (1, 2), "s": {1}},
        MappingProxyType({"proxy": 1}), Mode.ECO, datetime(2024, 1, 1, tzinfo=UTC),
        {"nan": math.nan, "inf": [-math.inf]}, "plain", 1e300,
    ]
    for value in values:
        assert dumpb_fast(value) == dumpb(value)
    assert b'"nan":null' in dumpb_fast(values[4])
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumpb_fast(loop)


# -- compressed states -------------------------------------------------------------------


class Mode(Enum):
    ECO = "eco"


def reference(state: State) -> bytes:
    return dumpb({ENTITY_ADDED: {state.entity_id: compressed_state(state)}})


def test_added_json_writes_the_same_bytes_as_the_generic_encoder() -> None:
    mixed: dict[Any, Any] = {
        "friendly_name": "Ünï \u2028", "float": 1.5, "int": 3, "bool": True, "none": None,
        "list": [1, {"tuple": (1, 2)}], "set": {1}, "enum": Mode.ECO, 5: "int key",
        "when": datetime(2024, 1, 1, tzinfo=UTC),
    }
    states = [
        State("sensor.empty", "1", {}),
        State("sensor.mixed", 'ü\n"', mixed, 10.0, 12.5, Context(user_id="u1")),
        State("sensor.int_times", "x", {"a": 1}, 1, 2),
        State("sensor.parent", "x", {"a": 1}, 1e22, 1e-7, Context(parent_id="p")),
    ]
    for state in states:
        assert added_json(state) == reference(state)


def test_a_nan_goes_through_the_sanitising_encoder() -> None:
    state = State("sensor.nan", "x", {"nan": math.nan, "inf": math.inf})
    assert added_json(state) == reference(state)
    assert b'"nan":null' in added_json(state)


def test_an_unencodable_state_is_sent_with_a_placeholder_in_a_snapshot() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    good = State("sensor.good", "1", {"unit_of_measurement": "W"})
    bad = State("sensor.bad", "1", {"loop": loop})
    snapshot = JsonCache().snapshot([good, bad])
    assert b'"sensor.good":{"s":"1","a":{"unit_of_measurement":"W"}' in snapshot
    assert b'"sensor.bad":{"s":"1","a":{"error":"attributes could not be serialised' in snapshot


# -- the area registry, loaded with the web server ---------------------------------------


async def test_the_area_registry_is_loaded_with_the_server_and_a_bad_file_does_not_stop_it(
    host: Host, app: web.Application, caplog: pytest.LogCaptureFixture
) -> None:
    # Loaded at start (the overview asks for the areas with the states snapshot, where
    # a first load waited behind the snapshot's encoding); a corrupt file is moved aside
    # by the store and the area commands start empty, as on a first use.
    (host.storage_dir / "core.area_registry").write_text("{not json", encoding="utf-8")
    async with TestClient(TestServer(app)) as client:
        assert "The area registry could not be loaded" in caplog.text
        assert (await client.get("/api/health")).status == 200
        assert list(host.storage_dir.glob("core.area_registry.corrupt.*"))
        response = await client.post("/api/onboarding/users", json=OWNER,
                                     headers={"Origin": str(client.make_url("/"))[:-1]})
        assert response.status == 200, await response.text()
        _, token = await app[RUNTIME_KEY].auth.create_token(
            app[RUNTIME_KEY].auth.users()[0], "tests")
        command = Commands(await socket(client, token))
        assert await command("config/area_registry/list") == []
        hall = await command("config/area_registry/create", name="Hall")
        assert hall["area_id"] == "hall"


async def test_a_readable_area_registry_is_there_before_the_first_command(
    host: Host, app: web.Application
) -> None:
    from gatehouse.core.area_registry import _REGISTRY

    async with TestClient(TestServer(app)):
        assert host.data.get(_REGISTRY) is not None
