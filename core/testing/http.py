"""Request bodies shaped like a slow network, for tests of HTTP views.

A view that reads its body with one ``request.content.read(n)`` gets only what has
arrived so far; on a real network a body often arrives in several pieces. Send a body
with ``body_in_pieces`` (as aiohttp's ``data=``) to check that a view reads it whole
(``gatehouse.core.http.read_json`` does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import pairwise

import anyio

#: Seconds between pieces: long enough that the server has read the first piece alone.
PIECE_PAUSE = 0.3


async def body_in_pieces(body: bytes, *cuts: int, pause: float = PIECE_PAUSE
                         ) -> AsyncIterator[bytes]:
    """``body`` cut at the offsets ``cuts`` (default: its middle), a pause between
    pieces. The pause shapes the input and synchronises nothing: the test waits for the
    server's answer, which comes only after the last piece."""
    offsets = [0, *(sorted(cuts) or [len(body) // 2]), len(body)]
    for number, (start, end) in enumerate(pairwise(offsets)):
        if number:
            await anyio.sleep(pause)
        yield body[start:end]
