"""96-bit AES-GCM nonces that never repeat under one key, across restarts too.

A repeated (key, nonce) pair breaks GCM outright (it leaks the XOR of two plaintexts and
lets an attacker forge tags), so uniqueness is built, not hoped for. The construction is
NIST SP 800-38D's deterministic one (section 8.2.1):

    nonce = epoch (32 bits, big-endian) || counter (64 bits, big-endian)

* ``epoch`` is the key's *fixed field*: each process that encrypts with a key first
  takes the key's next epoch from the keyring **and writes it to disk (fsynced) before
  the first encryption** (``Keyring.reserve_epoch``). A crash after that write wastes
  an epoch, never reuses one; a restart, or a second process, gets a higher one.
* ``counter`` is the *invocation field*: 0, 1, 2... in memory, under a lock (threads
  may encrypt too).

Limits, and how they are enforced rather than documented only:

* 2**64 encryptions per epoch: unreachable in practice, but the counter is checked;
  at the end a new epoch is taken (one more keyring write).
* 2**32 - 1 epochs per key (a restart or rotation check takes one): when a key's
  epochs are used up the keyring refuses to hand out another (``EpochsExhausted``) and
  ``TagCipher`` rotates to a fresh key by itself before encrypting again.

Why not random 96-bit nonces: their birthday bound caps a key at about 2**32 messages
(NIST's limit for random IVs), which a plant streaming a few thousand values a second
reaches in weeks, and the cap would need a persisted message count, which is the same
disk write as an epoch, taken far more often.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

NONCE_BYTES: Final = 12
COUNTER_LIMIT: Final = 2**64


class NonceSequence:
    """Nonces for one key: an epoch taken through ``reserve`` and an in-memory counter.

    ``reserve()`` must return an epoch that is already on disk; it is called once at
    the first ``next()`` and again whenever ``limit`` counters of an epoch are used
    (``limit`` is lower only in tests).
    """

    __slots__ = ("_counter", "_epoch", "_limit", "_lock", "_reserve", "epochs_taken")

    def __init__(self, reserve: Callable[[], int], *, limit: int = COUNTER_LIMIT) -> None:
        if not 1 <= limit <= COUNTER_LIMIT:
            raise ValueError(f"limit must be from 1 to 2**64, not {limit}")
        self._reserve = reserve
        self._limit = limit
        self._lock = threading.Lock()
        self._epoch: int | None = None
        self._counter = 0
        self.epochs_taken = 0

    @property
    def epoch(self) -> int | None:
        """The epoch in use (None before the first nonce)."""
        return self._epoch

    def start(self) -> None:
        """Take the first epoch now (a worker thread can pay for the write up front)."""
        with self._lock:
            if self._epoch is None:
                self._epoch = self._reserve()
                self._counter = 0
                self.epochs_taken += 1

    def next(self) -> bytes:
        """The next nonce; never the same twice for this key (see the module docstring)."""
        with self._lock:
            if self._epoch is None or self._counter >= self._limit:
                self._epoch = self._reserve()
                self._counter = 0
                self.epochs_taken += 1
            counter = self._counter
            self._counter = counter + 1
            return self._epoch.to_bytes(4, "big") + counter.to_bytes(8, "big")
