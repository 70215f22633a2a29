"""One network thread for both of the proxy's paho clients.

With ``loop_start`` each client had its own thread, and every forwarded message crossed
between them twice: the ingress thread's ``publish`` woke the egress thread (a byte on
paho's socket pair) to write it, and the egress PUBACK woke the ingress thread to write
the inbound acknowledgement. Each crossing is a system call and a hand-over of the GIL
(up to the 5 ms switch interval when the other thread is busy): measured, the two
threads spent most of their time in ``send`` and in waiting for the lock paho's
``publish`` shares with its PUBACK handling.

Here one thread runs paho's external-loop API (``loop_read``/``loop_write``/
``loop_misc`` around one ``select``) for both clients. A ``publish`` or ``ack`` made in
that thread is written by paho at once (paho writes directly when no thread of its
own runs and the client is not inside its own callback; otherwise at the next turn of
this loop) into its socket's buffer: a ``QuickAckSocket`` with ``coalesce``, which this
loop flushes once per turn, so a turn's PUBLISHes and PUBACKs leave in one ``send`` per
socket instead of one each. Other threads never touch the clients while it runs: they ``call_soon``
and the loop runs their function in its thread.

Reconnects are this loop's job too (paho's ``loop_forever`` did it): a client without a
socket is reconnected after a back-off (1 s doubling to 10 s, reset by
``connected``), using what ``connect_async`` stored. A broker that does not answer a
connection attempt holds the other client for at most paho's ``connect_timeout``
(5 s): the price of one thread; forwarding needs both sides anyway.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import paho.mqtt.client as paho

from gatehouse.core.helpers import BurstLog

_LOGGER = logging.getLogger(__name__)

#: Longest wait in select(): keepalive and reconnect checks run at least this often.
_TICK: Final = 1.0


class NetworkLoop:
    """See the module docstring."""

    def __init__(self, clients: Sequence[paho.Client], name: str, *,
                 min_delay: float = 1.0, max_delay: float = 10.0) -> None:
        self._clients = list(clients)
        self._names = {id(c): c._client_id.decode(errors="replace") for c in clients}
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._delay = {id(c): min_delay for c in clients}
        self._next_attempt = {id(c): 0.0 for c in clients}
        self._calls: deque[Callable[[], object]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._errors = BurstLog(_LOGGER, "schema_guard proxy: network loop error: %(err)s",
                                "schema_guard proxy: network loop ran again after "
                                "%(count)d errors")

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def start(self) -> None:
        self._thread.start()

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` in the network thread (thread-safe; order kept)."""
        self._calls.append(fn)
        self._wake()

    def connected(self, client: paho.Client) -> None:
        """The broker accepted ``client``: its next reconnect starts at the least delay."""
        self._delay[id(client)] = self._min_delay

    def stop(self) -> None:
        """End the thread and wait for it; the clients are then free for other threads."""
        self._stopping = True
        self._wake()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\x00")

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._turn()
            except Exception as err:  # the thread must outlive one error
                self._errors.hit(err=repr(err))
                _LOGGER.debug("schema_guard proxy: network loop error", exc_info=err)
            else:
                if self._errors.burst:
                    self._errors.calm()

    def _turn(self) -> None:
        now = time.monotonic()
        timeout = _TICK
        rlist: list[Any] = [self._wake_r]
        wlist: list[Any] = []
        for client in self._clients:
            sock = client.socket()
            if sock is None:
                timeout = min(timeout, self._maybe_connect(client, now))
                sock = client.socket()
                if sock is None:
                    continue
            rlist.append(sock)
            if client.want_write() or getattr(sock, "unflushed", False):
                wlist.append(sock)
            pending = getattr(sock, "pending", None)
            if pending is not None and pending() > 0:
                timeout = 0.0
        try:
            readable, writable, _ = select.select(rlist, wlist, [], timeout)
        except (OSError, ValueError, TypeError):  # a socket closed under us: next turn
            readable = writable = []
        if self._wake_r in readable:
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_r.recv(4096)
        calls = self._calls
        while calls:
            calls.popleft()()
        for client in self._clients:
            sock = client.socket()
            if sock is None:
                continue
            pending = getattr(sock, "pending", None)
            if sock in readable or (pending is not None and pending() > 0):
                client.loop_read()
        for client in self._clients:
            sock = client.socket()
            if sock is not None and (sock in writable or client.want_write()):
                client.loop_write()
            client.loop_misc()
        for client in self._clients:  # what the turn wrote, in one send per socket
            flush = getattr(client.socket(), "flush", None)
            if flush is not None:
                flush()

    def _maybe_connect(self, client: paho.Client, now: float) -> float:
        """Connect ``client`` if its back-off has passed; the seconds until it may next."""
        key = id(client)
        wait = self._next_attempt[key] - now
        if wait > 0:
            return wait
        delay = self._delay[key]
        self._delay[key] = min(delay * 2, self._max_delay)
        self._next_attempt[key] = now + delay
        try:
            client.reconnect()
        except (OSError, ValueError) as err:
            _LOGGER.debug("schema_guard proxy: %s cannot connect: %s", self._names[key], err)
            return delay
        return _TICK
