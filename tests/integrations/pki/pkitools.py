"""Helpers for the pki tests: a Mosquitto that trusts our CA, and one MQTT-over-TLS try.

``broker_for`` hands the test kit's ``Mosquitto`` the files our CA wrote (its ``Pki`` is
only a set of paths), plus ``crlfile`` on the TLS listener. ``try_connect`` is one paho
connection with a client certificate: (True, "Success") on CONNACK, else (False, why).
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core.helpers import CertificateAuthority, IssuedCert
from gatehouse.core.testing import LOOPBACK, Mosquitto, Pki

CONNECT_TIMEOUT = 10.0


def broker_for(
    workdir: Path, ca: CertificateAuthority, server: IssuedCert, *, crl: bool = True
) -> Mosquitto:
    """A Mosquitto (not started) whose TLS listener presents ``server`` and requires a
    client certificate signed by ``ca`` (and, with ``crl``, not in its CRL)."""
    pki = Pki(directory=ca.directory, ca_cert=ca.ca_cert_path, ca_key=ca.ca_key_path,
              server_cert=server.cert_path, server_key=server.key_path, clients=())
    extra = f"crlfile {ca.crl_path}" if crl else ""
    return Mosquitto(workdir, certs=pki, extra_config=extra)


def try_connect(
    port: int, ca_file: Path, cert: Path, key: Path, *, client_id: str = "pki-test",
    timeout: float = CONNECT_TIMEOUT,
) -> tuple[bool, str]:
    """Connect over TLS with this client certificate; whether the broker took it, and why."""
    result: dict[str, Any] = {}

    def on_connect(client: Any, userdata: object, flags: Any, reason: Any, props: object) -> None:
        result.setdefault("reason", (not reason.is_failure, str(reason)))

    def on_disconnect(client: Any, userdata: object, flags: Any, reason: Any,
                      props: object) -> None:
        result.setdefault("reason", (False, f"disconnected: {reason}"))

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.tls_set(ca_certs=str(ca_file), certfile=str(cert), keyfile=str(key),
                   tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    deadline = time.monotonic() + timeout
    try:
        client.connect(LOOPBACK, port, keepalive=10)
        while "reason" not in result and time.monotonic() < deadline:
            # Waits on the socket (select) for the CONNACK or the broker's TLS alert.
            if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS and "reason" not in result:
                result["reason"] = (False, "connection lost before CONNACK")
    except (ssl.SSLError, OSError) as err:
        result.setdefault("reason", (False, repr(err)))
    finally:
        if result.get("reason", (False, ""))[0]:
            client.disconnect()
        sock = client.socket()
        if sock is not None:
            sock.close()
    accepted, why = result.get("reason", (False, "no CONNACK in time"))
    return bool(accepted), str(why)
