"""The certificate authority on disk: what it signs, where, with which modes, and what it
refuses (before init, unknown serials, name clashes, bad hosts and names)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gatehouse.core.helpers import (
    CaExistsError,
    CaMissingError,
    CertificateAuthority,
    NameClashError,
    PkiIndexError,
    PkiInputError,
    UnknownSerialError,
    certificate_authority,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    authority = certificate_authority(tmp_path)
    authority.init("Plant CA")
    return authority


def test_init_makes_an_ecdsa_ca_with_a_private_key(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path)
    assert not ca.exists()
    info = ca.init("Plant CA", days=100)
    assert ca.exists() and ca.directory == tmp_path / "pki"
    assert _mode(ca.directory) == 0o700
    assert _mode(ca.ca_key_path) == 0o600
    assert _mode(ca.index_path) == 0o600
    cert = _cert(ca.ca_cert_path)
    assert _cn(cert) == "Plant CA" and info.kind == "ca" and info.serial == cert.serial_number
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=99) < lifetime <= dt.timedelta(days=100)
    cert.verify_directly_issued_by(cert)  # self-signed, and the signature holds
    assert ca.ca_cert_pem() == ca.ca_cert_path.read_bytes()
    assert [c.kind for c in ca.list()] == ["ca"]


def test_rsa_on_request(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path)
    ca.init(rsa=True)
    key = _cert(ca.ca_cert_path).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
    issued = ca.issue_device("plc-01", rsa=True)
    leaf = _cert(issued.cert_path).public_key()
    assert isinstance(leaf, rsa.RSAPublicKey) and leaf.key_size == 3072


def test_a_second_init_is_refused_and_changes_nothing(ca: CertificateAuthority) -> None:
    before = ca.ca_key_path.read_bytes()
    with pytest.raises(CaExistsError, match="already exists") as caught:
        ca.init("Another")
    assert ca.ca_key_path.read_bytes() == before
    assert caught.value.found == ["ca.crt", "ca.key", "index.json"]
    # Half a CA (a crash during init, a key restored alone) is named too, not replaced.
    ca.ca_cert_path.unlink()
    ca.index_path.unlink()
    assert not ca.exists()
    with pytest.raises(CaExistsError, match=r"found ca\.key"):
        ca.init("Another")
    assert ca.ca_key_path.read_bytes() == before


def test_server_certificate_has_every_host_in_the_san(ca: CertificateAuthority) -> None:
    issued = ca.issue_server(["broker.plant.local", "127.0.0.1", "::1", "*.plant.local"],
                             days=30)
    assert _mode(issued.key_path) == 0o600
    assert issued.key_pem == issued.key_path.read_bytes()
    cert = _cert(issued.cert_path)
    assert issued.cert_pem == issued.cert_path.read_bytes()
    assert cert.serial_number == issued.serial and _cn(cert) == "broker.plant.local"
    cert.verify_directly_issued_by(_cert(ca.ca_cert_path))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.plant.local", "*.plant.local"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issued.not_after == cert.not_valid_after_utc
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < lifetime <= dt.timedelta(days=30)


def test_device_certificate_is_a_client_identity(ca: CertificateAuthority) -> None:
    issued = ca.issue_device("plc-01", uri="urn:plc-01:gatehouse")
    cert = _cert(issued.cert_path)
    assert _cn(cert) == "plc-01" and issued.common_name == "plc-01"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:plc-01:gatehouse"]
    assert _mode(issued.key_path) == 0o600
    assert issued.key_path.parent == ca.directory / "issued" and _mode(
        issued.key_path.parent) == 0o700
    listed = {c.serial: c for c in ca.list()}
    assert listed[issued.serial].sans == ("URI:urn:plc-01:gatehouse",)
    assert listed[issued.serial].path == issued.cert_path


def test_a_live_name_clashes_until_revoked_or_replaced(ca: CertificateAuthority) -> None:
    first = ca.issue_device("plc-01")
    with pytest.raises(NameClashError, match=f"serial {first.serial:X}") as caught:
        ca.issue_device("plc-01")
    assert caught.value.name == "plc-01"
    # The same name as a server is another identity: no clash.
    ca.issue_server(["plc-01"])
    second = ca.issue_device("plc-01", replace=True)
    by_serial = {c.serial: c for c in ca.list()}
    assert by_serial[first.serial].revoked and not by_serial[second.serial].revoked
    assert first.cert_path.exists() and first.cert_path != second.cert_path
    crl = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(first.serial) is not None
    ca.revoke(second.serial)
    ca.issue_device("plc-01")  # revoked: the name is free again


def test_revoke_puts_the_serial_in_a_signed_crl(ca: CertificateAuthority) -> None:
    keep = ca.issue_device("keep")
    gone = ca.issue_device("gone")
    empty = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert len(empty) == 0
    info = ca.revoke(gone.serial)
    assert info.revoked and info.revoked_at is not None
    crl = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    ca_cert = _cert(ca.ca_cert_path)
    assert crl.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == ca_cert.subject
    assert crl.get_revoked_certificate_by_serial_number(gone.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(keep.serial) is None
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=364)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    # crl_pem signs a fresh one: same list, next number, a next update as asked.
    fresh = x509.load_pem_x509_crl(ca.crl_pem(days=7))
    assert fresh.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number \
        == number + 1
    assert [r.serial_number for r in fresh] == [gone.serial]
    assert fresh.next_update_utc is not None
    assert fresh.next_update_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    assert ca.crl_path.read_bytes() == fresh.public_bytes(serialization.Encoding.PEM)
    # Revoking again changes nothing (a button pressed twice).
    assert ca.revoke(gone.serial).revoked_at == info.revoked_at


def test_everything_needs_the_ca_first(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path)
    for call in (lambda: ca.issue_device("plc-01"), lambda: ca.issue_server(["x"]),
                 lambda: ca.revoke(1), ca.crl_pem, ca.list, ca.ca_cert_pem):
        with pytest.raises(CaMissingError, match="gatehouse certs init-ca"):
            call()
    assert not (tmp_path / "pki" / "issued").exists()


def test_unknown_serial_and_the_ca_itself_cannot_be_revoked(ca: CertificateAuthority) -> None:
    with pytest.raises(UnknownSerialError, match="ABC123"):
        ca.revoke(0xABC123)
    own = ca.list()[0]
    with pytest.raises(PkiInputError, match="the CA itself"):
        ca.revoke(own.serial)
    assert not ca.list()[0].revoked


@pytest.mark.parametrize(
    ("hosts", "why"),
    [([], "at least one"), (["bad host"], "neither an IP"), (["-x.local"], "neither"),
     (["a..b"], "neither"), (["küche.local"], "xn--"), (["gw", "GW"], "twice")],
)
def test_bad_hosts_are_refused_by_name(
    ca: CertificateAuthority, hosts: list[str], why: str
) -> None:
    with pytest.raises(PkiInputError, match=why):
        ca.issue_server(hosts)
    assert [c.kind for c in ca.list()] == ["ca"]


@pytest.mark.parametrize("name", ["", "a b", "site/plc", "plc#1", "+", "x" * 65, "-lead"])
def test_bad_device_names_are_refused(ca: CertificateAuthority, name: str) -> None:
    with pytest.raises(PkiInputError, match="device name"):
        ca.issue_device(name)


@pytest.mark.parametrize("days", [0, -1, 36501])
def test_validity_out_of_range_is_refused(ca: CertificateAuthority, days: int) -> None:
    with pytest.raises(PkiInputError, match="days"):
        ca.issue_device("plc-01", days=days)


def test_a_leaf_may_not_outlive_its_ca(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path)
    ca.init(days=10)
    with pytest.raises(PkiInputError, match="outlive the CA"):
        ca.issue_device("plc-01", days=11)
    ca.issue_device("plc-01", days=9)


def test_bad_uri_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(PkiInputError, match="no scheme"):
        ca.issue_device("plc-01", uri="just-a-name")
    with pytest.raises(PkiInputError, match="no spaces"):
        ca.issue_device("plc-01", uri="urn:a b")


def test_the_index_is_versioned_and_a_newer_one_is_refused(ca: CertificateAuthority) -> None:
    issued = ca.issue_device("plc-01")
    data = json.loads(ca.index_path.read_text())
    assert data["version"] == 1
    assert [c["serial"] for c in data["certificates"]][1] == f"{issued.serial:X}"
    assert data["certificates"][1]["cert"].startswith("issued/")  # relative: movable
    # A fresh object reads the same index.
    again = certificate_authority(ca.directory.parent)
    assert [c.serial for c in again.list()] == [c.serial for c in ca.list()]
    data["version"] = 2
    ca.index_path.write_text(json.dumps(data))
    with pytest.raises(PkiIndexError, match="newer Gatehouse") as caught:
        ca.list()
    assert caught.value.path == ca.index_path


def test_a_damaged_index_names_the_file_and_entry(ca: CertificateAuthority) -> None:
    ca.index_path.write_text("{not json")
    with pytest.raises(PkiIndexError, match=r"index\.json: unreadable"):
        ca.issue_device("plc-01")
    ca.index_path.write_text(json.dumps(
        {"version": 1, "crl_number": 1, "certificates": [{"kind": "ca"}]}))
    with pytest.raises(PkiIndexError, match=r"certificates\[0\]"):
        ca.list()


def test_concurrent_issues_all_land_in_the_index(ca: CertificateAuthority) -> None:
    # Two processes or threads at once: the flock keeps every certificate and serial.
    errors: list[BaseException] = []

    def issue(n: int) -> None:
        try:
            certificate_authority(ca.directory.parent).issue_device(f"dev-{n}")
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=issue, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = sorted(c.common_name for c in ca.list() if c.kind == "device")
    assert names == [f"dev-{n}" for n in range(8)]


def test_keys_stay_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ca = certificate_authority(tmp_path)
        ca.init()
        issued = ca.issue_device("plc-01")
    finally:
        os.umask(old)
    assert _mode(ca.ca_key_path) == 0o600 and _mode(issued.key_path) == 0o600
    assert _mode(ca.directory) == 0o700 and _mode(issued.key_path.parent) == 0o700
    assert _mode(issued.cert_path) == 0o644  # a certificate is public
    # The key never shows in a repr (logs, tracebacks).
    assert "PRIVATE KEY" not in repr(issued) and "key_pem" not in repr(issued)
