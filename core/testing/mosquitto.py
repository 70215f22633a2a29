"""A real Mosquitto broker for integration tests.

Runs ``mosquitto -c <conf>`` from a per-test directory with a plain loopback listener
and, optionally, a TLS 1.3 listener that demands client certificates. Persistence is on
and the ports survive :meth:`Mosquitto.restart`, so tests can take the broker away
mid-stream and bring it back with QoS 1 sessions intact.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ._process import ManagedProcess, find_binary
from .certs import Pki
from .ports import LOOPBACK, POLL_INTERVAL, free_ports, wait_for_port

START_TIMEOUT = 10.0


class BrokerStartError(RuntimeError):
    """The broker process exited or never answered CONNECT; the message carries its log."""


class Mosquitto:
    """A mosquitto subprocess bound to ephemeral loopback ports.

    ``certs`` enables the TLS listener (``tls_port``). ``autosave_on_change`` makes the
    broker write its persistence file after every change, so even :meth:`kill` (a crash)
    keeps queued QoS 1 messages; the default only saves on graceful :meth:`stop`.
    ``tls_version`` is the TLS listener's minimum version (Mosquitto 2's ``tls_version``
    is a floor): ``"tlsv1.3"`` by default, ``"tlsv1.2"`` for peers that emulate services
    accepting TLS 1.2 and up (AWS IoT Core does).
    """

    def __init__(
        self,
        workdir: Path,
        certs: Pki | None = None,
        *,
        autosave_on_change: bool = False,
        extra_config: str = "",
        tls_version: str = "tlsv1.3",
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._certs = certs
        self._autosave_on_change = autosave_on_change
        self._extra_config = extra_config
        self._tls_version = tls_version
        # Ports are chosen once so restart() reuses them and clients can reconnect.
        plain, tls = free_ports(2)
        self._port = plain
        self._tls_port: int | None = tls if certs is not None else None
        self.persistence_dir = workdir / "data"
        self.persistence_dir.mkdir(exist_ok=True)
        self.config_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.config_path.write_text(self._render_config())
        self._process = ManagedProcess(
            [find_binary("mosquitto"), "-c", str(self.config_path)],
            log_path=self.log_path,
            cwd=workdir,
        )

    # -- public attributes ---------------------------------------------------------
    @property
    def host(self) -> str:
        """Loopback address both listeners bind to."""
        return LOOPBACK

    @property
    def port(self) -> int:
        """Plain MQTT listener (anonymous access allowed)."""
        return self._port

    @property
    def tls_port(self) -> int:
        """TLS listener (1.3 unless ``tls_version`` says otherwise) requiring a client
        certificate; only with ``certs``."""
        if self._tls_port is None:
            raise AttributeError("this broker was started without TLS (no certs given)")
        return self._tls_port

    @property
    def certs(self) -> Pki:
        """The PKI the TLS listener trusts and presents."""
        if self._certs is None:
            raise AttributeError("this broker was started without TLS (no certs given)")
        return self._certs

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process.running

    @property
    def pid(self) -> int | None:
        """Broker pid while running."""
        return self._process.pid

    # -- lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the broker and return once a real MQTT CONNECT gets a CONNACK."""
        self._process.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._process.kill()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop (SIGTERM; SIGKILL after ``timeout``); writes the persistence file.

        Safe to call when not running, so fixture teardown can always call it.
        """
        self._process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL the broker, simulating a crash."""
        self._process.kill()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Graceful stop then start on the same ports with the same persistence."""
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        """The broker's full log, useful in assertion messages."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------
    def _render_config(self) -> str:
        lines = [
            "# Generated by tests/harness/mosquitto.py",
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence true",
            # Trailing slash: mosquitto 1.x concatenated verbatim; 2.x adds its own (harmless).
            f"persistence_location {self.persistence_dir}/",
            "persistence_file mosquitto.db",
            # stderr, not stdout: C stdio block-buffers stdout into a file, hiding lines.
            "log_dest stderr",
            "log_type all",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
            # Tests queue a handful of messages; never let the default limits drop any.
            "max_queued_messages 10000",
        ]
        if os.geteuid() == 0:
            # Mosquitto 2 drops privileges to user "mosquitto" when started as root, and
            # then cannot read our 0600 keys or write the tmp dir. Stay root instead.
            lines.append("user root")
        if self._autosave_on_change:
            lines += ["autosave_on_changes true", "autosave_interval 1"]
        lines += ["", f"listener {self._port} {LOOPBACK}", "protocol mqtt"]
        if self._certs is not None:
            lines += [
                "",
                f"listener {self._tls_port} {LOOPBACK}",
                "protocol mqtt",
                f"cafile {self._certs.ca_cert}",
                f"certfile {self._certs.server_cert}",
                f"keyfile {self._certs.server_key}",
                f"tls_version {self._tls_version}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        if self._extra_config:
            lines += ["", self._extra_config]
        return "\n".join(lines) + "\n"

    def _wait_ready(self, timeout: float) -> None:
        """Poll until the plain listener answers CONNECT with CONNACK.

        Mosquitto binds every listener before serving and exits if any bind fails, so
        a CONNACK on the plain port also proves the TLS listener is up.
        """
        deadline = time.monotonic() + timeout
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError as exc:
            raise self._start_error(f"port {self.port} never opened") from exc
        last_error = "no CONNACK"
        while time.monotonic() < deadline:
            if not self._process.running:
                raise self._start_error(f"exited with status {self._process.returncode}")
            ok, last_error = _probe_connack(self.host, self.port, deadline - time.monotonic())
            if ok:
                return
            time.sleep(POLL_INTERVAL)
        raise self._start_error(f"no CONNACK within {timeout}s ({last_error})")

    def _start_error(self, why: str) -> BrokerStartError:
        return BrokerStartError(
            f"mosquitto did not come up: {why}\n--- broker log ---\n{self._process.log_tail()}"
        )


def _probe_connack(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """One MQTT connect attempt; returns (accepted, reason).

    paho is imported here, not at module level: the kit must import without the mqtt
    extra for plugin authors who never start a broker.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    result: dict[str, str] = {}

    def on_connect(client: Any, userdata: object, flags: Any, reason: Any, props: object) -> None:
        result["reason"] = str(reason)
        result["ok"] = "1" if not reason.is_failure else ""

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"gatehouse-healthcheck-{os.getpid()}"
    )
    client.on_connect = on_connect
    deadline = time.monotonic() + max(timeout, 0.1)
    try:
        client.connect(host, port, keepalive=5)
        while "reason" not in result and time.monotonic() < deadline:
            client.loop(timeout=POLL_INTERVAL)
        if "reason" in result and result["ok"]:
            client.disconnect()
            return True, result["reason"]
        return False, result.get("reason", "timed out waiting for CONNACK")
    except OSError as exc:
        return False, repr(exc)
    finally:
        sock = client.socket()
        if sock is not None:
            sock.close()
