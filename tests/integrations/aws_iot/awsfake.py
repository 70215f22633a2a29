"""A test-side stand-in for AWS IoT Core's MQTT services, on a real Mosquitto.

AWS IoT Core cannot run here, so the tests use what can: Mosquitto with a TLS listener
that demands client certificates (the connection half of AWS), and this responder (the
service half). It is a plain MQTT client with its own certificate that subscribes to
the reserved ``$aws/...`` request topics and answers on the documented response topics
with the documented JSON shapes, from the AWS IoT Core Developer Guide sections named in
each docstring:

* Device Shadow: "Device Shadow MQTT topics", "Device Shadow service documents",
  "Device Shadow error messages", "Interacting with shadows", "Diagnosing problems with
  shadows" (the 8 KB limit counts the desired and reported data only).
* Fleet provisioning: "Device provisioning MQTT API" (CreateKeysAndCertificate,
  CreateCertificateFromCsr, RegisterThing), JSON payload format only (not CBOR).
* Jobs: "Jobs device MQTT API operations" (notify, notify-next, get, start-next,
  ``{jobId}/get``, ``{jobId}/update``) and their error codes.

Where the documents give a shape but not the values, the values are this fake's choice
and tests should not pin them: provisioning ``errorCode``/``errorMessage`` texts, jobs
``message`` texts, the 404 text's quoting. Where they are ambiguous, the fake takes the
reading that is harder for a device: ``/update/delta`` also follows a report that leaves
a difference (``delta_on_reported``).

What it cannot be: AWS answers on the requesting connection only, Mosquitto delivers a
response to every subscriber of the response topic (so match answers by
``clientToken``); there are no IoT policies (any certificate from the test CA may
publish anywhere) and a certificate is usable as soon as it is issued (AWS keeps it
PENDING_ACTIVATION until RegisterThing); the 10-in-flight limit (429) and throttling
are not enforced, only injectable (:meth:`FakeAwsIot.fail_next`) and observable
(:meth:`FakeAwsIot.max_rate`, :meth:`FakeAwsIot.limit_violations`). A second
connection with the same client id closes the first one, as on AWS: Mosquitto does that
by itself ("Client X already connected, closing old connection." in its log,
:meth:`FakeAwsIot.takeovers`). QoS 2 is refused by the broker (``max_qos 1`` in
awstools' fixture), as AWS does.

Threading: paho runs the responder on its own thread (``loop_start``); every piece of
state is guarded by one lock; tests wait with :meth:`FakeAwsIot.wait_for` (asyncio) or
:meth:`FakeAwsIot.wait_for_sync` (threads), which are woken by each change, never by
sleeping. The responder is an MQTT 3.1.1 persistent session (Mosquitto 2.0.11 restores
those after a restart but not MQTT 5 ones), so a request sent while it is away
(:meth:`FakeAwsIot.pause`, a broker restart) is answered when it is back.

Typical use in an integration test (fixtures from awstools)::

    entry = await add_entry(host, "aws_iot", aws_entry_data(aws_broker, aws_certs))
    await aws_fake.wait_for(lambda: aws_fake.requests_for(THING, "get"))
    aws_fake.set_desired(THING, {"light.porch": "on"})
    await aws_fake.wait_for(lambda: not aws_fake.shadow(THING)["state"].get("delta"))
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import json
import re
import secrets
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core.testing import ClientCert, Mosquitto, issue_client_cert

T = TypeVar("T")
JSON = Any

#: "Diagnosing problems with shadows": desired + reported data, metadata not counted.
SHADOW_MAX_BYTES = 8 * 1024
#: "Device Shadow error messages": "JSON contains too many levels of nesting; maximum is 6".
SHADOW_MAX_DEPTH = 6
#: "Device Shadow error messages": a client token longer than 64 bytes is "Invalid clientToken".
CLIENT_TOKEN_MAX = 64
#: "AWS IoT Core message broker and protocol limits and quotas": payload size, topic
#: size in bytes and forward slashes in a topic.
MESSAGE_MAX_BYTES = 128 * 1024
TOPIC_MAX_BYTES = 256
TOPIC_MAX_SLASHES = 7

BACKEND_CLIENT_ID = "aws-iot-core-fake"
CONNECT_TIMEOUT = 10.0

# Shadow error texts, verbatim from "Device Shadow error messages".
INVALID_JSON = "Invalid JSON"
MISSING_STATE = "Missing required node: state"
STATE_NOT_OBJECT = "State node must be an object"
DESIRED_NOT_OBJECT = "Desired node must be an object"
REPORTED_NOT_OBJECT = "Reported node must be an object"
INVALID_VERSION = "Invalid version"
INVALID_TOKEN = "Invalid clientToken"
TOO_DEEP = "JSON contains too many levels of nesting; maximum is 6"
INVALID_NODE = "State contains an invalid node"
VERSION_CONFLICT = "Version conflict"
TOO_LARGE = "The payload exceeds the maximum size allowed"
BAD_ENCODING = "Unsupported documented encoding; supported encoding is UTF-8"
DEFAULT_MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Thing not found",
    409: VERSION_CONFLICT,
    413: TOO_LARGE,
    429: "Too Many Requests",
    500: "Internal service failure",
}

_SHADOW_TOPIC = re.compile(
    r"^\$aws/things/(?P<thing>[^/]+)/shadow/(?:name/(?P<name>[^/]+)/)?(?P<op>get|update|delete)$"
)
_JOBS_TOPIC = re.compile(
    r"^\$aws/things/(?P<thing>[^/]+)/jobs/(?:(?P<job>[^/]+)/)?(?P<op>get|update|start-next)$"
)
_PROVISION_TOPIC = re.compile(r"^\$aws/provisioning-templates/(?P<template>[^/]+)/provision/json$")
_CREATE_TOPIC = "$aws/certificates/create/json"
_CSR_TOPIC = "$aws/certificates/create-from-csr/json"
_LOG_PUBLISH = re.compile(r"^(\d\d):(\d\d):(\d\d): Received PUBLISH from (\S+) ")
_LOG_TAKEOVER = re.compile(r"Client (\S+) already connected, closing old connection\.")


def stop_paho(client: mqtt.Client) -> None:
    """Disconnect, join the network thread and close the wake-up socket pair
    ``loop_start`` made: paho only closes it when the client is collected, which shows
    up later as a ResourceWarning in some other test (integrations/mqtt does the same)."""
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()


def loads(payload: bytes) -> JSON:
    """json.loads where nesting too deep for Python is a ValueError like bad JSON."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def now() -> int:
    """AWS timestamps are whole seconds since the epoch."""
    return int(time.time())


