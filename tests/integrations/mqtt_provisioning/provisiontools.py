"""Shared helpers of the provisioning tests: a Mosquitto with the dynamic security
plugin, and paho clients that play devices and an admin observer.

The broker is the test kit's ``Mosquitto`` with ``extra_config`` (plugin lines; with a
CA: a TLS listener signed by the house CA, ``use_identity_as_username`` and the CA's
CRL as ``crlfile``). ``mosquitto_ctrl dynsec init`` writes the plugin's file with one
admin client, which Gatehouse's mqtt entry then uses. Devices speak MQTT 5, so a
refused publish is visible as a PUBACK reason code and a refused subscription as a
SUBACK one; every wait is on an event the client's callbacks set, with a timeout.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import paho.mqtt.client as mqtt
from aiohttp import ClientSession
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from gatehouse.core.helpers import certificate_authority
from gatehouse.core.testing import Mosquitto, Pki

PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
ADMIN = "gatehouse-admin"
ADMIN_PASSWORD = "admin-password-for-tests"
WAIT = 10.0


def have_dynsec() -> bool:
    return PLUGIN.exists() and shutil.which("mosquitto_ctrl") is not None


@dataclass
class DynsecBroker:
    mosquitto: Mosquitto
    dynsec_file: Path
    crl_file: Path | None = None
    pid_file: Path | None = None
    ca_file: Path | None = None

    @property
    def port(self) -> int:
        return self.mosquitto.port

    def entry_data(self, **provisioning: Any) -> dict[str, Any]:
        """An mqtt entry as the dynsec admin, with a provisioning block."""
        block: dict[str, Any] = {"request_timeout": 5, **provisioning}
        if self.crl_file is not None:
            block.setdefault("crl_file", str(self.crl_file))
            block.setdefault("broker_pid_file", str(self.pid_file))
            block.setdefault("tls_port", self.mosquitto.tls_port)
        return {"broker": self.mosquitto.host, "port": self.mosquitto.port,
                "username": ADMIN, "password": ADMIN_PASSWORD,
                "birth_message": False, "will_message": False, "discovery": False,
                "provisioning": block}

    def write_host_config(self, config_dir: Path, name: str) -> None:
        """``configuration.yaml`` of a test host: the web server on an ephemeral loopback
        port and this broker as an mqtt entry titled ``name`` (YAML, so the web server
        has the mqtt routes from the start)."""
        mqtt = {**self.entry_data(), "name": name}
        (config_dir / "configuration.yaml").write_text(
            "gatehouse:\n  control_socket: false\n"
            "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
            f"mqtt: {json.dumps(mqtt)}\n", encoding="utf-8")

    def write_pid(self) -> None:
        if self.pid_file is not None:
            self.pid_file.write_text(f"{self.mosquitto.pid}\n", encoding="ascii")


@contextlib.contextmanager
def dynsec_broker(workdir: Path, config_dir: Path | None = None, *, extra: str = ""
                  ) -> Iterator[DynsecBroker]:
    """A running broker with the plugin; with ``config_dir``, also a TLS listener whose
    certificates come from that config dir's house CA (made here), with its CRL.
    ``extra``: more mosquitto.conf lines, for the last listener (the plain one without
    ``config_dir``) or global."""
    workdir.mkdir(parents=True, exist_ok=True)
    dynsec_file = workdir / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec_file), ADMIN,
                    ADMIN_PASSWORD], check=True, capture_output=True)
    lines = [f"plugin {PLUGIN}", f"plugin_opt_config_file {dynsec_file}"]
    certs: Pki | None = None
    crl_file = pid_file = ca_file = None
    if config_dir is not None:
        ca = certificate_authority(config_dir)
        ca.init("Gatehouse test CA")
        server = ca.issue_server(["127.0.0.1"])
        ca_file = workdir / "ca.pem"
        ca_file.write_bytes(ca.ca_cert_pem())
        crl_file = workdir / "crl.pem"
        crl_file.write_bytes(ca.crl_pem())
        pid_file = workdir / "mosquitto.pid"
        certs = Pki(workdir, ca_file, ca_file, server.cert_path, server.key_path, ())
        # After the kit's TLS listener lines, so it belongs to that listener.
        lines.insert(0, f"crlfile {crl_file}")
    if extra:
        lines.append(extra)
    broker = Mosquitto(workdir / "broker", certs, extra_config="\n".join(lines))
    result = DynsecBroker(broker, dynsec_file, crl_file, pid_file, ca_file)
    try:
        broker.start()
        result.write_pid()
        yield result
    finally:
        broker.stop()


class Client:
    """A paho MQTT 5 client in its own network thread (a device, or the observer)."""

    def __init__(self, port: int, username: str | None, password: str | None = None, *,
                 client_id: str, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack: ReasonCode | None = None
        self.connected = threading.Event()
        self.gone = threading.Event()
        self._acked: dict[int, list[ReasonCode]] = {}
        self._cond = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_publish = self._on_ack
        self.client.on_subscribe = self._on_ack

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode,
                    _props: Any) -> None:
        self.connack = reason
        self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.gone.set()

    def _on_ack(self, _c: Any, _u: Any, mid: int, reasons: Any, _props: Any) -> None:
        # Kept by mid whether or not anybody waits yet: a fast PUBACK may come before
        # publish() has even returned its mid.
        with self._cond:
            self._acked[mid] = list(reasons) if isinstance(reasons, list) else [reasons]
            self._cond.notify_all()

    def _ack(self, mid: int) -> list[ReasonCode] | None:
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acked, WAIT):
                return None
            return self._acked.pop(mid)

    def _wait(self, event: threading.Event) -> bool:
        return event.wait(WAIT)

    async def connect(self) -> str:
        """``"Success"``, the CONNACK's refusal, or how the connection failed."""
        try:
            await anyio.to_thread.run_sync(lambda: self.client.connect("127.0.0.1", self.port,
                                                                       keepalive=30))
        except (OSError, ssl.SSLError) as err:
            return f"connection failed: {err}"
        self.client.loop_start()

        def settle() -> None:
            # Either a CONNACK or the socket closing first (a TLS alert after the
            # handshake: TLS 1.3 checks the client certificate after it).
            for _ in range(int(WAIT / 0.05)):
                if self.connected.wait(0.05) or self.gone.is_set():
                    return

        await anyio.to_thread.run_sync(settle)
        if self.connack is not None:
            return str(self.connack)
        return "connection closed before CONNACK" if self.gone.is_set() else "no CONNACK"

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> str:
        """Publish at QoS 1: ``Success`` when accepted (``No matching subscribers`` is
        accepted too), else the PUBACK's refusal (``Not authorized``...)."""
        info = self.client.publish(topic, payload, qos)
        reasons = await anyio.to_thread.run_sync(self._ack, info.mid)
        assert reasons is not None, f"no PUBACK for {topic}"
        return str(reasons[0]) if reasons[0].is_failure else "Success"

    def publish_nowait(self, topic: str, payload: bytes, qos: int, *, retain: bool = False
                       ) -> None:
        """Hand a publish to paho without waiting for its acknowledgement."""
        self.client.publish(topic, payload, qos, retain=retain)

    async def subscribe(self, topic_filter: str, qos: int = 1) -> str:
        """The SUBACK's reason for one filter (``Granted QoS 1``, ``Not authorized``)."""
        _rc, mid = self.client.subscribe(topic_filter, qos)
        assert mid is not None
        reasons = await anyio.to_thread.run_sync(self._ack, mid)
        assert reasons is not None, f"no SUBACK for {topic_filter}"
        return str(reasons[0])

    async def next_message(self, timeout: float = WAIT) -> mqtt.MQTTMessage:
        return await anyio.to_thread.run_sync(lambda: self.messages.get(timeout=timeout))

    async def wait_gone(self) -> bool:
        return await anyio.to_thread.run_sync(self._wait, self.gone)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()
        sock = self.client.socket()  # paho keeps it after a connection failed
        if sock is not None:
            sock.close()


def device_tls(ca_file: Path, cert_pem: str, key_pem: str, workdir: Path) -> ssl.SSLContext:
    """A device's TLS context from its provisioning result."""
    cert, key = workdir / "device.crt", workdir / "device.key"
    cert.write_text(cert_pem, encoding="ascii")
    key.write_text(key_pem, encoding="ascii")
    key.chmod(0o600)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.load_cert_chain(str(cert), str(key))
    return context


class Socket:
    """A WebSocket client of the API in Home Assistant's protocol: one call at a time."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": type_, **fields})
        while True:
            answer: dict[str, Any] = await self.ws.receive_json(timeout=10)
            if answer.get("id") == self.next_id and answer["type"] == "result":
                return answer


async def login(http: ClientSession, token: str) -> Any:
    """A WebSocket of ``http``'s server, authenticated with ``token``."""
    ws = await http.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
    return ws
