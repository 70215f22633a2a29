"""Sealed fields: a call on a sensitive entity is recorded with its values encrypted;
the log still verifies with the public key alone, and admins can read the values back
only where the key is.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

import pytest
from auditools import records
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gatehouse.core import Context, GatehouseError, Host, helpers
from gatehouse.core.testing import add_entry
from gatehouse.integrations.audit import browse
from gatehouse.integrations.audit.verify import verify_path

pytestmark = pytest.mark.anyio

SECRET = "recipe-42-saffron"


class StandInCipher:
    """The documented TagCipher surface (encrypt → envelope, AAD = entity id + seq)."""

    def __init__(self, sensitive: set[str]) -> None:
        self.key = AESGCM.generate_key(bit_length=256)
        self.sensitive = sensitive
        self.seq = 0

    def is_sensitive(self, entity_id: str) -> bool:
        return entity_id in self.sensitive

    def encrypt(self, entity_id: str, plaintext: bytes, *, seq: int | None = None
                ) -> dict[str, Any]:
        self.seq += 1
        seq = self.seq if seq is None else seq
        nonce = os.urandom(12)
        aad = f"{entity_id}\n{seq}".encode()
        ct = AESGCM(self.key).encrypt(nonce, plaintext, aad)
        return {"enc": "aes256gcm", "kid": "k1", "nonce": base64.b64encode(nonce).decode(),
                "ct": base64.b64encode(ct).decode(), "entity_id": entity_id, "seq": seq}

    def decrypt(self, envelope: Mapping[str, Any]) -> bytes:
        if envelope["kid"] != "k1":
            raise GatehouseError(f"key {envelope['kid']} is not in the keyring")
        aad = f"{envelope['entity_id']}\n{envelope['seq']}".encode()
        try:
            return AESGCM(self.key).decrypt(base64.b64decode(envelope["nonce"]),
                                            base64.b64decode(envelope["ct"]), aad)
        except InvalidTag:
            raise GatehouseError("decryption failed: wrong key or altered data") from None


@pytest.fixture
def cipher(monkeypatch: pytest.MonkeyPatch) -> StandInCipher:
    found = StandInCipher({"number.recipe_secret"})
    monkeypatch.setattr(helpers, "tag_cipher", lambda host: found, raising=False)
    return found


async def test_values_of_calls_on_sensitive_entities_are_sealed(
    host: Host, cipher: StandInCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_entry(host, "audit")
    host.services.register("test", "set", lambda call: None)
    alice = Context(user_id="u-alice")
    await host.services.call("test", "set", {"entity_id": "number.recipe_secret",
                                             "value": SECRET}, context=alice)
    await host.services.call("test", "set", {"entity_id": "number.plain",
                                             "value": "visible-not"}, context=alice)
    runtime = host.config_entries.entries("audit")[0].runtime_data
    await runtime.log.flush()
    directory = host.storage_dir / "audit"
    raw = b"".join(p.read_bytes() for p in directory.glob("audit-*.jsonl"))
    assert SECRET.encode() not in raw
    assert b"visible-not" not in raw  # other calls: field names only, as before
    sealed, plain = [r for r in records(directory) if r["action"] == "service.call"]
    envelope = sealed["details"]["values"]
    assert envelope["enc"] == "aes256gcm" and envelope["entity_id"] == "number.recipe_secret"
    assert sealed["details"]["fields"] == ["entity_id", "value"]
    assert "values" not in plain["details"]

    # The chain covers the ciphertext: verify needs only the public key (no cipher).
    await runtime.log.checkpoint()
    monkeypatch.setattr(helpers, "tag_cipher", lambda host: None, raising=False)
    report = verify_path(directory, strict=True)
    assert report.ok, report.problem
    # Without a key the query returns the ciphertext and says why.
    page = await browse.page(host, browse.Filters(action="service.call"), limit=5,
                             before=None, decrypt=True)
    opened = page["records"][1]["details"]["values"]
    assert "not configured" in opened["error"] and opened["sealed"] == envelope

    # A changed ciphertext byte is caught by verify like any other byte.
    path = directory / "audit-000001.jsonl"
    data = path.read_bytes()
    ct = envelope["ct"]
    flipped = ct[:5] + ("A" if ct[5] != "A" else "B") + ct[6:]
    path.write_bytes(data.replace(ct.encode(), flipped.encode()))
    assert not verify_path(directory).ok


async def test_admins_read_the_values_back_with_the_key(host: Host,
                                                        cipher: StandInCipher) -> None:
    await add_entry(host, "audit")
    host.services.register("test", "set", lambda call: None)
    await host.services.call("test", "set", {"entity_id": ["number.recipe_secret"],
                                             "value": SECRET}, context=Context(user_id="u"))
    page = await browse.page(host, browse.Filters(action="service.call"), limit=5,
                             before=None, decrypt=True)
    (rec,) = page["records"]
    assert rec["details"]["values"] == {"decrypted": {"entity_id": ["number.recipe_secret"],
                                                      "value": SECRET}}
    # Without decrypt the envelope is returned as stored.
    page = await browse.page(host, browse.Filters(action="service.call"), limit=5,
                             before=None)
    assert page["records"][0]["details"]["values"]["ct"]
    # A key the keyring lost: a clear error, not garbage.
    cipher.key = AESGCM.generate_key(bit_length=256)
    page = await browse.page(host, browse.Filters(), limit=5, before=None, decrypt=True)
    bad = next(r for r in page["records"] if r["action"] == "service.call")
    assert "decryption failed" in bad["details"]["values"]["error"]


async def test_a_failing_cipher_records_no_plaintext(host: Host, cipher: StandInCipher) -> None:
    def broken(entity_id: str, plaintext: bytes, *, seq: int | None = None) -> dict[str, Any]:
        raise GatehouseError("keyring unreadable")

    cipher.encrypt = broken  # type: ignore[method-assign]
    await add_entry(host, "audit")
    host.services.register("test", "set", lambda call: None)
    await host.services.call("test", "set", {"entity_id": "number.recipe_secret",
                                             "value": SECRET}, context=Context(user_id="u"))
    runtime = host.config_entries.entries("audit")[0].runtime_data
    await runtime.log.flush()
    (rec,) = [r for r in records(host.storage_dir / "audit") if r["action"] == "service.call"]
    assert rec["details"]["values"] == {"seal_error": "GatehouseError",
                                        "entity_id": "number.recipe_secret"}
    assert SECRET not in json.dumps(rec)
