"""Passphrase encryption of a backup file: scrypt for the key, AES-256-GCM in chunks.

One GCM message per 1 MiB chunk (the STREAM construction): memory stays bounded for a
recorder database of gigabytes, and every chunk is authenticated with its index and a
last-chunk flag in the nonce, so chunks cannot be reordered, dropped or the file cut
short without the restore noticing.

File layout: ``MAGIC`` (8 bytes), a JSON header line (kdf parameters, salt, nonce
prefix, chunk size; bound as associated data of every chunk), then the chunks, each
``len(ciphertext)`` as 4 bytes big-endian followed by the ciphertext.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path
from typing import IO, Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import BackupError, BadPassphraseError

MAGIC: Final = b"GHBKENC1"
CHUNK: Final = 1 << 20
#: scrypt cost: 2**15 x 8 x 128 bytes = 32 MiB of memory and ~0.1 s per guess here.
SCRYPT_N: Final = 1 << 15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_LEN = struct.Struct(">I")


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise BackupError("the passphrase is empty")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(len(MAGIC)) == MAGIC


def encrypt_file(source: Path, target: IO[bytes], passphrase: str) -> None:
    salt, prefix = os.urandom(16), os.urandom(7)
    header = json.dumps({
        "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode(), "cipher": "aes-256-gcm",
        "nonce_prefix": base64.b64encode(prefix).decode(), "chunk": CHUNK,
    }).encode() + b"\n"
    aead = AESGCM(_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
    target.write(MAGIC + header)
    with source.open("rb") as stream:
        index = 0
        chunk = stream.read(CHUNK)
        while True:
            following = stream.read(CHUNK)
            sealed = aead.encrypt(_nonce(prefix, index, not following), chunk, header)
            target.write(_LEN.pack(len(sealed)) + sealed)
            if not following:
                return
            chunk, index = following, index + 1


def decrypt_file(source: Path, target: IO[bytes], passphrase: str) -> None:
    """Decrypt into ``target``; ``BadPassphraseError`` if the key or any chunk is wrong."""
    with source.open("rb") as stream:
        if stream.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{source} is not an encrypted Gatehouse backup")
        header = stream.readline(4096)
        try:
            params: dict[str, Any] = json.loads(header)
            salt = base64.b64decode(params["salt"])
            prefix = base64.b64decode(params["nonce_prefix"])
            key = _key(passphrase, salt, int(params["n"]), int(params["r"]), int(params["p"]))
            limit = int(params["chunk"]) + 16
        except (ValueError, KeyError, TypeError) as err:
            raise BackupError(f"{source}: damaged encryption header ({err})") from None
        aead = AESGCM(key)
        index = 0
        while True:
            size_bytes = stream.read(_LEN.size)
            if len(size_bytes) < _LEN.size:
                raise BackupError(f"{source} is truncated (no last chunk)")
            (size,) = _LEN.unpack(size_bytes)
            sealed = stream.read(size) if size <= limit else b""
            if len(sealed) != size or size == 0:
                raise BackupError(f"{source} is damaged at chunk {index}")
            last = stream.peek(1)[:1] == b""
            try:
                plain = aead.decrypt(_nonce(prefix, index, last), sealed, header)
            except InvalidTag:
                if index == 0:
                    raise BadPassphraseError("wrong passphrase (or a damaged backup)") from None
                raise BackupError(f"{source} is damaged or was altered at chunk {index}") from None
            target.write(plain)
            if last:
                return
            index += 1
