"""Password hashing with scrypt (``cryptography``), salted, verified in constant time.

scrypt is memory-hard, so guessing passwords on a GPU costs what it costs us. The cost
parameters are stored beside each hash: raising them later only affects new hashes,
and old ones keep verifying. Hashing takes tens of milliseconds of CPU, so the async
callers run it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Final

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

#: 2**15 * 8 * 128 bytes = 32 MiB and ~0.1 s per hash on an appliance-class CPU.
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024


def hash_password(password: str, *, n: int = SCRYPT_N) -> dict[str, Any]:
    """A storable record of ``password``: algorithm, parameters, salt and hash."""
    salt = os.urandom(_SALT_BYTES)
    key = Scrypt(salt=salt, length=_KEY_BYTES, n=n, r=SCRYPT_R, p=SCRYPT_P).derive(
        password.encode("utf-8")
    )
    return {
        "algorithm": "scrypt",
        "n": n,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": base64.b64encode(salt).decode("ascii"),
        "hash": base64.b64encode(key).decode("ascii"),
    }


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether ``password`` matches ``record``; constant time in the hash comparison."""
    if record.get("algorithm") != "scrypt":
        return False
    try:
        salt = base64.b64decode(record["salt"])
        expected = base64.b64decode(record["hash"])
        kdf = Scrypt(
            salt=salt, length=len(expected), n=int(record["n"]), r=int(record["r"]),
            p=int(record["p"]),
        )
        kdf.verify(password.encode("utf-8"), expected)
    except (InvalidKey, KeyError, ValueError, TypeError):
        return False
    return True


#: Verified against when the user name is unknown, so that a login for a missing user
#: takes as long as one with a wrong password (no user enumeration by timing).
_DUMMY: dict[str, Any] | None = None


def dummy_record() -> dict[str, Any]:
    global _DUMMY  # noqa: PLW0603 - made once, lazily: hashing at import time costs 0.1 s
    if _DUMMY is None:
        _DUMMY = hash_password(base64.b64encode(os.urandom(18)).decode())
    return _DUMMY
