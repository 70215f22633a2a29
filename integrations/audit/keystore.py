"""The log's Ed25519 signing key: made on first use, kept 0600 beside the log.

The private key is PKCS#8 PEM (``audit_ed25519.key``, mode 0600, written to a
temporary file and renamed so a crash never leaves half a key); the public half is
exported next to it as a C2SP verifier key (``audit_ed25519.pub``), the one file
``gatehouse audit verify`` needs. Copy that file off the box: a verifier key read
from the same directory as the log only proves the log agrees with itself.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from gatehouse.core.helpers import write_private_file

from .const import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE
from .errors import AuditKeyError
from .note import ORIGIN_PREFIX, Verifier, key_id, raw_public


def load_or_create(
    directory: Path, *, log_exists: bool = False
) -> tuple[Ed25519PrivateKey, Verifier]:
    """The signing key of the log in ``directory`` and its verifier (blocking I/O).

    A new key also starts a new log identity: the origin ``gatehouse-audit/<random>``
    is stored as the key's name in the ``.pub`` file, so a checkpoint of one log can
    never pass for another's. ``log_exists``: the directory holds log files, so a
    missing key is an error, not a reason to make a new one.
    """
    key_path, pub_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if key_path.exists():
        try:
            private = load_pem_private_key(key_path.read_bytes(), password=None)
        except ValueError as err:
            raise AuditKeyError(f"{key_path}: not a PEM private key: {err}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise AuditKeyError(f"{key_path}: not an Ed25519 key")
        if key_path.stat().st_mode & 0o077:
            os.chmod(key_path, 0o600)
        try:
            verifier = Verifier.parse(pub_path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as err:
            raise AuditKeyError(f"{pub_path}: cannot read the public key: {err}") from None
        if raw_public(verifier.public) != raw_public(private.public_key()):
            raise AuditKeyError(f"{pub_path}: does not match {key_path}")
        return private, verifier
    if log_exists:
        # A new key would start a new origin in the middle of the old chain: neither
        # key could verify the result. A lost key is the operator's decision to make.
        raise AuditKeyError(
            f"{key_path} is missing but the log in {directory} exists: restore the key, "
            "or move the old log away (verify it first with its public key)"
        )
    private = Ed25519PrivateKey.generate()
    name = f"{ORIGIN_PREFIX}{secrets.token_hex(8)}"
    public = raw_public(private.public_key())
    verifier = Verifier(name, key_id(name, public), private.public_key())
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # The public half first: a crash between the two leaves no private key without it.
    pub_path.write_text(verifier.text() + "\n", encoding="ascii")
    write_private_file(key_path, pem)
    return private, verifier
