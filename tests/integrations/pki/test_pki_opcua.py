"""Our CA for OPC UA: an application certificate from ``issue_device(..., rsa=True,
uri=...)`` opens a Basic256Sha256 SignAndEncrypt session on the test kit's OPC UA server
when that server trusts our CA (asyncua's strictest validation: time, application URI,
key usage, EKU, chain, CRL), and is refused once revoked and the server has our CRL."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from asyncua import Client, ua
from asyncua.crypto import uacrypto
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.helpers import (
    CertificateAuthority,
    IssuedCert,
    certificate_authority,
    write_private_file,
)
from gatehouse.core.testing import LOOPBACK, add_entry, free_port, state_of, wait_until
from gatehouse.integrations.opcua.config import ENTRY_SCHEMA
from gatehouse.integrations.simulator.opcua_server import SERVER_CERT_FILE, OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

APP_URI = "urn:gatehouse:test:opcua-client"


class Served:
    """The running simulator, and the trust folders its validator reads."""

    def __init__(self, simulator: OpcuaSimulator, port: int, trust: TrustStore,
                 crl_dir: Path, certs_dir: Path) -> None:
        self.simulator = simulator
        self.server_cert = certs_dir / SERVER_CERT_FILE
        self.endpoint = f"opc.tcp://{LOOPBACK}:{port}/"
        self.trust = trust
        self.crl_dir = crl_dir


@pytest.fixture
def ca(config_dir: Path) -> CertificateAuthority:
    authority = certificate_authority(config_dir)
    authority.init("Plant CA", rsa=True)
    return authority


@pytest.fixture
async def served(tmp_path: Path, ca: CertificateAuthority) -> AsyncIterator[Served]:
    # An OPC UA server's trust list: our CA certificate in trusted/, our CRL in crl/
    # (asyncua reads only *.pem / *.der there).
    trusted, crl_dir = tmp_path / "trusted", tmp_path / "crl"
    trusted.mkdir()
    crl_dir.mkdir()
    shutil.copy(ca.ca_cert_path, trusted / "gatehouse-ca.pem")
    shutil.copy(ca.crl_path, crl_dir / "gatehouse-crl.pem")
    store = TrustStore([trusted], [crl_dir])
    await store.load()
    process = ProcessModel()
    process.tank_level = 42.0
    certs_dir = tmp_path / "sim"
    simulator = OpcuaSimulator(process, certs_dir=certs_dir, security=True,
                               step=False, update_interval=0.02)
    port = free_port()
    async with anyio.create_task_group() as tg:
        await tg.start(simulator.serve, LOOPBACK, port)
        assert simulator.server is not None
        simulator.server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION
            | CertificateValidatorOptions.PEER_CLIENT, store))
        try:
            yield Served(simulator, port, store, crl_dir, certs_dir)
        finally:
            tg.cancel_scope.cancel()


async def _read_level(served: Served, cert: IssuedCert, uri: str = APP_URI) -> float:
    client = Client(served.endpoint, timeout=5)
    client.application_uri = uri
    # asyncua takes a file as PEM only by its ".pem" suffix; ours are .crt/.key.
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        certificate=uacrypto.CertProperties(cert.cert_path, extension="pem"),
        private_key=uacrypto.CertProperties(cert.key_path, extension="pem"),
        mode=ua.MessageSecurityMode.SignAndEncrypt)
    async with client:
        value = await client.get_node(served.simulator.node_id("Tank.Level")).read_value()
    return float(value)


async def test_our_application_certificate_opens_a_secure_session(
    served: Served, ca: CertificateAuthority
) -> None:
    app = ca.issue_device("gatehouse-opcua", rsa=True, uri=APP_URI, days=30)
    assert await _read_level(served, app) == 42.0


async def test_a_wrong_uri_and_a_revoked_certificate_are_refused(
    served: Served, ca: CertificateAuthority
) -> None:
    app = ca.issue_device("gatehouse-opcua", rsa=True, uri=APP_URI, days=30)
    # The control: the same server refuses a certificate whose URI is not the client's.
    with pytest.raises(ua.UaStatusCodeError, match="BadCertificateUriInvalid"):
        await _read_level(served, app, uri="urn:someone:else")
    assert await _read_level(served, app) == 42.0

    ca.revoke(app.serial)
    shutil.copy(ca.crl_path, served.crl_dir / "gatehouse-crl.pem")
    await served.trust.load_crl()  # what an OPC UA server does when its crl/ changes
    with pytest.raises(ua.UaStatusCodeError, match="BadCertificateRevoked"):
        await _read_level(served, app)


async def test_the_opcua_integration_runs_on_our_certificate(
    served: Served, ca: CertificateAuthority, config_dir: Path, host: Host
) -> None:
    # Installed where the opcua integration keeps its identity (it reads the application
    # URI back from the certificate), and the server's certificate trusted by hand.
    app = ca.issue_device("gatehouse", rsa=True, uri=APP_URI, days=30)
    folder = config_dir / "opcua"
    (folder / "trusted").mkdir(parents=True)
    (folder / "client_cert.der").write_bytes(
        x509.load_pem_x509_certificate(app.cert_pem).public_bytes(serialization.Encoding.DER))
    write_private_file(folder / "client_key.pem", app.key_pem)
    shutil.copy(served.server_cert, folder / "trusted" / "sim.der")
    entry = await add_entry(host, "opcua", ENTRY_SCHEMA({
        "name": "Plant", "endpoint": served.endpoint, "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt", "auth": "anonymous", "request_timeout": 5,
        "nodes": [{"node": "nsu=urn:gatehouse:sim;s=Tank.Level", "platform": "sensor",
                   "name": "Tank Level"}],
    }))
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    await wait_until(lambda: state_of(host, "sensor.plant_tank_level") == "42.0")
    # Our certificate, not one the integration generated for itself.
    assert (folder / "client_key.pem").read_bytes() == app.key_pem
