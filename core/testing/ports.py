"""Loopback port helpers for the peer harness.

Peers are started on ephemeral ports so parallel test runs never collide, and readiness
is detected by polling with a deadline instead of sleeping a fixed time: fixed sleeps
are either too short on a loaded CI box or waste time everywhere else.
"""

from __future__ import annotations

import contextlib
import socket
import time

LOOPBACK = "127.0.0.1"
POLL_INTERVAL = 0.02
"""Seconds between readiness probes: short enough to add no visible latency."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a port the kernel considers free on ``host``.

    The kernel picks it (bind to port 0), so the port comes from the ephemeral range.
    There is an unavoidable window between closing our socket and the peer binding
    it; callers health-check the peer, so a lost race shows up as a clear failure.
    """
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct free ports.

    All sockets are held open until every port is known, so the kernel cannot hand
    out the same port twice (which happens if ``free_port`` is simply called in a loop).
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Return whether a TCP connect to ``host:port`` succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until ``host:port`` accepts TCP connections or ``timeout`` seconds pass.

    Raises ``TimeoutError`` on expiry so the caller can attach the peer's log.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if port_is_open(host, port, timeout=max(0.05, min(0.5, remaining))):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout}s")
        time.sleep(POLL_INTERVAL)
