"""The host's one outbox: opened on first use, closed after every entry has unloaded.

One SQLite database (``.storage/outbox.db``) serves every destination of every
integration, so group commit batches enqueues across integrations too. Integrations get
it with ``await get_outbox(host)`` and register their destination per config entry
(``entry.on_unload(outbox.register_destination(...))``); queued messages stay on disk
across unloads and restarts and are delivered when the destination is registered again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from ..crypto import CryptoError, decrypting_cipher
from ..keys import HostKey
from ..storage import make_private_dir
from .outbox import Outbox

if TYPE_CHECKING:
    from ..host import Host

_LOGGER = logging.getLogger(__name__)

OUTBOX: HostKey[Outbox] = HostKey("core.outbox")
_OPEN_LOCK: HostKey[anyio.Lock] = HostKey("core.outbox.lock")

OUTBOX_FILE = "outbox.db"


async def get_outbox(host: Host) -> Outbox:
    """The host's outbox, started in the host's task group on first call."""
    existing = host.data.get(OUTBOX)
    if existing is not None:
        return existing
    lock = host.data.setdefault(_OPEN_LOCK, anyio.Lock())
    async with lock:
        existing = host.data.get(OUTBOX)
        if existing is not None:
            return existing
        await anyio.to_thread.run_sync(make_private_dir, host.storage_dir)
        # Always a cipher that decrypts: rows encrypted before the configuration
        # changed must still leave; it encrypts only what tag_cipher(host) calls sensitive.
        cipher = decrypting_cipher(host)
        try:
            await anyio.to_thread.run_sync(cipher.prepare)
        except CryptoError as err:
            # Sensitive values are then refused at enqueue (never stored in clear);
            # everything else flows.
            _LOGGER.error("Tag encryption unavailable for the outbox: %s", err)
        outbox = Outbox(host.storage_dir / OUTBOX_FILE, cipher=cipher)
        await outbox.start(host.task_group)
        host.data[OUTBOX] = outbox

        async def close() -> None:
            await outbox.close()
            host.data.pop(OUTBOX)

        host.on_shutdown(close)
        return outbox
