"""Sensitive payloads at rest: encrypted in the outbox file, plaintext for the sender."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from cryptotools import keyring_at

from gatehouse.core import Host
from gatehouse.core.crypto import Keyring, TagCipher, tag_cipher
from gatehouse.core.helpers import DeliveryOutcome, OutboxMessage
from gatehouse.core.outbox import ENCRYPTED_HEADER, Outbox, get_outbox

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = b"RECIPE-SECRET-4711"
PLAIN = b"public-reading-0815"


class Recorder:
    """A sender that acknowledges everything and keeps what it got."""

    def __init__(self) -> None:
        self.got: list[OutboxMessage] = []
        self.arrived = anyio.Event()

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        self.got.extend(batch)
        self.arrived.set()
        return [DeliveryOutcome.ACKED] * len(batch)


class Never:
    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        await anyio.sleep_forever()
        return []


def sensitive_recipe(keyring: Keyring) -> TagCipher:
    return TagCipher(keyring, sensitive=lambda e: e.startswith("sensor.recipe"))


def file_bytes(db: Path) -> bytes:
    """The database and its WAL as they are on disk."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def stored_rows(db: Path, table: str = "messages") -> list[tuple[bytes, str | None]]:
    conn = sqlite3.connect(db)
    try:
        return [(bytes(p), h) for p, h in conn.execute(f"SELECT payload, headers FROM {table}")]
    finally:
        conn.close()


async def test_sensitive_payload_is_encrypted_on_disk_and_plain_for_the_sender(
    tmp_path: Path,
) -> None:
    db = tmp_path / "outbox.db"
    cipher = sensitive_recipe(keyring_at(tmp_path))
    async with Outbox.open(db, cipher=cipher) as outbox:
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", SECRET, headers={"topic": "t/1"}, entity_id="sensor.recipe")
        await outbox.enqueue("d", PLAIN, entity_id="sensor.public")
        await outbox.enqueue("d", PLAIN + b"-no-entity")
    raw = file_bytes(db)
    assert SECRET not in raw
    assert PLAIN in raw  # not sensitive: stored as it is
    rows = stored_rows(db)
    envelope = json.loads(rows[0][0])
    assert (envelope["entity_id"], envelope["enc"]) == ("sensor.recipe", "aes256gcm")
    assert json.loads(rows[0][1] or "{}") == {"topic": "t/1", ENCRYPTED_HEADER: "aes256gcm"}
    assert rows[1] == (PLAIN, None)

    sender = Recorder()
    async with Outbox.open(db, cipher=sensitive_recipe(keyring_at(tmp_path))) as outbox:
        outbox.register_destination("d", sender)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert [m.payload for m in sender.got] == [SECRET, PLAIN, PLAIN + b"-no-entity"]
    assert sender.got[0].headers == {"topic": "t/1"}  # the marker never reaches a sender


