"""The errors of tag encryption: each names the key id (never key material).

A lost or wrong key must be a clear error, never garbage: AES-GCM authenticates, so a
wrong key, a tampered ciphertext or an envelope moved to another entity or sequence
number all fail the tag check, and the error says which key and which envelope.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import GatehouseError


class CryptoError(GatehouseError):
    """Base of the errors tag encryption raises on purpose."""


class KeyringError(CryptoError):
    """The keyring file cannot be read or written (damaged, newer format, no access)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"keyring {path}: {reason}")
        self.path = path
        self.reason = reason


class KeyMissingError(CryptoError):
    """An envelope names a key id the keyring does not hold (lost, or another keyring)."""

    def __init__(self, kid: str, path: Path | None, entity_id: str | None = None) -> None:
        where = f"the keyring {path}" if path is not None else "the keyring"
        subject = f" (value of {entity_id})" if entity_id else ""
        super().__init__(
            f"key {kid!r} is not in {where}{subject}: the key was lost or this is not "
            "the keyring that encrypted the data; restore keyring.json from a backup "
            "('gatehouse keys list' shows the keys present)"
        )
        self.kid = kid
        self.path = path
        self.entity_id = entity_id


class DecryptError(CryptoError):
    """An envelope is malformed, or its authentication tag does not verify."""

    def __init__(self, reason: str, *, kid: str | None = None, entity_id: str | None = None,
                 seq: int | None = None) -> None:
        parts = [f"key {kid!r}" if kid is not None else None,
                 f"entity {entity_id}" if entity_id is not None else None,
                 f"seq {seq}" if seq is not None else None]
        about = ", ".join(p for p in parts if p)
        super().__init__(f"cannot decrypt envelope ({about}): {reason}" if about
                         else f"cannot decrypt envelope: {reason}")
        self.reason = reason
        self.kid = kid
        self.entity_id = entity_id
        self.seq = seq
