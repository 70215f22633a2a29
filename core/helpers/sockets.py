"""Sockets for clients that read many small packets: buffered reads, prompt ACKs.

Two costs of a client library that reads a stream of small packets (paho reads each
MQTT packet with three ``recv`` calls) show up in throughput and in the latency tail:

* **system calls**: every ``recv`` releases and re-takes the GIL, in competition with
  the event loop thread. ``QuickAckSocket`` serves those small reads from one large
  read of the kernel socket (plain TCP only: TLS sockets keep their own buffer);
* **delayed ACK against Nagle**: a peer with Nagle's algorithm on (Mosquitto's default)
  holds the rest of a burst until its previous segment is acknowledged, and Linux
  delays that ACK by up to 40 ms unless ``TCP_QUICKACK`` is set. The flag is not
  sticky (the kernel clears it when it leaves quick-ack mode), so it is set again after
  **each** read of the kernel socket: setting it once after connecting left 42-46 ms
  stalls (found with the mqtt integration's ingest benchmark).

* **one send per packet**: on loopback a ``send`` also runs the receiver's TCP
  processing, tens of µs each; a forwarder that writes a PUBLISH and a PUBACK per
  message spent a third of its thread in ``send``. With ``coalesce=True`` writes are
  collected and leave in one ``send`` per ``flush()`` (the owner's event loop calls it
  once per turn and selects for writing while ``unflushed``); ``close`` flushes first,
  so a DISCONNECT written just before it still leaves.

``pending()`` (as on ``ssl.SSLSocket``) says how many bytes are already buffered, so a
caller does not wait in ``select`` for bytes that already arrived. Everything else
(``fileno``, ``setblocking``, ...) goes to the wrapped socket.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any, Final

__all__ = ["QuickAckSocket", "set_nodelay"]

_QUICKACK: Final[int | None] = getattr(socket, "TCP_QUICKACK", None)


def set_nodelay(sock: Any) -> None:
    """Nagle off: a client that writes one packet per ``send`` (paho does) must not
    wait for the peer's delayed ACK between pipelined packets. Errors are ignored (a
    Unix socket has no such option)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class QuickAckSocket:
    """A TCP (or TLS over TCP) socket: buffered ``recv`` and ``TCP_QUICKACK`` after each
    read of the kernel socket (see the module docstring)."""

    __slots__ = ("_buffer", "_buffered", "_coalesce", "_offset", "_out", "_quickack", "_sock")

    #: Bytes asked of the kernel per read when buffering.
    READ_SIZE: Final = 65536
    #: Unflushed bytes beyond which ``send`` refuses more (``BlockingIOError``, as a full
    #: kernel buffer would): a peer that stops reading cannot grow memory without bound.
    MAX_UNFLUSHED: Final = 4 * 1024 * 1024

    def __init__(self, sock: socket.socket, *, coalesce: bool = False) -> None:
        self._sock = sock
        self._buffer = b""
        self._offset = 0
        self._coalesce = coalesce
        self._out = bytearray()
        # An SSLSocket buffers decrypted data itself (and says so in its pending()).
        self._buffered = not isinstance(sock, ssl.SSLSocket)
        tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._quickack = _QUICKACK if tcp else None

    @property
    def wrapped(self) -> socket.socket:
        return self._sock

    def _rearm(self) -> None:
        option = self._quickack
        if option is not None:
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, option, 1)
            except OSError:  # closed under us, or not supported: stop trying
                self._quickack = None

    def recv(self, size: int) -> bytes:
        if not self._buffered:
            data = self._sock.recv(size)
            self._rearm()
            return data
        buffer = self._buffer
        if buffer:
            start = self._offset
            end = start + size
            if end >= len(buffer):  # the rest (a short read is fine: callers loop)
                self._buffer = b""
                self._offset = 0
                return buffer[start:] if start else buffer
            self._offset = end
            return buffer[start:end]
        data = self._sock.recv(max(size, self.READ_SIZE))
        self._rearm()
        if len(data) <= size:
            return data
        self._buffer = data
        self._offset = size
        return data[:size]

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        if not self._coalesce or flags:
            return self._sock.send(data, flags)
        if len(self._out) >= self.MAX_UNFLUSHED and not self.flush():
            raise BlockingIOError("unflushed data over the bound")
        self._out += data
        return len(data)

    @property
    def unflushed(self) -> int:
        """Bytes written by ``send`` that have not left yet (``coalesce`` only)."""
        return len(self._out)

    def flush(self) -> bool:
        """Send what ``send`` collected, as far as the kernel takes it without blocking;
        True when nothing is left. A broken connection drops the rest (the next read
        reports it to the owner)."""
        out = self._out
        while out:
            try:
                sent = self._sock.send(out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            except OSError:
                out.clear()
                return True
            del out[:sent]
        return True

    def close(self) -> None:
        if self._out:
            self.flush()
        self._sock.close()

    def pending(self) -> int:
        """Bytes already read and not yet handed out (plus TLS's own buffer)."""
        if not self._buffered:
            pending: int = self._sock.pending()  # type: ignore[attr-defined]
            return pending
        return len(self._buffer) - self._offset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        return f"<QuickAckSocket buffered={self.pending()} {self._sock!r}>"