async def test_enqueue_nowait_encrypts_too(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    async with Outbox.open(db, cipher=sensitive_recipe(keyring_at(tmp_path))) as outbox:
        outbox.register_destination("d", Never())
        for i in range(50):
            outbox.enqueue_nowait("d", SECRET + b"%d" % i, entity_id="sensor.recipe_x")
    assert SECRET not in file_bytes(db)
    assert len(stored_rows(db)) == 50


async def test_a_lost_key_dead_letters_with_the_kid_and_requeue_after_restore(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "outbox.db"
    keyring = keyring_at(tmp_path)
    async with Outbox.open(db, cipher=sensitive_recipe(keyring)) as outbox:
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", SECRET, entity_id="sensor.recipe")
        await outbox.enqueue("d", PLAIN)
    kid = keyring.load().current
    assert kid is not None
    backup = keyring.path.read_bytes()
    keyring.path.unlink()  # the keyring is lost

    sender = Recorder()
    with caplog.at_level(logging.ERROR):
        async with Outbox.open(db, cipher=TagCipher(keyring)) as outbox:
            outbox.register_destination("d", sender)
            with anyio.fail_after(5):
                await outbox.wait_drained("d")
            dead = await outbox.dead_letters("d")
            assert outbox.stats("d").dead_lettered == 1
    assert [m.payload for m in sender.got] == [PLAIN]  # the rest still flows
    assert len(dead) == 1 and kid in dead[0].reason and "not in the keyring" in dead[0].reason
    assert SECRET not in dead[0].payload  # dead letters stay encrypted
    assert kid in caplog.text and SECRET.decode() not in caplog.text
    assert SECRET not in file_bytes(db)

    keyring.path.write_bytes(backup)  # restored from the backup
    sender = Recorder()
    async with Outbox.open(db, cipher=TagCipher(keyring)) as outbox:
        outbox.register_destination("d", sender)
        assert await outbox.requeue_dead_letters(destination="d") == 1
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert [m.payload for m in sender.got] == [SECRET]


async def test_an_outbox_without_a_cipher_never_hands_out_an_envelope(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    async with Outbox.open(db, cipher=sensitive_recipe(keyring_at(tmp_path))) as outbox:
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", SECRET, entity_id="sensor.recipe")
    sender = Recorder()
    async with Outbox.open(db) as outbox:
        outbox.register_destination("d", sender)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        dead = await outbox.dead_letters("d")
    assert sender.got == []
    assert "no keyring" in dead[0].reason


async def test_the_marker_header_is_reserved(tmp_path: Path) -> None:
    async with Outbox.open(tmp_path / "o.db") as outbox:
        outbox.register_destination("d", Never())
        with pytest.raises(ValueError, match="reserved"):
            await outbox.enqueue("d", b"x", headers={ENCRYPTED_HEADER: "1"})


async def test_a_damaged_keyring_refuses_sensitive_values_never_stores_them_plain(
    tmp_path: Path,
) -> None:
    keyring = keyring_at(tmp_path)
    keyring.path.parent.mkdir(parents=True)
    keyring.path.write_text("{damaged")
    db = tmp_path / "outbox.db"
    async with Outbox.open(db, cipher=sensitive_recipe(keyring)) as outbox:
        outbox.register_destination("d", Never())
        with pytest.raises(Exception, match="keyring"):
            await outbox.enqueue("d", SECRET, entity_id="sensor.recipe")
        await outbox.enqueue("d", PLAIN, entity_id="sensor.public")
    assert SECRET not in file_bytes(db)
    assert [p for p, _ in stored_rows(db)] == [PLAIN]


ENCRYPTION_YAML = """
gatehouse:
  encryption:
    sensitive:
      include:
        entity_globs: ["sensor.recipe_*"]
"""


async def test_the_host_outbox_uses_the_configured_cipher(
    config_dir: Path, write_config: object
) -> None:
    from gatehouse.core.testing import make_host

    (config_dir / "configuration.yaml").write_text(ENCRYPTION_YAML)
    host: Host = make_host(config_dir)
    async with host.running():
        cipher = tag_cipher(host)
        assert cipher is not None and cipher.is_sensitive("sensor.recipe_temp")
        assert not cipher.is_sensitive("sensor.tank_level")
        outbox = await get_outbox(host)
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", SECRET, entity_id="sensor.recipe_temp")
        await outbox.enqueue("d", PLAIN, entity_id="sensor.tank_level")
    db = config_dir / ".storage" / "outbox.db"
    assert SECRET not in file_bytes(db)
    assert PLAIN in file_bytes(db)
    assert (config_dir / ".storage" / "keyring.json").exists()


async def test_rows_from_before_and_after_encryption_was_configured_all_leave(
    tmp_path: Path,
) -> None:
    db = tmp_path / "outbox.db"
    keyring = keyring_at(tmp_path)
    async with Outbox.open(db) as outbox:  # before: no cipher at all
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", b"before", entity_id="sensor.recipe")
    async with Outbox.open(db, cipher=sensitive_recipe(keyring)) as outbox:  # configured
        outbox.register_destination("d", Never())
        await outbox.enqueue("d", SECRET, entity_id="sensor.recipe")
    assert SECRET not in file_bytes(db)
    sender = Recorder()
    # Then unconfigured: the host's decrypt-only cipher still opens the queued rows.
    async with Outbox.open(db, cipher=TagCipher(keyring)) as outbox:
        outbox.register_destination("d", sender)
        await outbox.enqueue("d", b"after", entity_id="sensor.recipe")
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert [m.payload for m in sender.got] == [b"before", SECRET, b"after"]
    assert all(m.headers == {} for m in sender.got)
