"""Sensitive values on the nats fleet subjects: envelopes on the wire, decrypted by a
host that holds the keyring, against a real nats-server with JetStream."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import nats
import nats.js.errors
import pytest

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.crypto import tag_cipher
from gatehouse.core.helpers import slugify
from gatehouse.core.testing import NatsServer, add_entry, make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SECRET = "RECIPE-4711"
ENCRYPTED = """
gatehouse:
  encryption:
    publish: true
    sensitive:
      include:
        entity_globs: ["sensor.recipe_*"]
"""


def config_dir(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "configuration.yaml").write_text(text, encoding="utf-8")
    return path


async def add_fleet(host: Host, url: str, me: str) -> None:
    fleet = {"site": "plant", "host": me, "replicas": 1,
             "include": ["sensor.recipe_temp", "sensor.tank"]}
    entry = await add_entry(
        host, "nats",
        {"name": me, "servers": [url], "reconnect_time_wait": 0.1, "fleet": fleet,
         "outbox": {"retry_max": 0.3, "breaker_reset": 0.5}},
        title=me, unique_id=slugify(me),
    )
    assert entry.state is ConfigEntryState.LOADED, (entry.state, entry.reason)


async def stored(url: str, subject: str) -> list[dict[str, Any]]:
    nc = await nats.connect(url, connect_timeout=2)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subject, stream="GATEHOUSE_PLANT", ordered_consumer=True)
        found: list[dict[str, Any]] = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return found
            found.append(json.loads(msg.data))
    finally:
        await nc.close()


async def test_fleet_publishes_envelopes_and_a_keyholder_imports_the_value(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    a_dir = config_dir(tmp_path, "a", ENCRYPTED)
    b_dir = config_dir(tmp_path, "b", "# no encryption of its own\n")
    async with (
        make_host(a_dir).running() as alpha,
        make_host(b_dir).running() as beta,
    ):
        await add_fleet(alpha, nats_server.url, "alpha")
        # beta holds a copy of alpha's keyring (as 'gatehouse keys export' would give it)
        keyring = a_dir / ".storage" / "keyring.json"
        await wait_until(keyring.exists)
        shutil.copy(keyring, b_dir / ".storage" / "keyring.json")
        await add_fleet(beta, nats_server.url, "beta")

        alpha.states.set("sensor.recipe_temp", SECRET, {"unit_of_measurement": "°C"})
        alpha.states.set("sensor.tank", "42")
        await wait_until(lambda: state_of(beta, "sensor.remote_alpha_tank") == "42", 20)
        await wait_until(
            lambda: state_of(beta, "sensor.remote_alpha_recipe_temp") == SECRET, 20)
        imported = beta.states.get("sensor.remote_alpha_recipe_temp")
        assert imported is not None
        assert imported.attributes["unit_of_measurement"] == "°C"

        subject = "gatehouse.plant.alpha.state.sensor."
        # At least once: a redelivered batch may store a message twice.
        secret_docs = await stored(nats_server.url, subject + "recipe_temp")
        secret_doc = secret_docs[-1]
        plain_doc = (await stored(nats_server.url, subject + "tank"))[-1]
        assert all(SECRET not in json.dumps(doc) for doc in secret_docs)
        assert secret_doc["state"]["enc"] == "aes256gcm"
        assert secret_doc["attributes"]["entity_id"] == "sensor.recipe_temp/attributes"
        assert plain_doc["state"] == "42"
    for directory in (a_dir, b_dir):
        raw = b"".join(p.read_bytes() for p in (directory / ".storage").glob("outbox.db*"))
        assert SECRET.encode() not in raw


async def kv_document(url: str, bucket: str, key: str) -> dict[str, Any] | None:
    nc = await nats.connect(url, connect_timeout=2)
    try:
        store = await nc.jetstream().key_value(bucket)
        try:
            entry = await store.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return json.loads(entry.value) if entry.value else None
    finally:
        await nc.close()


async def test_kv_mirror_stores_envelopes_for_sensitive_entities(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    a_dir = config_dir(tmp_path, "a", ENCRYPTED)
    async with make_host(a_dir).running() as host:
        entry = await add_entry(
            host, "nats",
            {"name": "kv", "servers": [nats_server.url], "reconnect_time_wait": 0.1,
             "kv": {"bucket": "plant_states", "include": ["sensor.*"]}},
            title="kv", unique_id="kv",
        )
        assert entry.state is ConfigEntryState.LOADED, (entry.state, entry.reason)
        host.states.set("sensor.recipe_temp", SECRET)
        host.states.set("sensor.tank", "42")

        async def both() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            return (await kv_document(nats_server.url, "plant_states", "sensor.recipe_temp"),
                    await kv_document(nats_server.url, "plant_states", "sensor.tank"))

        with anyio.fail_after(15):
            secret, plain = await both()
            while secret is None or plain is None:
                await anyio.sleep(0.05)  # polling the server, not synchronising
                secret, plain = await both()
        assert plain["state"] == "42"
        assert SECRET not in json.dumps(secret)
        cipher = tag_cipher(host)
        assert cipher is not None
        assert cipher.decrypt(secret["state"]) == SECRET.encode()
