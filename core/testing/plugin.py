"""Pytest fixtures: a running test host, and real, health-checked protocol peers.

Loaded as a plugin (``pytest_plugins = ["gatehouse.core.testing.plugin"]`` in a
top-level conftest; it is not loaded automatically, so installing Gatehouse never adds
fixtures to an unrelated project). Every peer lives in the
test's own tmp dir on ephemeral loopback ports and is stopped in a ``finally`` so a
failing test cannot leak a broker; peers also get SIGTERM if pytest itself dies.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from ..host import Host
from .certs import Pki, make_pki
from .host import make_host
from .mosquitto import Mosquitto
from .nats import NatsCluster, NatsServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: nats-py and the host are asyncio."""
    return "asyncio"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config directory with an empty configuration.yaml."""
    path = tmp_path / "config"
    path.mkdir()
    (path / "configuration.yaml").write_text("# empty\n", encoding="utf-8")
    return path


@pytest.fixture
def write_config(config_dir: Path) -> Callable[..., Path]:
    """``write_config(text, name="configuration.yaml")``: write a (dedented) file into
    the test's config dir and return its path."""

    def write(text: str, name: str = "configuration.yaml") -> Path:
        target = config_dir / name
        target.write_text(textwrap.dedent(text), encoding="utf-8")
        return target

    return write


@pytest.fixture
async def host(config_dir: Path) -> AsyncIterator[Host]:
    """A running test host (``make_host``) on the test's config dir, stopped after it."""
    running = make_host(config_dir)
    async with running.running():
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a loopback server certificate and a ``gatehouse-client`` client certificate.

    Session-scoped because certificates are immutable; issue per-test identities with
    ``gatehouse.core.testing.issue_client_cert(pki, "name")``.
    """
    return make_pki(tmp_path_factory.mktemp("pki"))


class _Peer(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


P = TypeVar("P", bound=_Peer)


def _running(peer: P) -> Iterator[P]:
    """Start ``peer``, hand it to the test, stop it after, even when starting failed
    half-way (a process that began but never became healthy is stopped too)."""
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()


def _workdir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A plain (anonymous, no TLS) mosquitto on ``mosquitto.host:mosquitto.port``."""
    yield from _running(Mosquitto(_workdir(tmp_path, "mosquitto")))


@pytest.fixture
def mosquitto_tls(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    """Mosquitto with a TLS 1.3-only listener on ``tls_port`` that requires a client
    certificate signed by ``.certs.ca_cert`` (the CN becomes the MQTT username); the
    plain listener on ``port`` stays available for health checks and setup."""
    yield from _running(Mosquitto(_workdir(tmp_path, "mosquitto-tls"), certs=pki))


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A single JetStream-enabled nats-server; connect to ``nats_server.url``."""
    yield from _running(NatsServer(_workdir(tmp_path, "nats")))


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three routed JetStream nodes with an elected meta leader; use ``.urls``."""
    yield from _running(NatsCluster(_workdir(tmp_path, "nats-cluster")))
