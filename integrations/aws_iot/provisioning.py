"""Fleet provisioning by claim: an appliance's first boot gets its own certificate.

The appliance ships with a CLAIM certificate that may only provision. Over a
connection made with it, AWS's "Device provisioning MQTT API" is called:

1. ``$aws/certificates/create/json`` (CreateKeysAndCertificate) answers a new
   certificate, its private key and a ``certificateOwnershipToken`` (or, with
   ``csr=True``, ``$aws/certificates/create-from-csr/json`` signs a key made here);
2. ``$aws/provisioning-templates/<template>/provision/json`` (RegisterThing) with that
   token and the template's ``parameters`` answers the ``thingName`` (and the
   template's ``deviceConfiguration``) and activates the certificate.

The certificate and key are then stored in ``store_dir`` (mode 0600, the key file is
created 0600 before a byte is written, each file written aside and renamed, so a crash
never leaves half a key) and ``identity.json`` is written last: its presence means
"provisioned". :func:`stored_identity` reads it back, so provisioning runs once and
later boots (and restarts) connect with the stored identity directly. The connection
then reconnects with the new certificate (client.py's business).

A refusal raises :class:`ProvisioningError` with AWS's ``statusCode``, ``errorCode``
and ``errorMessage``; nothing is stored then.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import anyio

from gatehouse.core.helpers import write_private_file

from .errors import ProvisioningError
from .link import MqttLink

__all__ = ["ProvisionedIdentity", "ProvisioningError", "provision", "stored_identity"]

_LOGGER = logging.getLogger(__name__)

CREATE_TOPIC: Final = "$aws/certificates/create/json"
CSR_TOPIC: Final = "$aws/certificates/create-from-csr/json"
IDENTITY_FILE: Final = "identity.json"
CERT_FILE: Final = "certificate.pem.crt"
KEY_FILE: Final = "private.pem.key"
REQUEST_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class ProvisionedIdentity:
    """What provisioning produced: the thing to connect as, with these files."""

    thing_name: str
    cert_path: Path
    key_path: Path
    certificate_id: str = ""
    device_configuration: Mapping[str, str] = field(default_factory=dict)


def stored_identity(store_dir: Path | str) -> ProvisionedIdentity | None:
    """The identity a previous :func:`provision` stored, or None if there is none.

    Raises ProvisioningError (naming the file) when ``identity.json`` exists but is
    unreadable or its certificate/key is missing: provisioning again would register a
    second certificate, so a human should look.
    """
    directory = Path(store_dir)
    path = directory / IDENTITY_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvisioningError(f"{path}: cannot read the stored identity ({exc})") from exc
    try:
        data = json.loads(raw)
        thing = data["thing_name"]
        if not isinstance(thing, str) or not thing:
            raise TypeError("thing_name is not a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise ProvisioningError(f"{path}: the stored identity is not valid ({exc})") from exc
    identity = ProvisionedIdentity(
        thing_name=thing,
        cert_path=directory / CERT_FILE,
        key_path=directory / KEY_FILE,
        certificate_id=str(data.get("certificate_id", "")),
        device_configuration=dict(data.get("device_configuration") or {}),
    )
    for file in (identity.cert_path, identity.key_path):
        if not file.is_file():
            raise ProvisioningError(f"{file}: missing, but {path} says it was provisioned")
    return identity


def _key_and_csr() -> tuple[str, str]:
    """A new P-256 key (PKCS#8 PEM) and a CSR for it (PEM). Blocking (key generation)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatehouse")]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem.decode(), request.public_bytes(serialization.Encoding.PEM).decode()


def _store(directory: Path, identity: dict[str, Any], cert: str, key: str) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(directory / KEY_FILE, key.encode())
    write_private_file(directory / CERT_FILE, cert.encode())
    write_private_file(directory / IDENTITY_FILE, json.dumps(identity, indent=2).encode())
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _Answer:
    """The first answer on ``<topic>/accepted`` or ``<topic>/rejected``."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.kind = ""
        self.body: Any = None

    def __call__(self, topic: str, payload: bytes) -> None:
        if self.event.is_set():
            return
        try:
            self.body = json.loads(payload)
        except ValueError:
            self.body = None
        self.kind = topic.rsplit("/", 1)[1]
        self.event.set()


async def _request(
    link: MqttLink, topic: str, body: Mapping[str, Any], what: str, timeout: float
) -> dict[str, Any]:
    answer = _Answer()
    await link.subscribe(f"{topic}/accepted", answer)
    await link.subscribe(f"{topic}/rejected", answer)
    await link.publish(topic, json.dumps(body).encode())
    with anyio.move_on_after(timeout):
        await answer.event.wait()
    if not answer.event.is_set():
        raise ProvisioningError(f"{what}: no answer from AWS within {timeout:g} s")
    body_in = answer.body if isinstance(answer.body, dict) else {}
    if answer.kind != "accepted":
        code = str(body_in.get("errorCode", "?"))
        status = body_in.get("statusCode")
        raise ProvisioningError(
            f"{what} refused by AWS: {code} ({status}): {body_in.get('errorMessage', '')}",
            status_code=status if isinstance(status, int) else None,
            error_code=code,
        )
    return body_in


async def provision(
    link: MqttLink,
    *,
    template_name: str,
    parameters: Mapping[str, str],
    store_dir: Path | str,
    csr: bool = False,
    timeout: float = REQUEST_TIMEOUT,
) -> ProvisionedIdentity:
    """Provision once over ``link`` (connected with the claim certificate).

    Returns the stored identity without any request when ``store_dir`` already has one.
    ``csr=True`` makes the key pair here and asks CreateCertificateFromCsr instead, so
    the private key never crosses the network (AWS's recommendation where the device
    can make keys; both are in the "Device provisioning MQTT API").
    """
    directory = Path(store_dir)
    existing = stored_identity(directory)
    if existing is not None:
        return existing
    if csr:
        key, request = await anyio.to_thread.run_sync(_key_and_csr)
        created = await _request(
            link,
            CSR_TOPIC,
            {"certificateSigningRequest": request},
            "CreateCertificateFromCsr",
            timeout,
        )
    else:
        created = await _request(link, CREATE_TOPIC, {}, "CreateKeysAndCertificate", timeout)
    try:
        cert = str(created["certificatePem"])
        if not csr:
            key = str(created["privateKey"])
        token = str(created["certificateOwnershipToken"])
        certificate_id = str(created.get("certificateId", ""))
    except KeyError as exc:
        raise ProvisioningError(f"the new certificate's answer lacks {exc}") from exc
    registered = await _request(
        link,
        f"$aws/provisioning-templates/{template_name}/provision/json",
        {"certificateOwnershipToken": token, "parameters": dict(parameters)},
        f"RegisterThing (template {template_name})",
        timeout,
    )
    thing = registered.get("thingName")
    if not isinstance(thing, str) or not thing:
        raise ProvisioningError("RegisterThing answer lacks thingName")
    config = registered.get("deviceConfiguration") or {}
    await anyio.to_thread.run_sync(
        _store,
        directory,
        {
            "thing_name": thing,
            "certificate_id": certificate_id,
            "template_name": template_name,
            "device_configuration": config if isinstance(config, dict) else {},
        },
        cert,
        key,
    )
    _LOGGER.info("provisioned as thing %s (certificate %s)", thing, certificate_id[:12])
    identity = stored_identity(directory)
    assert identity is not None
    return identity
