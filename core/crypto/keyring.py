"""The keyring: AES-256 keys in ``<config>/.storage/keyring.json`` (mode 0600).

One file, so a backup of the config directory carries every key, and a versioned JSON
format, so a later Gatehouse can migrate it::

    {"format": "gatehouse-keyring", "version": 1, "current": "20261204-9f3a1c2b",
     "keys": {"20261204-9f3a1c2b": {"key": "<base64, 32 bytes>",
                                    "created": "2026-12-04T14:20:00Z", "epoch": 3}}}

* ``current`` encrypts new data; every other key still decrypts what it encrypted
  (``rotate`` adds a key and makes it current, it never deletes one). A keyring
  exported for a consumer has ``current: null``: it can decrypt, not encrypt.
* ``epoch`` is the nonce prefix of the key (see ``nonces.py``): bumped and written
  *before* a process encrypts with the key, so two processes, or one before and
  after a restart, never use the same nonce prefix.
* Key ids are a date and 32 random bits: they say when a key was made, and unlike a
  hash of the key they reveal nothing about it.

Every read-modify-write (create, rotate, epoch) holds an ``flock`` on
``keyring.json.lock`` and re-reads the file under it, so the host taking an epoch and
``gatehouse keys rotate`` in another shell cannot lose each other's update; the write
itself is ``write_private_file`` (atomic replace, 0600 from creation, fsynced). Blocking
file I/O: call it from a worker thread in async code.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..storage import FILE_MODE, make_private_dir, make_private_file, write_private_file
from .errors import KeyMissingError, KeyringError

KEYRING_FILE: Final = "keyring.json"
FORMAT: Final = "gatehouse-keyring"
VERSION: Final = 1
KEY_BYTES: Final = 32  # AES-256
EPOCH_MAX: Final = 2**32 - 1
"""The epoch is the 32-bit nonce prefix; a key whose epochs are used up is retired."""


def keyring_path(config_dir: Path) -> Path:
    """Where a config directory keeps its keyring."""
    return config_dir / ".storage" / KEYRING_FILE


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never the key itself."""

    kid: str
    created: str
    epoch: int
    current: bool


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keyring as read from disk at one moment (``secrets`` is never printed)."""

    current: str | None
    secrets: Mapping[str, bytes] = field(repr=False)
    created: Mapping[str, str]
    epochs: Mapping[str, int]

    def infos(self) -> list[KeyInfo]:
        return [
            KeyInfo(kid, self.created[kid], self.epochs[kid], kid == self.current)
            for kid in self.secrets
        ]


_EMPTY: Final = KeySet(None, {}, {}, {})


def new_kid(existing: Iterable[str] = ()) -> str:
    """A fresh key id: the UTC date and 32 random bits (unique in ``existing``)."""
    taken = set(existing)
    while True:
        kid = f"{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(4)}"
        if kid not in taken:
            return kid


class Keyring:
    """The keyring file at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Keyring({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    def stamp(self) -> tuple[int, int, int] | None:
        """The file's identity and change time, to notice a rotation by another process."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- reading ------------------------------------------------------------------------

    def load(self) -> KeySet:
        """The keys on disk; an empty set when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _EMPTY
        except OSError as err:
            raise KeyringError(self.path, f"cannot read: {err.strerror or err}") from err
        make_private_file(self.path)  # an older copy restored with loose permissions
        return self._parse(raw)

    def _parse(self, raw: bytes) -> KeySet:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise KeyringError(self.path, f"not valid JSON ({err}); the file is left as "
                               "it is: restore it from a backup") from err
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyringError(self.path, f"not a keyring (expected format {FORMAT!r})")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise KeyringError(self.path, "field 'version': expected a positive integer")
        if version > VERSION:
            raise KeyringError(self.path, f"version {version} is newer than this Gatehouse "
                               f"understands ({VERSION})")
        keys = doc.get("keys")
        if not isinstance(keys, dict):
            raise KeyringError(self.path, "field 'keys': expected an object")
        found: dict[str, bytes] = {}
        created: dict[str, str] = {}
        epochs: dict[str, int] = {}
        for kid, entry in keys.items():
            where = f"keys.{kid}"
            if not isinstance(entry, dict):
                raise KeyringError(self.path, f"field {where!r}: expected an object")
            try:
                secret = base64.b64decode(str(entry.get("key", "")), validate=True)
            except (binascii.Error, ValueError) as err:
                raise KeyringError(self.path, f"field '{where}.key': not base64") from err
            if len(secret) != KEY_BYTES:
                raise KeyringError(self.path, f"field '{where}.key': expected {KEY_BYTES} "
                                   f"bytes, got {len(secret)}")
            epoch = entry.get("epoch", 0)
            if not isinstance(epoch, int) or isinstance(epoch, bool) or not (
                0 <= epoch <= EPOCH_MAX
            ):
                raise KeyringError(self.path, f"field '{where}.epoch': expected an integer "
                                   f"from 0 to {EPOCH_MAX}")
            found[kid] = secret
            created[kid] = str(entry.get("created", ""))
            epochs[kid] = epoch
        current = doc.get("current")
        if current is not None and current not in found:
            raise KeyringError(self.path, f"field 'current': key {current!r} is not in 'keys'")
        return KeySet(current, found, created, epochs)

    def secret(self, kid: str) -> bytes:
        """The key ``kid``, read now; ``KeyMissingError`` names it when it is not there."""
        keys = self.load()
        try:
            return keys.secrets[kid]
        except KeyError:
            raise KeyMissingError(kid, self.path) from None

    # -- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not self.path.parent.exists():
            # Made 0700; an existing folder is left as it is: with --keyring it may be
            # any folder (never chmod /tmp). The host tightens its own .storage/.
            make_private_dir(self.path.parent)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, keys: KeySet) -> None:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "current": keys.current,
            "keys": {
                kid: {
                    "key": base64.b64encode(secret).decode("ascii"),
                    "created": keys.created[kid],
                    "epoch": keys.epochs[kid],
                }
                for kid, secret in keys.secrets.items()
            },
        }
        write_private_file(self.path, (json.dumps(doc, indent=2) + "\n").encode())

    @staticmethod
    def _with_new_key(keys: KeySet) -> tuple[KeySet, str]:
        kid = new_kid(keys.secrets)
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            KeySet(
                kid,
                {**keys.secrets, kid: secrets.token_bytes(KEY_BYTES)},
                {**keys.created, kid: now},
                {**keys.epochs, kid: 0},
            ),
            kid,
        )

    def ensure_current(self) -> KeySet:
        """The keys, with a first key made (and written) if there is no current one.

        A keyring exported for a consumer (``current: null``) gets a new key too: a
        process that wants to encrypt must never reuse another's nonce space.
        """
        with self._locked():
            keys = self.load()
            if keys.current is not None:
                return keys
            keys, _ = self._with_new_key(keys)
            self._write(keys)
            return keys

    def rotate(self) -> str:
        """Add a new key and make it current; returns its id. Old keys stay (they decrypt)."""
        with self._locked():
            keys, kid = self._with_new_key(self.load())
            self._write(keys)
            return kid

    def reserve_epoch(self, kid: str) -> int:
        """Take the next epoch of ``kid`` and write it down before returning it.

        Raises ``KeyMissingError`` for an unknown key and ``EpochsExhausted`` when the
        key has used all 2**32 - 1 of them (the caller rotates).
        """
        with self._locked():
            keys = self.load()
            if kid not in keys.secrets:
                raise KeyMissingError(kid, self.path)
            epoch = keys.epochs[kid] + 1
            if epoch > EPOCH_MAX:
                raise EpochsExhausted(self.path, f"key {kid!r} has used all its nonce epochs")
            self._write(KeySet(keys.current, keys.secrets, keys.created,
                               {**keys.epochs, kid: epoch}))
            return epoch

    def retire_and_rotate(self, kid: str) -> str:
        """Make a new key current unless another process already replaced ``kid``."""
        with self._locked():
            keys = self.load()
            if keys.current is not None and keys.current != kid:
                return keys.current
            keys, new = self._with_new_key(keys)
            self._write(keys)
            return new

    def export(self, target: Path, kids: Iterable[str] | None = None) -> list[str]:
        """Write a decrypt-only keyring (``current: null``) with ``kids`` (all: None)."""
        keys = self.load()
        wanted = list(keys.secrets) if kids is None else list(kids)
        for kid in wanted:
            if kid not in keys.secrets:
                raise KeyMissingError(kid, self.path)
        subset = KeySet(
            None,
            {k: keys.secrets[k] for k in wanted},
            {k: keys.created[k] for k in wanted},
            {k: keys.epochs[k] for k in wanted},
        )
        Keyring(target)._write(subset)
        return wanted


class EpochsExhausted(KeyringError):
    """A key has used every nonce epoch: it must not encrypt again (rotate)."""