# --------------------------------------------------------------------------------------
# Shadow documents ("Device Shadow service documents"): pure functions over JSON values
# --------------------------------------------------------------------------------------


class ShadowRejected(Exception):
    """A request the Device Shadow service answers on ``/rejected`` with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def json_equal(a: JSON, b: JSON) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python's ``True == 1`` would hide a delta)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def depth(value: JSON) -> int:
    """Levels of objects and arrays in ``value`` (``{"a": 1}`` is 1, a scalar 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def metadata_of(value: JSON, ts: int) -> JSON:
    """Metadata mirrors the state: a timestamp per leaf, per array element."""
    if isinstance(value, dict):
        return {k: metadata_of(v, ts) for k, v in value.items()}
    if isinstance(value, list):
        return [metadata_of(v, ts) for v in value]
    return {"timestamp": ts}


def merge(
    target: dict[str, JSON], meta: dict[str, JSON], patch: Mapping[str, JSON], ts: int
) -> None:
    """Apply an update section: objects merge key by key, ``null`` deletes a key,
    anything else (arrays included) replaces ("Device Shadow service documents")."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict):
            created = not isinstance(target.get(key), dict)
            if created:
                target[key] = {}
                meta[key] = {}
            merge(target[key], meta[key], value, ts)
            if created and value and not target[key]:
                # {"b": {"c": null}} on a shadow without "b" deletes nothing, creates nothing.
                del target[key], meta[key]
        else:
            target[key] = copy.deepcopy(value)
            meta[key] = metadata_of(value, ts)


def delta_of(
    desired: Mapping[str, JSON] | None, reported: Mapping[str, JSON] | None
) -> dict[str, JSON]:
    """Desired attributes not reported or reported with another value, recursively into
    objects; reported-only attributes are not part of it ("Delta state")."""
    out: dict[str, JSON] = {}
    reported = reported or {}
    for key, want in (desired or {}).items():
        if key not in reported:
            out[key] = copy.deepcopy(want)
        elif isinstance(want, dict) and isinstance(reported[key], dict):
            sub = delta_of(want, reported[key])
            if sub:
                out[key] = sub
        elif not json_equal(want, reported[key]):
            out[key] = copy.deepcopy(want)
    return out


def project_metadata(meta: Mapping[str, JSON], shape: Mapping[str, JSON]) -> dict[str, JSON]:
    """The part of ``meta`` covering the keys of ``shape`` (the delta's metadata)."""
    out: dict[str, JSON] = {}
    for key, value in shape.items():
        if key not in meta:
            continue
        if isinstance(value, dict) and isinstance(meta[key], dict) and "timestamp" not in meta[key]:
            out[key] = project_metadata(meta[key], value)
        else:
            out[key] = copy.deepcopy(meta[key])
    return out


def certificate_id(cert_pem: bytes) -> str:
    """AWS's certificate id: the SHA-256 of the DER certificate, 64 hex digits."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def sign_csr(ca_cert_path: Path, ca_key_path: Path, csr: x509.CertificateSigningRequest) -> bytes:
    """A client certificate for the CSR's key, signed by the test CA (subject as AWS
    writes it: "AWS IoT Certificate")."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError("test CA key is not an EC key")
    now_dt = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AWS IoT Certificate")]))
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now_dt - datetime.timedelta(minutes=5))
        .not_valid_after(now_dt + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def compact_size(value: JSON) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass
class ShadowDocument:
    """One classic or named shadow; ``exists`` is False after a delete, when the
    version is kept for the next one ("Interacting with shadows": within 48 hours a
    re-created shadow continues the deleted one's version)."""

    desired: dict[str, JSON] | None = None
    reported: dict[str, JSON] | None = None
    meta_desired: dict[str, JSON] = field(default_factory=dict)
    meta_reported: dict[str, JSON] = field(default_factory=dict)
    version: int = 0
    exists: bool = False

    def state(self, *, with_delta: bool) -> dict[str, JSON]:
        state: dict[str, JSON] = {}
        if self.desired is not None:
            state["desired"] = copy.deepcopy(self.desired)
        if self.reported is not None:
            state["reported"] = copy.deepcopy(self.reported)
        if with_delta:
            delta = self.delta()
            if delta:
                state["delta"] = delta
        return state

    def metadata(self) -> dict[str, JSON]:
        meta: dict[str, JSON] = {}
        if self.desired is not None:
            meta["desired"] = copy.deepcopy(self.meta_desired)
        if self.reported is not None:
            meta["reported"] = copy.deepcopy(self.meta_reported)
        return meta

    def delta(self) -> dict[str, JSON]:
        return delta_of(self.desired, self.reported)

    def document(self) -> dict[str, JSON]:
        """The ``previous``/``current`` shape of ``/update/documents``."""
        return {
            "state": self.state(with_delta=False),
            "metadata": self.metadata(),
            "version": self.version,
        }

    def full(self) -> dict[str, JSON]:
        """What a GET returns, without timestamp and clientToken."""
        return {
            "state": self.state(with_delta=True),
            "metadata": self.metadata(),
            "version": self.version,
        }


def state_size(doc: ShadowDocument) -> int:
    """The size AWS limits to 8 KB, as this fake counts it: the compact UTF-8 JSON of
    ``{"desired": ..., "reported": ...}`` with the sections the shadow has (metadata,
    version and the rest are not counted, "Diagnosing problems with shadows")."""
    sections = {
        k: v for k, v in (("desired", doc.desired), ("reported", doc.reported)) if v is not None
    }
    return compact_size(sections)


def parse_request(payload: bytes, *, allow_empty: bool) -> dict[str, JSON]:
    """Decode a request body: 415 for bad UTF-8, 400 for bad JSON or a bad clientToken."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ShadowRejected(415, BAD_ENCODING) from None
    if not text.strip() and allow_empty:
        return {}
    try:
        body = json.loads(text)
    except ValueError:
        raise ShadowRejected(400, INVALID_JSON) from None
    except RecursionError:
        raise ShadowRejected(400, TOO_DEEP) from None
    if not isinstance(body, dict):
        raise ShadowRejected(400, INVALID_JSON)
    token = body.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token.encode()) > CLIENT_TOKEN_MAX):
        raise ShadowRejected(400, INVALID_TOKEN)
    return body


def validate_update(body: Mapping[str, JSON]) -> dict[str, JSON]:
    """The checks of "Device Shadow error messages" (400s) in the order AWS lists them;
    returns the request's ``state``."""
    if "state" not in body:
        raise ShadowRejected(400, MISSING_STATE)
    state = body["state"]
    if not isinstance(state, dict):
        raise ShadowRejected(400, STATE_NOT_OBJECT)
    if (
        "desired" in state
        and state["desired"] is not None
        and not isinstance(state["desired"], dict)
    ):
        raise ShadowRejected(400, DESIRED_NOT_OBJECT)
    if (
        "reported" in state
        and state["reported"] is not None
        and not isinstance(state["reported"], dict)
    ):
        raise ShadowRejected(400, REPORTED_NOT_OBJECT)
    if "version" in body and (
        isinstance(body["version"], bool) or not isinstance(body["version"], int)
    ):
        raise ShadowRejected(400, INVALID_VERSION)
    if any(depth(state.get(section)) > SHADOW_MAX_DEPTH for section in ("desired", "reported")):
        raise ShadowRejected(400, TOO_DEEP)
    if set(state) - {"desired", "reported"}:
        raise ShadowRejected(400, INVALID_NODE)
    return state


def apply_update(shadow: ShadowDocument, body: Mapping[str, JSON], ts: int) -> ShadowDocument:
    """Validate and apply an update; returns the new document (``shadow`` untouched)."""
    state = validate_update(body)
    if "version" in body and shadow.exists and body["version"] != shadow.version:
        raise ShadowRejected(409, VERSION_CONFLICT)
    new = copy.deepcopy(shadow) if shadow.exists else ShadowDocument(version=shadow.version)
    for section in ("desired", "reported"):
        if section not in state:
            continue
        patch = state[section]
        if patch is None:
            setattr(new, section, None)
            setattr(new, f"meta_{section}", {})
            continue
        current = getattr(new, section)
        if current is None:
            current = {}
            setattr(new, section, current)
        merge(current, getattr(new, f"meta_{section}"), patch, ts)
    if state_size(new) > SHADOW_MAX_BYTES:
        raise ShadowRejected(413, TOO_LARGE)
    new.version += 1
    new.exists = True
    return new


# --------------------------------------------------------------------------------------
# Records the tests read
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message the fake saw, attributed to the thing (= client id) it came from."""

    topic: str
    payload: bytes
    at: float  # time.monotonic()
    client: str | None

    def json(self) -> JSON:
        return json.loads(self.payload)


@dataclass(frozen=True)
class ShadowUpdate:
    """A shadow update request a device sent, and how it was answered."""

    thing: str
    name: str | None
    body: JSON  # None when the payload was not JSON
    code: int  # 200 accepted, else the /rejected code
    at: float


@dataclass(frozen=True)
class Failure:
    kind: str
    code: int | str
    message: str
    thing: str | None
    name: str | None


@dataclass
class JobExecution:
    """A job execution of one thing ("Jobs device MQTT API operations": JobExecution)."""

    job_id: str
    thing: str
    document: JSON
    status: str = "QUEUED"
    status_details: dict[str, str] = field(default_factory=dict)
    queued_at: int = field(default_factory=now)
    started_at: int | None = None
    last_updated_at: int = field(default_factory=now)
    version_number: int = 1
    execution_number: int = 1
    history: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    TERMINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "REMOVED", "TIMED_OUT"})

    @property
    def pending(self) -> bool:
        return self.status in ("QUEUED", "IN_PROGRESS")

    def execution(self, *, include_document: bool = True) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "jobId": self.job_id,
            "thingName": self.thing,
            "status": self.status,
            "statusDetails": dict(self.status_details),
            "queuedAt": self.queued_at,
            "lastUpdatedAt": self.last_updated_at,
            "versionNumber": self.version_number,
            "executionNumber": self.execution_number,
        }
        if self.started_at is not None:
            out["startedAt"] = self.started_at
        if include_document:
            out["jobDocument"] = copy.deepcopy(self.document)
        return out

    def summary(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "jobId": self.job_id,
            "queuedAt": self.queued_at,
            "lastUpdatedAt": self.last_updated_at,
            "versionNumber": self.version_number,
            "executionNumber": self.execution_number,
        }
        if self.started_at is not None:
            out["startedAt"] = self.started_at
        return out

    def state(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "statusDetails": dict(self.status_details),
            "versionNumber": self.version_number,
        }


@dataclass
class ProvisioningTemplate:
    """A fleet provisioning template as far as a device can tell: the thing name made
    from the request's ``parameters`` (``str.format`` fields), the parameters it
    requires, the ``deviceConfiguration`` it returns; ``reject`` plays the
    pre-provisioning hook (return a reason to refuse)."""

    thing_name: str = "{SerialNumber}"
    required: tuple[str, ...] = ("SerialNumber",)
    device_configuration: dict[str, str] = field(default_factory=dict)
    reject: Callable[[Mapping[str, str]], str | None] | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate the fake issued; ``key`` is None when the device sent a CSR (its
    private key never left it)."""

    certificate_id: str
    cert: Path
    key: Path | None
    ownership_token: str


@dataclass(frozen=True)
class Provisioned:
    thing_name: str
    certificate_id: str
    template: str
    parameters: dict[str, str]


@dataclass(eq=False)
class _AsyncWaiter:
    """One ``wait_for`` call: woken from paho's thread at most once per loop turn, so a
    stream of 50,000 messages does not queue 50,000 callbacks (and predicate runs)."""

    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)
    pending: bool = False

    def wake(self) -> None:
        # A stale True only skips a wake-up whose predicate check is still to come.
        if not self.pending:
            self.pending = True
            self.loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        self.pending = False
        self.event.set()


