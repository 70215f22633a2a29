"""``RawJson``: a WebSocket answer that a plugin has already encoded.

WHY: the core encodes a plugin command's result (and each event of a subscription)
with ``json.dumps`` on the event loop. For a large answer (the recorder's day of
history at 1 Hz is ~13 MB of JSON, ~140 ms to encode) that is a stall every client
waits through, and any user may cause it. A plugin that encodes in a worker thread
hands the bytes over wrapped in ``RawJson``: the core splices them into the message
frame as they are (``{"id":N,"type":"result","success":true,"result":<bytes>}``, or
``{"id":N,"type":"event","event":<bytes>}``) without decoding or re-encoding them.
They count towards the socket's byte bound (``ws_max_pending_bytes``) like any
message, and go into a ``coalesce_messages`` array frame like any message.

The value may be given in parts (a list of byte strings, joined in order): a plugin
that encodes page by page then never holds the interpreter lock in one large copy,
and a large value (``OFF_LOOP_BYTES`` or more) is joined with its frame once, by the
socket's writer in a worker thread when its turn comes (in order with the other
messages), and sent in a frame of its own even with ``coalesce_messages``.

No import of aiohttp here: plugins import it from ``gatehouse.core.http`` in any
installation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

#: A message at least this large (a result or event in parts) is joined with its
#: frame in a worker thread, and never copied into a coalesced array (a copy of 13 MB
#: held the loop ~6 ms; the thread hop costs ~0.1 ms).
OFF_LOOP_BYTES: Final = 256 * 1024


class RawJson:
    """One JSON value already encoded as UTF-8 bytes (or in parts, joined in order),
    sent as it is.

    Return it from a ``WsCommand`` handler (the answer's ``result``) or pass it to a
    subscription's ``send`` (the ``event``). The core does not check it (parsing it
    on the loop would cost what it saves): it must be exactly one valid JSON value,
    UTF-8, without NaN or Infinity, or the client's parser fails on the whole frame.
    """

    __slots__ = ("parts", "size")

    def __init__(self, data: bytes | Iterable[bytes]) -> None:
        parts = (data,) if isinstance(data, bytes) else tuple(data)
        if not all(type(part) is bytes for part in parts):
            raise TypeError("RawJson needs the encoded value as bytes (or parts of bytes)")
        size = sum(len(part) for part in parts)
        if not size:
            raise TypeError("RawJson needs a non-empty value")
        #: The value's bytes, in order.
        self.parts: tuple[bytes, ...] = parts
        #: Its length in bytes.
        self.size = size

    @property
    def data(self) -> bytes:
        """The value as one byte string."""
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)

    def __repr__(self) -> str:
        return f"RawJson({self.size} bytes in {len(self.parts)} parts)"
