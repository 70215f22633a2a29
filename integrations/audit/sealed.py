"""Encrypted fields: what a record says about a sensitive entity, sealed with the tag cipher.

A service call that targets an entity configured as sensitive (tag encryption,
``gatehouse: encryption: sensitive:``, ``tag_cipher(host)``) is recorded with its data
*values* too, but only as the cipher's envelope (``details.values``:
``{"enc", "kid", "nonce", "ct", "entity_id", "seq"}``, AES-256-GCM, the AAD binding
the entity id and sequence number). Calls on other entities keep recording field
names only, as before: values may be passwords, and only the sensitive ones have a key.

The envelope is what is stored and hashed: the chain and the checkpoints cover the
ciphertext, so ``gatehouse audit verify`` checks such a log with the public key
alone, and whoever holds the log without the keyring learns the entity and the
field names, not the values. ``reveal`` decrypts for an admin's query when the
keyring is at hand; a lost key shows as an error in that field, not as garbage.

Sealing never records plaintext on failure: a cipher error records only its type.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from gatehouse.core import GatehouseError, Host
from gatehouse.core.helpers import TagCipher, decrypting_cipher, tag_cipher

_LOGGER = logging.getLogger(__name__)

#: The key of the sealed values in a ``service.call`` record's details.
SEALED_KEY: Final = "values"
#: The most bytes of JSON sealed; a larger call records only its size.
MAX_SEALED: Final = 4096


def cipher_of(host: Host) -> TagCipher | None:
    """The host's tag cipher, or None (no entity configured sensitive)."""
    try:
        return tag_cipher(host)
    except (GatehouseError, ValueError) as err:  # a bad encryption block: said elsewhere
        _LOGGER.warning("Audit log: tag encryption unavailable: %s", err)
        return None


def opening_cipher(host: Host) -> TagCipher | None:
    """A cipher that decrypts whatever the keyring still has keys for (also records
    sealed before the sensitive entities changed)."""
    try:
        return decrypting_cipher(host)
    except (GatehouseError, ValueError) as err:
        _LOGGER.warning("Audit log: tag encryption unavailable: %s", err)
        return None


def seal(
    cipher: TagCipher, targets: Sequence[str], data: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The envelope of ``data`` if one of ``targets`` is sensitive, else None.

    Sealed under the first sensitive target (the envelope names it; its AAD binds it).
    """
    sensitive = next((t for t in targets if cipher.is_sensitive(t)), None)
    if sensitive is None:
        return None
    try:
        plain = json.dumps(dict(data), sort_keys=True, default=str).encode()
    except (TypeError, ValueError):
        plain = b'{"unserializable": true}'
    if len(plain) > MAX_SEALED:
        return {"too_large": len(plain), "entity_id": sensitive}
    try:
        envelope = cipher.encrypt(sensitive, plain)
    except Exception as err:  # noqa: BLE001 - never the plaintext instead
        _LOGGER.error("Audit log: sealing the values of a call on %s failed: %s",
                      sensitive, err)
        return {"seal_error": type(err).__name__, "entity_id": sensitive}
    return dict(envelope)


def is_envelope(value: Any) -> bool:
    return isinstance(value, Mapping) and "enc" in value and "ct" in value


def reveal(cipher: TagCipher | None, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its sealed values decrypted (``{"decrypted": ...}``) or the reason
    they cannot be (``{"error": ...}``); records without any are returned as they are."""
    details = record.get("details")
    if not isinstance(details, dict) or not is_envelope(details.get(SEALED_KEY)):
        return record
    envelope = details[SEALED_KEY]
    opened: dict[str, Any]
    if cipher is None:
        opened = {"error": "tag encryption is not configured here (no keyring)",
                  "sealed": envelope}
    else:
        try:
            opened = {"decrypted": json.loads(cipher.decrypt(envelope))}
        except GatehouseError as err:  # KeyMissingError, DecryptError: say which
            opened = {"error": str(err), "sealed": envelope}
        except Exception as err:  # noqa: BLE001 - one bad record must not fail the page
            opened = {"error": f"cannot decrypt: {type(err).__name__}: {err}",
                      "sealed": envelope}
    return {**record, "details": {**details, SEALED_KEY: opened}}
