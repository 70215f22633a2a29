"""``RawJson``: a WebSocket answer that a plugin has already encoded.

WHY: the core encodes a plugin command's result (and each event of a subscription)
with ``json.dumps`` on the event loop. For a large answer (the recorder's day of
history at 1 Hz is ~10 MB of JSON, ~130 ms to encode) that is a stall every client
waits through, and any user may cause it. A plugin that encodes in a worker thread
hands the bytes over wrapped in ``RawJson``: the core splices them into the message
frame as they are (``{"id":N,"type":"result","success":true,"result":<bytes>}``, or
``{"id":N,"type":"event","event":<bytes>}``) without decoding or re-encoding them.
They count towards the socket's byte bound (``ws_max_pending_bytes``) like any
message, and go into a ``coalesce_messages`` array frame like any message.

No import of aiohttp here: plugins import it from ``gatehouse.core.http`` in any
installation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawJson:
    """One JSON value already encoded as UTF-8 bytes, sent as it is.

    Return it from a ``WsCommand`` handler (the answer's ``result``) or pass it to a
    subscription's ``send`` (the ``event``). The core does not check it (parsing it
    on the loop would cost what it saves): it must be exactly one valid JSON value,
    UTF-8, without NaN or Infinity, or the client's parser fails on the whole frame.
    """

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes) or not self.data:
            raise TypeError("RawJson needs the encoded value as non-empty bytes")