# --------------------------------------------------------------------------------------
# The responder
# --------------------------------------------------------------------------------------


class FakeAwsIot:
    """AWS IoT Core's shadow, fleet provisioning and jobs services on ``broker``.

    ``identity`` is the responder's own client certificate (from the broker's PKI).
    Use as a context manager (sync or async) or :meth:`start`/:meth:`stop`.
    ``things`` are the thing names used to attribute non-``$aws`` topics to a client
    (a topic with the thing name as one of its levels counts for that thing; things
    created by provisioning are added).

    ``delta_on_reported``: "Device Shadow MQTT topics" says ``/update/delta`` is
    published when an update is accepted and desired and reported differ, with every
    differing desired attribute. By default that includes an update that only reports
    (a device that reports a value other than the desired one gets the delta again: the
    harder case for a device, which must not loop on it); False publishes deltas only
    for updates that carry ``desired``.
    """

    def __init__(
        self,
        broker: Mosquitto,
        identity: ClientCert,
        *,
        things: tuple[str, ...] = (),
        templates: Mapping[str, ProvisioningTemplate] | None = None,
        history: int = 200_000,
        delta_on_reported: bool = True,
    ) -> None:
        self.broker = broker
        self.delta_on_reported = delta_on_reported
        self._identity = identity
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiters: set[_AsyncWaiter] = set()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._shadows: dict[tuple[str, str | None], ShadowDocument] = {}
        self._failures: list[Failure] = []
        self._things: set[str] = set(things)
        self._templates: dict[str, ProvisioningTemplate] = dict(templates or {})
        self._tokens: dict[str, IssuedCertificate] = {}
        self._jobs: dict[str, dict[str, JobExecution]] = {}
        self._next_job: dict[str, str | None] = {}
        self.received: deque[Received] = deque(maxlen=history)
        self._counts: dict[str | None, int] = {}
        self.updates: list[ShadowUpdate] = []
        self.requests: list[tuple[str, str | None, str]] = []  # (thing, shadow, op)
        self.responses: deque[tuple[str, JSON]] = deque(maxlen=history)
        self.issued: list[IssuedCertificate] = []
        self.errors: list[str] = []  # requests the fake itself failed on (its bugs)
        self.provisioned: list[Provisioned] = []
        self.create_calls = 0
        self.provision_calls = 0
        self.connects = 0
        self._client = self._make_client()

    # -- lifecycle ---------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        # MQTT 3.1.1 with a persistent session: Mosquitto 2.0.11 restores those after a
        # restart, but drops MQTT 5 sessions (session expiry) then.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=BACKEND_CLIENT_ID,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        ctx = ssl.create_default_context(cafile=str(self.broker.certs.ca_cert))
        ctx.load_cert_chain(str(self._identity.cert), str(self._identity.key))
        client.tls_set_context(ctx)
        # paho annotates the delays as int but waits in float seconds; sub-second
        # reconnects keep broker-restart tests short.
        client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Connect and return once every service topic is subscribed.

        The session persists (Mosquitto persistence in the fixture), so after a broker
        restart requests that arrive before this client is back are queued for it
        instead of lost."""
        self._client.connect("localhost", self.broker.tls_port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(
                f"FakeAwsIot did not subscribe within {timeout}s\n{self.broker.log_text()[-3000:]}"
            )

    def stop(self) -> None:
        stop_paho(self._client)

    def pause(self) -> None:
        """Take the service offline (its session and subscriptions stay on the broker,
        so requests sent meanwhile queue for it): a slow or unavailable AWS."""
        stop_paho(self._client)
        with self._lock:
            self._connected.clear()
            self._changed()

    def resume(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Reconnect after :meth:`pause`; queued requests are answered then."""
        self._client.reconnect()
        self._client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError(f"FakeAwsIot did not reconnect within {timeout}s")

    def __enter__(self) -> FakeAwsIot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeAwsIot:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            return
        # Request topics only, level by level: none of them matches a response topic
        # this client publishes, so it never hears itself (MQTT 3.1.1 has no noLocal).
        # "#" does not match "$" topics; "$aws/rules/#" is Basic Ingest.
        client.subscribe(
            [
                ("$aws/things/+/shadow/+", 1),
                ("$aws/things/+/shadow/name/+/+", 1),
                ("$aws/things/+/jobs/get", 1),
                ("$aws/things/+/jobs/start-next", 1),
                ("$aws/things/+/jobs/+/get", 1),
                ("$aws/things/+/jobs/+/update", 1),
                (_CREATE_TOPIC, 1),
                (_CSR_TOPIC, 1),
                ("$aws/provisioning-templates/+/provision/json", 1),
                ("$aws/rules/#", 1),
                ("#", 1),
            ]
        )
        with self._lock:
            self.connects += 1
            self._connected.set()
            self._changed()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, reasons: Any, props: Any
    ) -> None:
        self._subscribed.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self._connected.clear()
            self._changed()

    # -- waiting -----------------------------------------------------------------------
    def _changed(self) -> None:
        """Wake every waiter (called with the lock held, after each change)."""
        self._cond.notify_all()
        for waiter in self._waiters:
            waiter.wake()

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, what: str = ""
    ) -> T:
        """Await until ``predicate()`` is truthy (re-checked after each change the fake
        sees) and return its value; TimeoutError names ``what`` and the last traffic."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = _AsyncWaiter(loop)
        event = waiter.event
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                event.clear()
                with self._lock:
                    value = predicate()
                if value:
                    return value
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_text(what or repr(predicate), timeout))
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    continue
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
        """:meth:`wait_for` for threads (plain paho tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_text(what or repr(predicate), timeout))
                self._cond.wait(remaining)

    def _timeout_text(self, what: str, timeout: float) -> str:
        last = [f"{r.topic} {r.payload[:200]!r}" for r in list(self.received)[-10:]]
        return f"not within {timeout}s: {what}\nlast messages seen:\n  " + "\n  ".join(last)

    # -- test control: shadows -----------------------------------------------------------
    def shadow(self, thing: str, name: str | None = None) -> dict[str, JSON] | None:
        """The shadow as a GET would return it (state with delta, metadata, version),
        or None when it does not exist."""
        with self._lock:
            doc = self._shadows.get((thing, name))
            return doc.full() if doc is not None and doc.exists else None

    def set_desired(self, thing: str, desired: Mapping[str, JSON], name: str | None = None) -> int:
        """Update the desired state as the cloud side would (an app or the console):
        ``/update/accepted``, ``/update/delta`` and ``/update/documents`` are published
        exactly as for a device's update. Returns the new version."""
        return self._cloud_update(thing, name, {"state": {"desired": dict(desired)}})

    def set_reported(
        self, thing: str, reported: Mapping[str, JSON], name: str | None = None
    ) -> int:
        """Seed reported state from the cloud side (for version-conflict scenarios)."""
        return self._cloud_update(thing, name, {"state": {"reported": dict(reported)}})

    def _cloud_update(self, thing: str, name: str | None, body: dict[str, JSON]) -> int:
        with self._lock:
            self._update(thing, name, body, device=False)
            return self._shadows[(thing, name)].version

    def shadow_size(self, thing: str, name: str | None = None) -> int | None:
        """The bytes the 8 KB limit counts for this shadow (:func:`state_size`), or None
        when it does not exist."""
        with self._lock:
            doc = self._shadows.get((thing, name))
            return state_size(doc) if doc is not None and doc.exists else None

    def bump_version(self, thing: str, name: str | None = None, by: int = 1) -> int:
        """Advance the shadow's version without publishing anything: changes made on
        the cloud side that the device has not seen (its next update with the old
        ``version`` is a 409). Returns the new version."""
        with self._lock:
            doc = self._shadows[(thing, name)]
            doc.version += by
            self._changed()
            return doc.version

    def delete_shadow(self, thing: str, name: str | None = None) -> None:
        with self._lock:
            doc = self._shadows.get((thing, name))
            if doc is not None:
                doc.exists = False
                doc.desired = doc.reported = None
                doc.meta_desired, doc.meta_reported = {}, {}
                self._changed()

    def fail_next(
        self,
        kind: str,
        code: int | str,
        message: str | None = None,
        *,
        thing: str | None = None,
        name: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests of ``kind`` with an error.

        ``kind``: shadow ``get``/``update``/``delete`` (``code`` an HTTP status, the
        message defaults to AWS's text for it), ``create_certificate``/``provision``
        (``code`` the statusCode; ``errorCode`` is the message's first word), jobs
        ``start_next``/``job_update``/``job_get`` (``code`` an error code string such as
        ``"RequestThrottled"``). ``thing``/``name`` narrow it to one shadow.
        """
        text = (
            message
            if message is not None
            else DEFAULT_MESSAGES.get(code if isinstance(code, int) else 0, str(code))
        )
        with self._lock:
            self._failures += [Failure(kind, code, text, thing, name)] * times

    def _take_failure(
        self, kind: str, thing: str | None = None, name: str | None = None
    ) -> Failure | None:
        for failure in self._failures:
            if failure.kind != kind:
                continue
            if failure.thing is not None and failure.thing != thing:
                continue
            if failure.name is not None and failure.name != name:
                continue
            self._failures.remove(failure)
            return failure
        return None

    def updates_for(
        self, thing: str, name: str | None = None, *, accepted_only: bool = False
    ) -> list[ShadowUpdate]:
        with self._lock:
            return [
                u
                for u in self.updates
                if u.thing == thing and u.name == name and (u.code == 200 or not accepted_only)
            ]

    def requests_for(self, thing: str, op: str, name: str | None = None) -> int:
        """How many shadow ``op`` (get/update/delete) requests ``thing`` sent."""
        with self._lock:
            return self.requests.count((thing, name, op))

    def responses_on(self, suffix: str) -> list[JSON]:
        """Payloads the fake published on topics ending with ``suffix``."""
        with self._lock:
            return [body for topic, body in self.responses if topic.endswith(suffix)]

    # -- test control: provisioning -------------------------------------------------------
    def add_template(self, name: str, template: ProvisioningTemplate | None = None) -> None:
        with self._lock:
            self._templates[name] = template or ProvisioningTemplate()

    # -- test control: jobs ----------------------------------------------------------------
    def add_job(self, thing: str, job_id: str, document: JSON) -> None:
        """Queue a job execution for ``thing``; ``notify`` and, if it becomes the next
        pending one, ``notify-next`` are published as AWS does."""
        with self._lock:
            jobs = self._jobs.setdefault(thing, {})
            if job_id in jobs:
                raise ValueError(f"job {job_id!r} already exists for {thing!r}")
            jobs[job_id] = JobExecution(job_id, thing, copy.deepcopy(document))
            self._jobs_changed(thing)

    def job(self, thing: str, job_id: str) -> JobExecution | None:
        """A copy of the execution (status, statusDetails, versionNumber, history)."""
        with self._lock:
            found = self._jobs.get(thing, {}).get(job_id)
            return copy.deepcopy(found)

    def cancel_job(self, thing: str, job_id: str) -> None:
        """Cancel an execution from the cloud side (CancelJobExecution): it leaves the
        pending list, ``notify``/``notify-next`` follow, a device's later update of it is
        rejected with InvalidStateTransition."""
        with self._lock:
            job = self._jobs[thing][job_id]
            job.status = "CANCELED"
            job.last_updated_at = now()
            job.version_number += 1
            job.history.append((job.status, dict(job.status_details)))
            self._jobs_changed(thing)

    # -- test control: observation ----------------------------------------------------------
    def messages(self, client: str | None = None, topic_prefix: str = "") -> list[Received]:
        with self._lock:
            return [
                r
                for r in self.received
                if (client is None or r.client == client) and r.topic.startswith(topic_prefix)
            ]

    def count(self, client: str | None) -> int:
        """Messages seen from ``client`` (None: unattributed) since start, beyond the
        ``history`` bound too; O(1), for predicates polled on every message."""
        with self._lock:
            return self._counts.get(client, 0)

    def max_rate(self, client: str, window: float = 1.0, topic_prefix: str = "") -> int:
        """Most messages from ``client`` seen within any ``window`` seconds (receive
        times here, so a burst the broker smoothed is not hidden, only delayed)."""
        times = [r.at for r in self.messages(client, topic_prefix)]
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def limit_violations(self) -> list[tuple[str, Received]]:
        """Messages AWS IoT Core would not have taken: payload over 128 KB, topic over
        256 bytes or with more than 7 slashes. Each with the reason."""
        out: list[tuple[str, Received]] = []
        with self._lock:
            for r in self.received:
                if len(r.payload) > MESSAGE_MAX_BYTES:
                    out.append((f"payload {len(r.payload)} bytes > {MESSAGE_MAX_BYTES}", r))
                if len(r.topic.encode()) > TOPIC_MAX_BYTES:
                    out.append((f"topic over {TOPIC_MAX_BYTES} bytes", r))
                if r.topic.count("/") > TOPIC_MAX_SLASHES:
                    out.append((f"topic with more than {TOPIC_MAX_SLASHES} slashes", r))
        return out

    def broker_publishes_per_second(self, client_id: str) -> dict[int, int]:
        """Per wall-clock second (seconds of the day), the PUBLISH packets Mosquitto
        logged from the connection with ``client_id``: exact attribution to the
        connection, at one-second resolution."""
        counts: dict[int, int] = {}
        for line in self.broker.log_text().splitlines():
            match = _LOG_PUBLISH.match(line)
            if match and match.group(4) == client_id:
                h, m, s = (int(x) for x in match.group(1, 2, 3))
                second = h * 3600 + m * 60 + s
                counts[second] = counts.get(second, 0) + 1
        return counts

    def takeovers(self, client_id: str) -> int:
        """How often a connection with ``client_id`` was closed because another one
        with the same id connected (Mosquitto's log; AWS does the same)."""
        return sum(
            1 for m in _LOG_TAKEOVER.finditer(self.broker.log_text()) if m.group(1) == client_id
        )

    # -- dispatch ------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        topic, payload = msg.topic, bytes(msg.payload)
        with self._lock:
            client_id = self._client_of(topic)
            self.received.append(Received(topic, payload, time.monotonic(), client_id))
            self._counts[client_id] = self._counts.get(client_id, 0) + 1
            try:
                self._dispatch(topic, payload)
            except Exception as exc:  # noqa: BLE001 - a fake's bug must not kill its thread
                # paho lets a callback's exception end the network thread, which would
                # leave a silent fake; record it instead (the fixture fails the test).
                self.errors.append(f"{topic}: {exc!r}")
            finally:
                self._changed()

    def _client_of(self, topic: str) -> str | None:
        levels = topic.split("/")
        if topic.startswith("$aws/things/") and len(levels) > 2:
            return levels[2]
        for level in levels:
            if level in self._things:
                return level
        return None

    def _dispatch(self, topic: str, payload: bytes) -> None:
        if match := _SHADOW_TOPIC.match(topic):
            self._things.add(match["thing"])
            self._shadow_request(match["thing"], match["name"], match["op"], payload)
        elif match := _JOBS_TOPIC.match(topic):
            self._things.add(match["thing"])
            self._jobs_request(match["thing"], match["job"], match["op"], payload)
        elif topic == _CREATE_TOPIC:
            self._create_certificate(payload)
        elif topic == _CSR_TOPIC:
            self._create_from_csr(payload)
        elif match := _PROVISION_TOPIC.match(topic):
            self._provision(match["template"], payload)

    def _publish(self, topic: str, body: JSON) -> None:
        self.responses.append((topic, body))
        self._client.publish(topic, json.dumps(body), qos=1)

    # -- Device Shadow ("Device Shadow MQTT topics") ----------------------------------------
    @staticmethod
    def _shadow_prefix(thing: str, name: str | None) -> str:
        if name is None:
            return f"$aws/things/{thing}/shadow"
        return f"$aws/things/{thing}/shadow/name/{name}"

    def _shadow_request(self, thing: str, name: str | None, op: str, payload: bytes) -> None:
        self.requests.append((thing, name, op))
        base = f"{self._shadow_prefix(thing, name)}/{op}"
        token: str | None = None
        body: JSON = None
        try:
            body = parse_request(payload, allow_empty=op != "update")
            token = body.get("clientToken")
            failure = self._take_failure(op, thing, name)
            if failure is not None:
                raise ShadowRejected(int(failure.code), failure.message)
            if op == "get":
                self._shadow_get(thing, name, token)
            elif op == "delete":
                self._shadow_delete(thing, name, token)
            else:
                self._update(thing, name, body, device=True)
        except ShadowRejected as exc:
            error: dict[str, JSON] = {"code": exc.code, "message": exc.message, "timestamp": now()}
            if token is not None:
                error["clientToken"] = token
            if op == "update":
                self.updates.append(ShadowUpdate(thing, name, body, exc.code, time.monotonic()))
            self._publish(f"{base}/rejected", error)

    def _shadow_get(self, thing: str, name: str | None, token: str | None) -> None:
        doc = self._shadows.get((thing, name))
        if doc is None or not doc.exists:
            raise ShadowRejected(404, f"No shadow exists with name: '{name or thing}'")
        response = {**doc.full(), "timestamp": now()}
        if token is not None:
            response["clientToken"] = token
        self._publish(f"{self._shadow_prefix(thing, name)}/get/accepted", response)

    def _shadow_delete(self, thing: str, name: str | None, token: str | None) -> None:
        doc = self._shadows.get((thing, name))
        if doc is None or not doc.exists:
            raise ShadowRejected(404, f"No shadow exists with name: '{name or thing}'")
        doc.exists = False
        doc.desired = doc.reported = None
        doc.meta_desired, doc.meta_reported = {}, {}
        response: dict[str, JSON] = {"version": doc.version, "timestamp": now()}
        if token is not None:
            response["clientToken"] = token
        self._publish(f"{self._shadow_prefix(thing, name)}/delete/accepted", response)

    def _update(
        self, thing: str, name: str | None, body: Mapping[str, JSON], *, device: bool
    ) -> None:
        """Apply an update and publish accepted, delta (when a difference remains; see
        ``delta_on_reported``: it carries every differing desired attribute, not only
        the updated ones) and documents."""
        ts = now()
        old = self._shadows.get((thing, name)) or ShadowDocument()
        new = apply_update(old, body, ts)  # raises ShadowRejected
        self._shadows[(thing, name)] = new
        token = body.get("clientToken")
        if device:
            self.updates.append(
                ShadowUpdate(thing, name, copy.deepcopy(body), 200, time.monotonic())
            )
        state = body["state"]
        accepted: dict[str, JSON] = {
            "state": copy.deepcopy(state),
            "metadata": {k: metadata_of(v, ts) for k, v in state.items()},
            "version": new.version,
            "timestamp": ts,
        }
        if token is not None:
            accepted["clientToken"] = token
        prefix = self._shadow_prefix(thing, name)
        self._publish(f"{prefix}/update/accepted", accepted)
        delta = new.delta()
        if delta and ("desired" in state or self.delta_on_reported):
            message: dict[str, JSON] = {
                "version": new.version,
                "timestamp": ts,
                "state": delta,
                "metadata": project_metadata(new.meta_desired, delta),
            }
            if token is not None:
                message["clientToken"] = token
            self._publish(f"{prefix}/update/delta", message)
        documents: dict[str, JSON] = {"current": new.document(), "timestamp": ts}
        if old.exists:
            documents["previous"] = old.document()
        if token is not None:
            documents["clientToken"] = token
        self._publish(f"{prefix}/update/documents", documents)

    # -- Fleet provisioning ("Device provisioning MQTT API") --------------------------------
    def _provisioning_error(self, topic: str, status: int, code: str, message: str) -> None:
        self._publish(topic, {"statusCode": status, "errorCode": code, "errorMessage": message})

    def _create_certificate(self, payload: bytes) -> None:
        """CreateKeysAndCertificate: a REAL certificate from the broker's test CA, so
        the broker accepts it after the device reconnects with it."""
        self.create_calls += 1
        rejected = f"{_CREATE_TOPIC}/rejected"
        failure = self._take_failure("create_certificate")
        if failure is not None:
            self._provisioning_error(
                rejected, int(failure.code), failure.message.split()[0], failure.message
            )
            return
        try:
            loads(payload or b"{}")
        except ValueError:
            self._provisioning_error(rejected, 400, "InvalidPayload", "Invalid JSON payload")
            return
        issued = issue_client_cert(self.broker.certs, f"aws-iot-{uuid.uuid4().hex[:12]}")
        cert_pem = issued.cert.read_text()
        record = IssuedCertificate(
            certificate_id=certificate_id(cert_pem.encode()),
            cert=issued.cert,
            key=issued.key,
            ownership_token=secrets.token_urlsafe(96),
        )
        self.issued.append(record)
        self._tokens[record.ownership_token] = record
        self._publish(
            f"{_CREATE_TOPIC}/accepted",
            {
                "certificateId": record.certificate_id,
                "certificatePem": cert_pem,
                "privateKey": issued.key.read_text(),
                "certificateOwnershipToken": record.ownership_token,
            },
        )

    def _create_from_csr(self, payload: bytes) -> None:
        """CreateCertificateFromCsr: the device keeps its key; the CSR is signed by the
        broker's test CA. Accepted: ``certificateId``, ``certificatePem``,
        ``certificateOwnershipToken`` (no ``privateKey``)."""
        self.create_calls += 1
        rejected = f"{_CSR_TOPIC}/rejected"
        failure = self._take_failure("create_certificate")
        if failure is not None:
            self._provisioning_error(
                rejected, int(failure.code), failure.message.split()[0], failure.message
            )
            return
        try:
            body = loads(payload)
            csr = x509.load_pem_x509_csr(str(body["certificateSigningRequest"]).encode())
        except (ValueError, KeyError, TypeError):
            self._provisioning_error(
                rejected, 400, "InvalidCsr", "Invalid certificate signing request"
            )
            return
        if not csr.is_signature_valid:
            self._provisioning_error(rejected, 400, "InvalidCsr", "CSR signature is not valid")
            return
        cert_pem = sign_csr(self.broker.certs.ca_cert, self.broker.certs.ca_key, csr)
        cert_path = self.broker.certs.directory / f"csr-{uuid.uuid4().hex[:12]}.crt"
        cert_path.write_bytes(cert_pem)
        record = IssuedCertificate(
            certificate_id(cert_pem), cert_path, None, secrets.token_urlsafe(96)
        )
        self.issued.append(record)
        self._tokens[record.ownership_token] = record
        self._publish(
            f"{_CSR_TOPIC}/accepted",
            {
                "certificateId": record.certificate_id,
                "certificatePem": cert_pem.decode(),
                "certificateOwnershipToken": record.ownership_token,
            },
        )

    def _provision(self, template_name: str, payload: bytes) -> None:
        """RegisterThing with the ownership token of a certificate created above."""
        self.provision_calls += 1
        base = f"$aws/provisioning-templates/{template_name}/provision/json"
        failure = self._take_failure("provision")
        if failure is not None:
            self._provisioning_error(
                f"{base}/rejected", int(failure.code), failure.message.split()[0], failure.message
            )
            return
        template = self._templates.get(template_name)
        if template is None:
            self._provisioning_error(
                f"{base}/rejected",
                404,
                "ResourceNotFound",
                f"Template {template_name} does not exist",
            )
            return
        try:
            body = loads(payload)
        except ValueError:
            self._provisioning_error(
                f"{base}/rejected", 400, "InvalidPayload", "Invalid JSON payload"
            )
            return
        token = body.get("certificateOwnershipToken") if isinstance(body, dict) else None
        record = self._tokens.pop(token, None) if isinstance(token, str) else None
        if record is None:
            self._provisioning_error(
                f"{base}/rejected",
                400,
                "InvalidCertificateOwnershipToken",
                "Certificate ownership token is invalid or already used",
            )
            return
        params = body.get("parameters") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            self._provisioning_error(
                f"{base}/rejected",
                400,
                "InvalidParameters",
                "parameters must map strings to strings",
            )
            return
        missing = [p for p in template.required if p not in params]
        if missing:
            self._provisioning_error(
                f"{base}/rejected",
                400,
                "InvalidParameters",
                f"Missing required parameters: {', '.join(missing)}",
            )
            return
        if template.reject is not None and (reason := template.reject(params)):
            self._provisioning_error(f"{base}/rejected", 403, "AccessDenied", reason)
            return
        try:
            thing = template.thing_name.format(**params)
        except (KeyError, IndexError, ValueError) as exc:
            self._provisioning_error(
                f"{base}/rejected", 400, "InvalidParameters", f"Thing name needs {exc}"
            )
            return
        self._things.add(thing)
        self.provisioned.append(
            Provisioned(thing, record.certificate_id, template_name, dict(params))
        )
        self._publish(
            f"{base}/accepted",
            {"thingName": thing, "deviceConfiguration": dict(template.device_configuration)},
        )

    # -- Jobs ("Jobs device MQTT API operations") -----------------------------------------
    def _next_pending(self, thing: str) -> JobExecution | None:
        pending = [j for j in self._jobs.get(thing, {}).values() if j.pending]
        pending.sort(key=lambda j: (j.status != "IN_PROGRESS", j.queued_at))
        return pending[0] if pending else None

    def _jobs_changed(self, thing: str) -> None:
        """``notify`` with the pending lists; ``notify-next`` when the next pending
        execution is another one than last announced."""
        jobs = self._jobs.get(thing, {}).values()
        ts = now()
        listing: dict[str, JSON] = {}
        in_progress = [j.summary() for j in jobs if j.status == "IN_PROGRESS"]
        queued = [j.summary() for j in jobs if j.status == "QUEUED"]
        if in_progress:
            listing["IN_PROGRESS"] = in_progress
        if queued:
            listing["QUEUED"] = queued
        self._publish(f"$aws/things/{thing}/jobs/notify", {"timestamp": ts, "jobs": listing})
        nxt = self._next_pending(thing)
        nxt_id = nxt.job_id if nxt else None
        if self._next_job.get(thing) != nxt_id:
            self._next_job[thing] = nxt_id
            message: dict[str, JSON] = {"timestamp": ts}
            if nxt is not None:
                message["execution"] = nxt.execution()
            self._publish(f"$aws/things/{thing}/jobs/notify-next", message)
        self._changed()

    def _jobs_request(self, thing: str, job_id: str | None, op: str, payload: bytes) -> None:
        base = (
            f"$aws/things/{thing}/jobs/{op}"
            if job_id is None
            else f"$aws/things/{thing}/jobs/{job_id}/{op}"
        )
        token: str | None = None
        try:
            body = loads(payload or b"{}")
        except ValueError:
            self._publish(f"{base}/rejected", self._job_error("InvalidJson", "Invalid JSON", token))
            return
        try:
            if not isinstance(body, dict):
                raise JobRejected("InvalidJson", "request is not a JSON object")
            token = body.get("clientToken") if isinstance(body.get("clientToken"), str) else None
            if job_id is None and op == "get":
                response = self._jobs_get(thing)
            elif job_id is None and op == "start-next":
                response = self._jobs_start_next(thing, body)
            elif job_id is not None and op == "get":
                response = self._job_describe(thing, job_id, body)
            elif job_id is not None and op == "update":
                response = self._job_update(thing, job_id, body)
            else:
                raise JobRejected("InvalidTopic", f"unknown jobs topic {base}")
        except JobRejected as exc:
            error = self._job_error(exc.code, exc.message, token)
            if exc.execution_state is not None:
                error["executionState"] = exc.execution_state
            self._publish(f"{base}/rejected", error)
            return
        response["timestamp"] = now()
        if token is not None:
            response["clientToken"] = token
        self._publish(f"{base}/accepted", response)

    @staticmethod
    def _job_error(code: str, message: str, token: str | None) -> dict[str, JSON]:
        error: dict[str, JSON] = {"code": code, "message": message, "timestamp": now()}
        if token is not None:
            error["clientToken"] = token
        return error

    def _jobs_get(self, thing: str) -> dict[str, JSON]:
        if (failure := self._take_failure("job_get", thing)) is not None:
            raise JobRejected(str(failure.code), failure.message)
        jobs = self._jobs.get(thing, {}).values()
        return {
            "inProgressJobs": [j.summary() for j in jobs if j.status == "IN_PROGRESS"],
            "queuedJobs": [j.summary() for j in jobs if j.status == "QUEUED"],
        }

    def _jobs_start_next(self, thing: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        if (failure := self._take_failure("start_next", thing)) is not None:
            raise JobRejected(str(failure.code), failure.message)
        details = _status_details(body)
        job = self._next_pending(thing)
        if job is None:
            return {}
        if job.status == "QUEUED":
            job.status = "IN_PROGRESS"
            job.started_at = job.last_updated_at = now()
            if details is not None:
                job.status_details = details
            job.version_number += 1
            job.history.append((job.status, dict(job.status_details)))
            self._jobs_changed(thing)
        return {"execution": job.execution()}

    def _job_describe(self, thing: str, job_id: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        job = (
            self._next_pending(thing)
            if job_id == "$next"
            else self._jobs.get(thing, {}).get(job_id)
        )
        if job is None:
            raise JobRejected("ResourceNotFound", f"Job execution {job_id} for {thing} not found")
        return {
            "execution": job.execution(
                include_document=body.get("includeJobDocument", True) is not False
            )
        }

    def _job_update(self, thing: str, job_id: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        if (failure := self._take_failure("job_update", thing)) is not None:
            raise JobRejected(str(failure.code), failure.message)
        job = self._jobs.get(thing, {}).get(job_id)
        if job is None:
            raise JobRejected("ResourceNotFound", f"Job execution {job_id} for {thing} not found")
        status = body.get("status")
        if status not in ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"):
            raise JobRejected("InvalidRequest", f"Invalid status: {status!r}")
        details = _status_details(body)
        expected = body.get("expectedVersion")
        if expected is not None and expected != job.version_number:
            raise JobRejected("VersionMismatch", "expectedVersion does not match", job.state())
        if job.status in JobExecution.TERMINAL:
            raise JobRejected(
                "InvalidStateTransition", f"Job execution is already {job.status}", job.state()
            )
        job.status = status
        if details is not None:
            job.status_details = details
        job.last_updated_at = now()
        if job.started_at is None and status == "IN_PROGRESS":
            job.started_at = job.last_updated_at
        job.version_number += 1
        job.history.append((status, dict(job.status_details)))
        self._jobs_changed(thing)
        response: dict[str, JSON] = {}
        if body.get("includeJobExecutionState"):
            response["executionState"] = job.state()
        if body.get("includeJobDocument"):
            response["jobDocument"] = copy.deepcopy(job.document)
        return response


class JobRejected(Exception):
    """A jobs request answered on ``/rejected`` ("Jobs device MQTT API": error codes)."""

    def __init__(
        self, code: str, message: str, execution_state: dict[str, JSON] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.execution_state = execution_state


def _status_details(body: Mapping[str, JSON]) -> dict[str, str] | None:
    details = body.get("statusDetails")
    if details is None:
        return None
    if not isinstance(details, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in details.items()
    ):
        raise JobRejected("InvalidRequest", "statusDetails must map strings to strings")
    return dict(details)
