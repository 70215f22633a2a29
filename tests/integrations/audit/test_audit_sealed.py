"""Sealed fields: a call on a sensitive entity is recorded with its values encrypted by
the host's real tag cipher (core/crypto, keyring on disk); the log still verifies with
the public key alone, and admins can read the values back only where the key is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from auditools import records

from gatehouse.core import Context, GatehouseError, Host
from gatehouse.core.helpers import TagCipher, configure_encryption
from gatehouse.core.testing import add_entry
from gatehouse.integrations.audit import browse
from gatehouse.integrations.audit.verify import verify_path

pytestmark = pytest.mark.anyio

SECRET = "recipe-42-saffron"


SENSITIVE = {"sensitive": {"include": {"entities": ["number.recipe_secret"]}}}


@pytest.fixture
def cipher(host: Host) -> TagCipher:
    """The host's real tag cipher (core/crypto), with one sensitive entity."""
    found = configure_encryption(host, SENSITIVE)
    assert found is not None
    return found


async def test_values_of_calls_on_sensitive_entities_are_sealed(
    host: Host, cipher: TagCipher
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

    # The chain covers the ciphertext: verify needs only the public key. The keyring
    # is moved away first, so nothing could have used it.
    await runtime.log.checkpoint()
    keyring = host.storage_dir / "keyring.json"
    keyring.rename(host.storage_dir.parent / "keyring.elsewhere")
    report = verify_path(directory, strict=True)
    assert report.ok, report.problem
    # Without the key the query returns the ciphertext and says why (not garbage).
    configure_encryption(host, SENSITIVE)  # a fresh cipher: it must read the keyring
    page = await browse.page(host, browse.Filters(action="service.call"), limit=5,
                             before=None, decrypt=True)
    opened = page["records"][1]["details"]["values"]
    assert envelope["kid"] in opened["error"] and opened["sealed"] == envelope

    # A changed ciphertext byte is caught by verify like any other byte.
    path = directory / "audit-000001.jsonl"
    data = path.read_bytes()
    ct = envelope["ct"]
    flipped = ct[:5] + ("A" if ct[5] != "A" else "B") + ct[6:]
    path.write_bytes(data.replace(ct.encode(), flipped.encode()))
    assert not verify_path(directory).ok


async def test_admins_read_the_values_back_with_the_key(host: Host,
                                                        cipher: TagCipher) -> None:
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
    # Sealed before the entity stopped being sensitive: still opened with the keyring.
    configure_encryption(host, None)
    page = await browse.page(host, browse.Filters(action="service.call"), limit=5,
                             before=None, decrypt=True)
    assert page["records"][0]["details"]["values"]["decrypted"]["value"] == SECRET


async def test_a_failing_cipher_records_no_plaintext(
    host: Host, cipher: TagCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entity_id: str, plaintext: bytes, *, seq: int | None = None) -> dict[str, Any]:
        raise GatehouseError("keyring unreadable")

    monkeypatch.setattr(cipher, "encrypt", broken)
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
