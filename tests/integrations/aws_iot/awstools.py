"""What the aws_iot tests need beside the kit (``import awstools``; not a conftest, so
the name cannot collide with the suite's other conftest modules).

Fixtures: a test module registers them with ``pytest_plugins = ["awstools"]`` and may
also import helpers from here (the PYTEST_DONT_REWRITE marker in this docstring keeps
pytest from warning that the plugin module was imported before it was registered; the
one assert here carries its own message):

* ``aws_certs`` (session): the test PKI as an AWS account would hand it out: the
  "Amazon root CA" bundle, the device certificate and key of thing ``gh-thing-1``, a
  fleet-provisioning CLAIM certificate and key, an expired certificate (with its key),
  a key that does not match the device certificate and another root CA
  (``other_root_ca``) that the broker's certificate does not chain to.
* ``aws_broker``: Mosquitto with a TLS 1.2+ listener that requires a client certificate
  from that CA (``aws_broker.tls_port``; the server certificate is for ``localhost`` and
  127.0.0.1), QoS 2 refused as on AWS, persistence saved after every change (Mosquitto
  acknowledges before it saves: see :func:`wait_persisted` before a kill -9).
* ``aws_fake``: a running :class:`awsfake.FakeAwsIot` on that broker (shadow, fleet
  provisioning with template ``gh-fleet``, jobs); the test fails if the fake itself
  failed on a request.
* ``aws_hello_tap``: a :class:`HelloTap` relay in front of the TLS port recording each
  connection's SNI, ALPN and offered TLS versions.

Helpers: :func:`aws_entry_data` (the integration's entry data), :func:`device_client`
(a plain paho client with mTLS that can ``request`` like a device or an app) and
:func:`duplicate_client` (another connection with a taken client id, reconnecting
forever: the "duplicate client id" storm AWS causes).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import socket
import ssl
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from awsfake import FakeAwsIot, ProvisioningTemplate, stop_paho
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core.testing import (
    LOOPBACK,
    ClientCert,
    Mosquitto,
    Pki,
    issue_client_cert,
    make_pki,
    wait_until_sync,
)

THING = "gh-thing-1"
ENDPOINT = "localhost"
TEMPLATE = "gh-fleet"
#: RegisterThing parameters the integration's tests send (the template needs SerialNumber).
PARAMETERS = {"SerialNumber": "SN-0001"}
#: How template ``gh-fleet`` names the thing (``str.format`` over the parameters) ...
THING_NAME_TEMPLATE = "gh-{SerialNumber}"
#: ... so RegisterThing with PARAMETERS answers this thingName.
PROVISIONED_THING = "gh-SN-0001"
BACKEND = "aws-iot-core-fake"
CLAIM = "gh-claim"
REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True)
class AwsCerts:
    """Paths of the files a device gets from an AWS account (all PEM)."""

    pki: Pki
    directory: Path
    root_ca: Path
    certificate: Path
    private_key: Path
    claim_certificate: Path
    claim_private_key: Path
    expired_certificate: Path
    expired_private_key: Path
    mismatched_private_key: Path
    other_root_ca: Path
    backend: ClientCert

    def device(self) -> ClientCert:
        return ClientCert(THING, self.certificate, self.private_key)

    def claim(self) -> ClientCert:
        return ClientCert(CLAIM, self.claim_certificate, self.claim_private_key)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def issue_expired_cert(pki: Pki, common_name: str, directory: Path) -> ClientCert:
    """A client certificate from ``pki``'s CA whose validity ended yesterday."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("test CA key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = directory / f"{common_name}.cert.pem"
    key_path = directory / f"{common_name}.private.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return ClientCert(common_name, cert_path, key_path)


