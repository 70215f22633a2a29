"""``TagCipher``: encrypts the values of sensitive entities, decrypts any envelope.

One object per host (``tag_cipher(host)``), shared by the outbox (payloads at rest),
the exporters (published payloads) and the audit log (sensitive fields). It holds the
keyring's keys in memory, encrypts with the current key, decrypts with whichever key
an envelope names, and notices a ``gatehouse keys rotate`` run by another process
within ``reload_interval`` seconds (a ``stat`` of the keyring, not a read, per check).

Thread-safe: the outbox decrypts in its worker thread while the event loop encrypts.
Blocking only when it must touch the keyring: the first encryption with a key (the
epoch is written before use, see ``nonces.py``), a rotation, and a decryption naming
a key it has not loaded yet; ``prepare()`` does the first of these up front, from a
worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .envelope import check_seq, loads, open_parsed, parse, seal, seal_json
from .errors import KeyMissingError
from .keyring import EpochsExhausted, Keyring, KeySet
from .nonces import COUNTER_LIMIT, NonceSequence

_LOGGER = logging.getLogger(__name__)

RELOAD_INTERVAL: Final = 2.0
"""Seconds between checks whether another process rotated the keyring."""


@dataclass(frozen=True, slots=True)
class _Current:
    kid: str
    aead: AESGCM
    nonces: NonceSequence


class TagCipher:
    """AES-256-GCM for the values of sensitive entities (see the module docstring).

    ``sensitive`` decides which entity ids are sensitive (None: none, a decrypt-only
    cipher, e.g. for the outbox when nothing is configured any more but old rows are
    still encrypted); ``publish`` says whether exporters publish envelopes instead of
    values. ``counter_limit`` is lowered by tests only.
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        sensitive: Callable[[str], bool] | None = None,
        publish: bool = False,
        reload_interval: float = RELOAD_INTERVAL,
        counter_limit: int = COUNTER_LIMIT,
    ) -> None:
        self.keyring = keyring
        self._sensitive = sensitive
        self.publish = publish
        self._reload_interval = reload_interval
        self._counter_limit = counter_limit
        self._lock = threading.RLock()
        self._keys: KeySet | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._aeads: dict[str, AESGCM] = {}
        self._current: _Current | None = None
        self._next_check = 0.0
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    def __repr__(self) -> str:
        current = self._current.kid if self._current is not None else None
        return f"TagCipher({self.keyring!r}, current={current!r}, publish={self.publish})"

    # -- which values ------------------------------------------------------------------

    def is_sensitive(self, entity_id: str) -> bool:
        """Whether ``entity_id``'s values are encrypted at rest (and, with ``publish``,
        on the wire)."""
        return self._sensitive is not None and self._sensitive(entity_id)

    @property
    def encrypts(self) -> bool:
        """True when some entity is sensitive (a decrypt-only cipher says False)."""
        return self._sensitive is not None

    @property
    def current_kid(self) -> str | None:
        """The key new data is encrypted with (None until the first encryption)."""
        current = self._current
        return current.kid if current is not None else None

    # -- keys ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Load the keys and, for a cipher that encrypts, take the current key's epoch
        now rather than at the first value (blocking: call from a worker thread)."""
        if self.encrypts:
            self._current_key().nonces.start()
        else:
            with self._lock:
                self._reload(self.keyring.stamp())

    def _reload(self, stamp: tuple[int, int, int] | None) -> KeySet:
        keys = self.keyring.load()
        gone = [kid for kid in self._aeads if kid not in keys.secrets]
        if gone:
            # The file is the truth (deleting a key is how data is shredded): what was
            # encrypted with these keys cannot be decrypted any more, say so once.
            _LOGGER.warning("Keyring %s no longer holds key(s) %s: data encrypted with "
                            "them cannot be decrypted", self.keyring.path, ", ".join(gone))
        self._keys, self._stamp = keys, stamp
        self._aeads = {kid: self._aeads.get(kid) or AESGCM(secret)
                       for kid, secret in keys.secrets.items()}
        return keys

    def _current_key(self) -> _Current:
        current = self._current
        now = time.monotonic()
        if current is not None and now < self._next_check:
            return current
        with self._lock:
            current = self._current
            if current is not None and now < self._next_check:
                return current
            self._next_check = now + self._reload_interval
            stamp = self.keyring.stamp()
            if current is None or stamp != self._stamp:
                keys = self._reload(stamp)
                if keys.current is None:
                    keys = self.keyring.ensure_current()
                    _LOGGER.info("Keyring %s: created key %s for tag encryption",
                                 self.keyring.path, keys.current)
                    self._reload(self.keyring.stamp())
                assert keys.current is not None
                if current is None or current.kid != keys.current:
                    kid = keys.current
                    if current is not None:
                        _LOGGER.info("Tag encryption now uses key %s (was %s)", kid, current.kid)
                    current = _Current(
                        kid, self._aeads[kid],
                        NonceSequence(lambda: self.keyring.reserve_epoch(kid),
                                      limit=self._counter_limit),
                    )
                    self._current = current
            assert current is not None
            return current

    def _rotate_exhausted(self, kid: str) -> None:
        with self._lock:
            new = self.keyring.retire_and_rotate(kid)
            _LOGGER.warning("Key %s has used all its nonce epochs; tag encryption "
                            "rotated to key %s", kid, new)
            self._next_check = 0.0
            self._stamp = None

    def _aead_for(self, kid: str, entity_id: str) -> AESGCM:
        aead = self._aeads.get(kid)
        if aead is not None:
            return aead
        with self._lock:
            stamp = self.keyring.stamp()
            if self._keys is None or stamp != self._stamp:
                self._reload(stamp)
            aead = self._aeads.get(kid)
        if aead is None:
            raise KeyMissingError(kid, self.keyring.path, entity_id)
        return aead

    # -- values --------------------------------------------------------------------------

    def _next_seq(self) -> int:
        """Microseconds of wall-clock time, strictly increasing in this process."""
        with self._seq_lock:
            seq = max(time.time_ns() // 1000, self._last_seq + 1)
            self._last_seq = seq
            return seq

    def _take_nonce(self) -> tuple[_Current, bytes]:
        """The current key and a fresh nonce for it; a key out of epochs is rotated."""
        for _ in range(2):
            current = self._current_key()
            try:
                return current, current.nonces.next()
            except EpochsExhausted:
                self._rotate_exhausted(current.kid)
        raise RuntimeError("tag encryption could not rotate away from an exhausted key")

    def encrypt(self, entity_id: str, plaintext: bytes, *, seq: int | None = None
                ) -> dict[str, Any]:
        """The envelope of ``plaintext`` (see ``envelope.py``) under the current key.

        ``seq`` is bound into the tag with ``entity_id``; by default a wall-clock
        microsecond count, strictly increasing in this process, so a consumer can
        also tell order and replays.
        """
        seq = self._next_seq() if seq is None else check_seq(seq)
        current, nonce = self._take_nonce()
        return seal(current.aead, current.kid, nonce, entity_id, seq, bytes(plaintext))

    def decrypt(self, envelope: Mapping[str, Any]) -> bytes:
        """The plaintext of ``envelope``; ``KeyMissingError`` when its key is not in the
        keyring, ``DecryptError`` when it is malformed or does not authenticate."""
        parsed = parse(envelope)
        return open_parsed(self._aead_for(parsed.kid, parsed.entity_id), parsed)

    def seal(self, entity_id: str, plaintext: bytes, *, seq: int | None = None) -> bytes:
        """``encrypt`` as compact JSON bytes (a payload at rest or on the wire)."""
        seq = self._next_seq() if seq is None else check_seq(seq)
        current, nonce = self._take_nonce()
        return seal_json(current.aead, current.kid, nonce, entity_id, seq, bytes(plaintext))

    def open(self, data: bytes | str) -> bytes:
        """``decrypt`` of a JSON envelope."""
        return self.decrypt(loads(data))
