"""A real TCP destination for outbox tests: a line sink server and a pipelining sender.

Protocol: the client writes one message per line (the payload, which must not contain a
newline); the server appends every line to :attr:`LineSink.received` and answers ``+``
plus newline per line, in order. The sender writes a whole batch before reading the
acks, like an MQTT QoS 1 client with many PUBACKs in flight.

Used in-process by the tests (via conftest) and by the kill -9 child script, which is
why it is a plain module next to them rather than part of conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from gatehouse.core.outbox import (
    DeliveryOutcome,
    OutboxMessage,
    TransientDeliveryError,
)

ACK = b"+\n"


class LineSink:
    """The server side: records lines, acks them, and can misbehave on request.

    ``gate_after``: after this many lines in total the sink keeps *recording* lines but
    stops acking them until :meth:`open_gate` is called, so a test can freeze delivery
    at a known point. ``cut_after``: the first connection is closed (without acking)
    after it has received this many lines, which the sender sees as a broken link.
    """

    def __init__(self, *, gate_after: int | None = None, cut_after: int | None = None) -> None:
        self.received: list[bytes] = []
        self.origins: list[int] = []
        """For each received line, the number of the connection it came on (from 1)."""
        self.port = 0
        self.connections = 0
        self._gate_after = gate_after
        self._gate = anyio.Event()
        if gate_after is None:
            self._gate.set()
        self._cut_after = cut_after
        self._waiters: list[tuple[int, anyio.Event]] = []

    @classmethod
    @asynccontextmanager
    async def serve(
        cls, *, gate_after: int | None = None, cut_after: int | None = None
    ) -> AsyncIterator[LineSink]:
        """Listen on an ephemeral localhost port for the duration of the block."""
        sink = cls(gate_after=gate_after, cut_after=cut_after)
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        sink.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as task_group:
            task_group.start_soon(listener.serve, sink._handle)
            try:
                yield sink
            finally:
                task_group.cancel_scope.cancel()

    def open_gate(self) -> None:
        """Resume acking (see ``gate_after``)."""
        self._gate.set()

    async def wait_for(self, count: int) -> None:
        """Return once at least ``count`` lines were received."""
        if len(self.received) >= count:
            return
        event = anyio.Event()
        self._waiters.append((count, event))
        await event.wait()

    def _record(self, line: bytes, connection: int) -> None:
        self.received.append(line)
        self.origins.append(connection)
        if self._gate_after is not None and len(self.received) >= self._gate_after:
            self._gate_after = None
        total = len(self.received)
        ready = [entry for entry in self._waiters if entry[0] <= total]
        for entry in ready:
            self._waiters.remove(entry)
            entry[1].set()

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        connection = self.connections
        cut_after = self._cut_after
        self._cut_after = None
        seen = 0
        reader = BufferedByteReceiveStream(stream)
        async with stream:
            while True:
                try:
                    line = await reader.receive_until(b"\n", 1 << 20)
                except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                    return
                self._record(line, connection)
                seen += 1
                if cut_after is not None and seen >= cut_after:
                    return  # drop the link without acking this line
                if self._gate_after is None and not self._gate.is_set():
                    await self._gate.wait()
                try:
                    await stream.send(ACK)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return


class TcpLineSender:
    """The client side, implementing the outbox ``Sender`` protocol over a real socket.

    Writes the batch in one go, then counts acks. A broken link after some acks reports
    those as ACKED and the rest as RETRY; before any ack it raises
    :class:`TransientDeliveryError`. Reconnects on the next batch.
    """

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.batches: list[int] = []
        self._stream: anyio.abc.SocketStream | None = None

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        self.batches.append(len(batch))
        acked = 0
        try:
            with anyio.fail_after(self.timeout):
                if self._stream is None:
                    self._stream = await anyio.connect_tcp(self.host, self.port)
                stream = self._stream
                await stream.send(b"".join(message.payload + b"\n" for message in batch))
                while acked < len(batch):
                    data = await stream.receive()
                    acked += data.count(b"\n")
        except (
            OSError,
            TimeoutError,
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ) as exc:
            await self.aclose()
            if acked == 0:
                raise TransientDeliveryError(f"link to sink failed: {exc!r}") from exc
            return [DeliveryOutcome.ACKED] * acked + [DeliveryOutcome.RETRY] * (len(batch) - acked)
        return [DeliveryOutcome.ACKED] * len(batch)

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