def make_aws_certs(directory: Path) -> AwsCerts:
    """Generate the PKI and copy its files under AWS's usual download names."""
    pki = make_pki(directory / "pki", client_names=(THING, CLAIM, BACKEND))
    out = directory / "aws"
    out.mkdir(parents=True, exist_ok=True)

    def copy(src: Path, name: str) -> Path:
        target = out / name
        shutil.copyfile(src, target)
        target.chmod(src.stat().st_mode & 0o777)
        return target

    expired = issue_expired_cert(pki, "gh-expired", out)
    # A CA the broker's certificate does not chain to: "server not trusted" checks.
    other = make_pki(directory / "other-pki", client_names=())
    mismatched = out / "mismatched.private.key"
    _write_key(ec.generate_private_key(ec.SECP256R1()), mismatched)
    return AwsCerts(
        pki=pki,
        directory=out,
        root_ca=copy(pki.ca_cert, "AmazonRootCA1.pem"),
        certificate=copy(pki.client(THING).cert, f"{THING}.cert.pem"),
        private_key=copy(pki.client(THING).key, f"{THING}.private.key"),
        claim_certificate=copy(pki.client(CLAIM).cert, "claim.cert.pem"),
        claim_private_key=copy(pki.client(CLAIM).key, "claim.private.key"),
        expired_certificate=expired.cert,
        expired_private_key=expired.key,
        mismatched_private_key=mismatched,
        other_root_ca=copy(other.ca_cert, "OtherRootCA.pem"),
        backend=pki.client(BACKEND),
    )


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def aws_certs(tmp_path_factory: pytest.TempPathFactory) -> AwsCerts:
    """The AWS-shaped PKI, once per session (certificates are immutable)."""
    return make_aws_certs(tmp_path_factory.mktemp("aws-certs"))


@pytest.fixture
def aws_broker(tmp_path: Path, aws_certs: AwsCerts) -> Iterator[Mosquitto]:
    """Mosquitto as the AWS IoT Core endpoint: mTLS, TLS 1.2 minimum."""
    broker = Mosquitto(
        tmp_path / "aws-broker",
        aws_certs.pki,
        autosave_on_change=True,
        tls_version="tlsv1.2",
        # set_tcp_nodelay: without it Nagle and delayed ACKs add ~40 ms to every
        # request/response pair. max_qos 1: AWS IoT Core has no QoS 2; a client that
        # publishes with QoS 2 is disconnected (Mosquitto does this for MQTT 3.1.1).
        extra_config="set_tcp_nodelay true\nmax_qos 1",
    )
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


def default_templates() -> dict[str, ProvisioningTemplate]:
    return {
        TEMPLATE: ProvisioningTemplate(
            thing_name=THING_NAME_TEMPLATE,
            required=("SerialNumber",),
            device_configuration={"Fleet": "gatehouse"},
        )
    }


@pytest.fixture
def aws_fake(aws_broker: Mosquitto, aws_certs: AwsCerts) -> Iterator[FakeAwsIot]:
    """The AWS IoT Core services, subscribed and answering before the test starts."""
    fake = FakeAwsIot(aws_broker, aws_certs.backend, things=(THING,), templates=default_templates())
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.errors, f"the AWS IoT fake failed on requests: {fake.errors}"


#: Quick reconnects for tests, so a broker restart costs a fraction of a second.
FAST: dict[str, Any] = {"reconnect_min_delay": 0.1}


