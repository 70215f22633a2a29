"""Sensitive values on the nats fleet subjects: envelopes on the wire, decrypted by a
host that holds the keyring, against a real nats-server with JetStream."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nats
import pytest

from gatehouse.core import ConfigEntryState, Host
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
