"""A real ``NOTIFY_SOCKET``: an AF_UNIX datagram socket read by a thread that stamps arrivals.

The thread (not the test's event loop) receives, so arrival times stay true while a test
deliberately blocks the loop under test.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Datagram:
    at: float  # time.monotonic() on arrival
    fields: dict[str, str]


@dataclass
class NotifySocket:
    path: Path
    received: list[Datagram] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.05)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.partition("=")[::2] for line in data.decode().splitlines())
            self.received.append(Datagram(time.monotonic(), fields))

    def with_key(self, key: str) -> list[Datagram]:
        return [d for d in list(self.received) if key in d.fields]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()