def aws_entry_data(
    aws_broker: Mosquitto,
    aws_certs: AwsCerts,
    *,
    provisioning: bool = False,
    fast: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Config-entry data for the aws_iot integration against ``aws_broker``.

    With ``provisioning=True`` the entry has no device certificate yet, only the claim
    (an appliance's first boot); ``fast`` adds :data:`FAST`. Keys follow
    integrations/aws_iot/config.py (test_entry_data_fits_the_integration checks it).
    """
    data: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "port": aws_broker.tls_port,
        "thing_name": THING,
        "root_ca": str(aws_certs.root_ca),
        "certificate": str(aws_certs.certificate),
        "private_key": str(aws_certs.private_key),
    }
    if provisioning:
        del data["certificate"], data["private_key"]
        data["provisioning"] = {
            "claim_certificate": str(aws_certs.claim_certificate),
            "claim_private_key": str(aws_certs.claim_private_key),
            "template_name": TEMPLATE,
            "parameters": dict(PARAMETERS),
        }
    if fast:
        data.update(FAST)
    data.update(overrides)
    return data


# -- plain paho clients -----------------------------------------------------------------


def tls_context(
    root_ca: Path, cert: Path | None, key: Path | None, *, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(root_ca))
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class DeviceClient:
    """A plain paho (MQTT 3.1.1, like AWS's SDKs) client speaking as a device.

    ``request(topic, body)`` subscribes to ``topic/accepted`` and ``topic/rejected``
    first (as AWS asks) and returns ``(suffix, json)`` of the first answer; ``watch``
    collects what arrives on other topics (deltas, notify-next) for ``next_message``.
    """

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self._cond = threading.Condition()
        self._inbox: list[tuple[str, bytes]] = []
        self._subscribed: set[str] = set()
        client.on_message = self._on_message

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self._inbox.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def subscribe(self, *topics: str) -> None:
        new = [t for t in topics if t not in self._subscribed]
        if not new:
            return
        done = threading.Event()

        def on_subscribe(*_: object) -> None:
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe([(t, 1) for t in new])
        if not done.wait(REQUEST_TIMEOUT):
            raise TimeoutError(f"no SUBACK for {new}")
        self._subscribed.update(new)

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], qos: int = 1) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos)
        info.wait_for_publish(REQUEST_TIMEOUT)

    def next_message(self, topic: str, timeout: float = REQUEST_TIMEOUT) -> Any:
        """Remove and return (as JSON) the first message received on ``topic``."""
        with self._cond:
            found = self._cond.wait_for(lambda: any(t == topic for t, _ in self._inbox), timeout)
            if not found:
                raise TimeoutError(f"nothing on {topic}; got {[t for t, _ in self._inbox]}")
            index = next(i for i, (t, _) in enumerate(self._inbox) if t == topic)
            return json.loads(self._inbox.pop(index)[1])

    def messages(self, topic: str) -> list[Any]:
        with self._cond:
            return [json.loads(p) for t, p in self._inbox if t == topic]

    def request(
        self,
        topic: str,
        body: bytes | str | dict[str, Any] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> tuple[str, Any]:
        """Publish a request and return ``("accepted" | "rejected", body)`` of its answer.

        Shadow and jobs requests (``$aws/things/...``) given as a dict get a
        ``clientToken`` unless they carry one, and only the answer with that token is
        taken: every subscriber sees every ``/accepted``, including those of updates
        the cloud side made meanwhile. Other requests take the first answer.
        """
        expected: str | None = None
        if isinstance(body, dict) and topic.startswith("$aws/things/"):
            body = {"clientToken": unique_token(), **body}
            token = body["clientToken"]
            if isinstance(token, str) and len(token.encode()) <= 64:
                expected = token
        answers = (f"{topic}/accepted", f"{topic}/rejected")
        self.subscribe(*answers)

        def match(item: tuple[str, bytes]) -> bool:
            if item[0] not in answers:
                return False
            if expected is None:
                return True
            try:
                return bool(json.loads(item[1]).get("clientToken") == expected)
            except ValueError:
                return False

        with self._cond:
            self._inbox = [m for m in self._inbox if m[0] not in answers]
        self.publish(topic, body if body is not None else b"")
        with self._cond:
            if not self._cond.wait_for(lambda: any(match(m) for m in self._inbox), timeout):
                raise TimeoutError(f"no answer to {topic}")
            index = next(i for i, m in enumerate(self._inbox) if match(m))
            answer_topic, payload = self._inbox.pop(index)
        return answer_topic.rsplit("/", 1)[1], json.loads(payload)


@contextmanager
def device_client(
    broker: Mosquitto,
    root_ca: Path,
    cert: ClientCert | None,
    client_id: str = THING,
    *,
    maximum_tls: ssl.TLSVersion | None = None,
    timeout: float = REQUEST_TIMEOUT,
    port: int | None = None,
    alpn: list[str] | None = None,
) -> Iterator[DeviceClient]:
    """A connected :class:`DeviceClient` (raises ConnectionError if refused).

    ``port`` overrides the broker's TLS port (a :class:`HelloTap` in front of it);
    ``alpn`` offers ALPN protocols, as AWS's port 443 needs ``["x-amzn-mqtt-ca"]``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    ctx = tls_context(
        root_ca, cert.cert if cert else None, cert.key if cert else None, maximum=maximum_tls
    )
    if alpn:
        ctx.set_alpn_protocols(alpn)
    client.tls_set_context(ctx)
    outcome: list[str] = []
    answered = threading.Event()

    def on_connect(c: mqtt.Client, u: object, flags: Any, reason: Any, props: Any) -> None:
        outcome.append("ok" if not reason.is_failure else f"CONNACK {reason}")
        answered.set()

    def on_closed(*args: Any) -> None:
        # TLS 1.3 reports a missing or rejected client certificate only after the
        # handshake, as a closed connection: fail at once instead of timing out.
        outcome.append(f"connection closed before CONNACK {args[-2:]!r}")
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_closed
    client.on_connect_fail = on_closed
    # Quick reconnects after a kick (int in paho's annotations, float seconds in its loop).
    client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
    device = DeviceClient(client)
    try:
        try:
            client.connect(ENDPOINT, port or broker.tls_port, keepalive=30)
        except OSError as exc:  # ssl.SSLError included
            close_leaked_sockets(exc)
            raise ConnectionError(f"TLS/TCP connection refused: {exc!r}") from exc
        client.loop_start()
        if not answered.wait(timeout):
            raise ConnectionError(f"no CONNACK within {timeout}s")
        if outcome[0] != "ok":
            raise ConnectionError(outcome[0])
        client.on_disconnect = None
        client.on_connect_fail = None
        yield device
    finally:
        stop_paho(client)


def close_leaked_sockets(exc: BaseException) -> None:
    """Close the sockets left in the frames ``exc`` went through.

    paho 2.2's ``_ssl_wrap_socket`` does not close its SSLSocket when the handshake
    fails (an untrusted server, a refused client certificate), so it is collected later
    with a ResourceWarning, an error in this suite, in whichever test runs then.
    """
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        for value in frame.f_locals.values():
            if isinstance(value, socket.socket):
                value.close()


class DuplicateClient:
    """A connection that uses a taken client id and reconnects whenever it is kicked,
    so each side keeps kicking the other (what a cloned certificate does on AWS)."""

    def __init__(self, broker: Mosquitto, root_ca: Path, cert: ClientCert, client_id: str) -> None:
        self.connects = 0
        self.kicked = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self._client.tls_set_context(tls_context(root_ca, cert.cert, cert.key))
        # int in paho's annotations, float seconds in its loop: a storm, not one a second
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._broker = broker

    def _on_connect(self, *_: object) -> None:
        self.connects += 1

    def _on_disconnect(self, *_: object) -> None:
        self.kicked += 1

    def start(self) -> None:
        self._client.connect_async(ENDPOINT, self._broker.tls_port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        stop_paho(self._client)


@contextmanager
def duplicate_client(
    broker: Mosquitto, aws_certs: AwsCerts, client_id: str = THING
) -> Iterator[DuplicateClient]:
    """Run a :class:`DuplicateClient` with the device's certificate for the block."""
    dup = DuplicateClient(broker, aws_certs.root_ca, aws_certs.device(), client_id)
    dup.start()
    try:
        yield dup
    finally:
        dup.stop()


def wait_persisted(broker: Mosquitto, marker: bytes, timeout: float = 5.0) -> None:
    """Wait until ``marker`` (a payload's bytes) is in the broker's persistence file.

    Mosquitto acknowledges a QoS 1 PUBLISH before its autosave writes the file, so a
    kill -9 in between loses an acknowledged message; a test that kills the broker
    waits for this first. The file is written aside and renamed, so seeing the marker
    means the save is complete.
    """
    db = broker.persistence_dir / "mosquitto.db"
    wait_until_sync(
        lambda: db.exists() and marker in db.read_bytes(),
        timeout,
        f"{marker!r} never reached {db}",
    )


def unique_token() -> str:
    return uuid.uuid4().hex


def issue_device_cert(aws_certs: AwsCerts, thing: str) -> ClientCert:
    """Another device certificate from the same CA (per-test identities)."""
    return issue_client_cert(aws_certs.pki, thing)


# -- what the device says in its TLS ClientHello ------------------------------------------


@dataclass(frozen=True)
class ClientHello:
    """What a TLS client announced before encryption: the SNI host name, the ALPN
    protocols (AWS needs ``x-amzn-mqtt-ca`` for MQTT on port 443) and the TLS versions
    it offers (``supported_versions``, e.g. ``("TLSv1.3", "TLSv1.2")``)."""

    sni: str | None
    alpn: tuple[str, ...]
    versions: tuple[str, ...]


_TLS_NAMES = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1"}


def parse_client_hello(record: bytes) -> ClientHello | None:
    """Parse the first TLS record if it is a ClientHello (RFC 8446 4.1.2); None if not.

    Extensions cut off by the end of the record are ignored (a ClientHello this size
    fits one record with the key shares Python's OpenSSL sends)."""
    if len(record) < 9 or record[0] != 0x16 or record[5] != 0x01:
        return None
    body = record[9:]
    pos = 2 + 32  # legacy_version, random
    try:
        pos += 1 + body[pos]  # session id
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]  # compression methods
        end = min(len(body), pos + 2 + int.from_bytes(body[pos : pos + 2], "big"))
        pos += 2
    except IndexError:
        return None
    sni: str | None = None
    alpn: list[str] = []
    versions: list[str] = []
    while pos + 4 <= end:
        kind = int.from_bytes(body[pos : pos + 2], "big")
        size = int.from_bytes(body[pos + 2 : pos + 4], "big")
        data = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind == 0 and len(data) >= 5 and data[2] == 0:  # server_name, host_name
            sni = data[5 : 5 + int.from_bytes(data[3:5], "big")].decode("ascii", "replace")
        elif kind == 16:  # application_layer_protocol_negotiation
            i = 2
            while i < len(data):
                alpn.append(data[i + 1 : i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
        elif kind == 43:  # supported_versions
            for i in range(1, len(data) - 1, 2):
                code = int.from_bytes(data[i : i + 2], "big")
                versions.append(_TLS_NAMES.get(code, hex(code)))
    if not versions:
        versions.append(_TLS_NAMES.get(int.from_bytes(body[0:2], "big"), "?"))
    return ClientHello(sni, tuple(alpn), tuple(versions))


class HelloTap:
    """A TCP relay in front of the broker's TLS port that records every connection's
    ClientHello and then passes the bytes through untouched (TLS still ends at
    Mosquitto). Point the device at ``tap.port`` to check its SNI and ALPN: Mosquitto
    neither needs nor logs them, AWS does."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        """``port``: where to listen (0: any free one; 443 as root to exercise a
        device's port-443 ALPN path)."""
        self._upstream = upstream_port
        self._listener = socket.create_server((LOOPBACK, port))
        self.port: int = self._listener.getsockname()[1]
        self.hellos: list[ClientHello | None] = []
        self._cond = threading.Condition()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn(self._accept_loop)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="hello-tap")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._cond:
                if self._closed:
                    conn.close()
                    return
                self._sockets.append(conn)
            self._spawn(self._relay, conn)

    def _relay(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection((LOOPBACK, self._upstream))
        except OSError:
            conn.close()
            return
        with self._cond:
            self._sockets.append(upstream)
        first = self._read_record(conn)
        with self._cond:
            self.hellos.append(parse_client_hello(first))
            self._cond.notify_all()
        try:
            upstream.sendall(first)
        except OSError:
            return
        self._spawn(self._pump, upstream, conn)
        self._pump(conn, upstream)

    @staticmethod
    def _read_record(conn: socket.socket) -> bytes:
        """The first TLS record (5-byte header plus its length), or what came."""
        data = b""
        want = 5
        while len(data) < want:
            try:
                chunk = conn.recv(want - len(data))
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if len(data) == 5 and want == 5:
                want = 5 + int.from_bytes(data[3:5], "big")
        return data

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def wait_hello(self, count: int = 1, timeout: float = REQUEST_TIMEOUT) -> ClientHello | None:
        """The ``count``-th ClientHello seen (1-based), waiting for it."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.hellos) >= count, timeout):
                raise TimeoutError(f"no ClientHello #{count} within {timeout}s")
            return self.hellos[count - 1]

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            sockets = list(self._sockets)
        # close() alone does not wake a thread blocked in accept() on Linux.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=2)


@pytest.fixture
def aws_hello_tap(aws_broker: Mosquitto) -> Iterator[HelloTap]:
    """A :class:`HelloTap` in front of ``aws_broker``'s TLS port (``.port``)."""
    tap = HelloTap(aws_broker.tls_port)
    tap.start()
    try:
        yield tap
    finally:
        tap.stop()
