"""Our CA in real TLS: a Mosquitto with our server certificate, our CA as its trust and
``require_certificate true`` takes our device certificates, refuses a revoked one once
it reads our CRL, and the mqtt integration connects with a certificate we issued."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pkitools import broker_for, try_connect

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.helpers import CertificateAuthority, IssuedCert, certificate_authority
from gatehouse.core.testing import (
    Mosquitto,
    add_entry,
    make_pki,
    state_of,
    wait_until,
    wait_until_sync,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ca(config_dir: Path) -> CertificateAuthority:
    authority = certificate_authority(config_dir)
    authority.init("Plant CA")
    return authority


@pytest.fixture
def server(ca: CertificateAuthority) -> IssuedCert:
    # The IP address in the SAN is what lets clients dialling 127.0.0.1 verify it.
    return ca.issue_server(["localhost", "127.0.0.1"])


@pytest.fixture
def broker(tmp_path: Path, ca: CertificateAuthority, server: IssuedCert) -> Iterator[Mosquitto]:
    running = broker_for(tmp_path / "broker", ca, server)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _connect(broker: Mosquitto, ca: CertificateAuthority, cert: IssuedCert) -> tuple[bool, str]:
    return try_connect(broker.tls_port, ca.ca_cert_path, cert.cert_path, cert.key_path,
                       client_id=cert.common_name)


def test_device_certificate_accepted_then_refused_after_revocation(
    broker: Mosquitto, ca: CertificateAuthority, tmp_path: Path
) -> None:
    keep = ca.issue_device("plc-01")
    lose = ca.issue_device("plc-02", rsa=True)
    assert _connect(broker, ca, keep) == (True, "Success"), broker.log_text()
    assert _connect(broker, ca, lose) == (True, "Success"), broker.log_text()
    # The control: a certificate from another CA is refused (so a refusal is detected).
    other = make_pki(tmp_path / "other").client()
    accepted, _why = try_connect(broker.tls_port, ca.ca_cert_path, other.cert, other.key)
    assert not accepted

    ca.revoke(lose.serial)
    broker.restart()  # Mosquitto reads its crlfile when a listener starts
    failures = broker.log_text().count("certificate verify failed")
    accepted, why = _connect(broker, ca, lose)
    assert not accepted, why
    # Mosquitto 2.0 logs no reason, only that verification failed: the one change
    # between the accepted and the refused attempt is the serial in the CRL.
    wait_until_sync(
        lambda: broker.log_text().count("certificate verify failed") == failures + 1,
        message="the broker never logged the refused handshake")
    assert _connect(broker, ca, keep) == (True, "Success"), broker.log_text()


def test_without_the_crl_a_revoked_certificate_still_gets_in(
    tmp_path: Path, ca: CertificateAuthority, server: IssuedCert
) -> None:
    # Why the CRL matters: revocation is a list the broker must be given.
    device = ca.issue_device("plc-03")
    ca.revoke(device.serial)
    broker = broker_for(tmp_path / "no-crl", ca, server, crl=False)
    broker.start()
    try:
        assert _connect(broker, ca, device) == (True, "Success")
    finally:
        broker.stop()


@pytest.mark.anyio
async def test_mqtt_integration_connects_with_our_certificates(
    broker: Mosquitto, ca: CertificateAuthority, host: Host
) -> None:
    gateway = ca.issue_device("gatehouse-gw")
    entry = await add_entry(host, "mqtt", {
        "broker": "127.0.0.1", "port": broker.tls_port, "ca_certs": str(ca.ca_cert_path),
        "client_cert": str(gateway.cert_path), "client_key": str(gateway.key_path),
        "sensor": [{"name": "Secure", "unique_id": "secure", "state_topic": "secure/v"}],
    })
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    await host.services.call("mqtt", "publish", {"topic": "secure/v", "payload": "7"})
    await wait_until(lambda: state_of(host, "sensor.secure") == "7")
    # The broker knows us by the certificate's CN (use_identity_as_username).
    assert "u'gatehouse-gw'" in broker.log_text()

    revoked = ca.issue_device("gatehouse-old")
    ca.revoke(revoked.serial)
    broker.restart()
    refused = await add_entry(host, "mqtt", {
        "broker": "127.0.0.1", "port": broker.tls_port, "ca_certs": str(ca.ca_cert_path),
        "client_cert": str(revoked.cert_path), "client_key": str(revoked.key_path),
        "client_id": "gatehouse-old", "connect_timeout": 3,
    }, unique_id="old")
    assert refused.state is ConfigEntryState.SETUP_RETRY, refused.reason
    await host.config_entries.unload(refused.entry_id)


def test_a_sighup_makes_mosquitto_read_the_new_crl(
    broker: Mosquitto, ca: CertificateAuthority
) -> None:
    # No restart needed: Mosquitto rebuilds a listener's TLS context (CRL included) on
    # SIGHUP, so connected devices that are still trusted stay connected.
    device = ca.issue_device("plc-04")
    assert _connect(broker, ca, device) == (True, "Success"), broker.log_text()
    ca.revoke(device.serial)
    # Until told, the broker holds the CRL it read: the revoked device still gets in.
    assert _connect(broker, ca, device) == (True, "Success")
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGHUP)
    wait_until_sync(lambda: not _connect(broker, ca, device)[0],
                    message="the revoked certificate still connects after SIGHUP")
    assert broker.running
