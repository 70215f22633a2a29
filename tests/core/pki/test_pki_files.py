"""Expiry read back from files anyone gave us: PEM, DER, chains, CRLs, and what is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gatehouse.core.helpers import (
    PkiIndexError,
    certificate_authority,
    read_certificate_expiry,
    read_crl_expiry,
)


def test_pem_der_and_a_chain_give_the_leaf(tmp_path: Path) -> None:
    ca = certificate_authority(tmp_path)
    ca.init("Plant CA")
    issued = ca.issue_server(["gw.local"], days=40)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issued.cert_pem + ca.ca_cert_pem())
    der = tmp_path / "leaf.der"
    der.write_bytes(x509.load_pem_x509_certificate(issued.cert_pem).public_bytes(
        serialization.Encoding.DER))
    for path in (issued.cert_path, chain, der):
        found = read_certificate_expiry(path)
        assert (found.common_name, found.not_after, found.serial) == (
            "gw.local", issued.not_after, issued.serial)
    crl = read_crl_expiry(ca.crl_path)
    assert crl.kind == "crl" and crl.common_name == "Plant CA"


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"hello", "not a certificate"), (b"-----BEGIN CERTIFICATE-----\nAAAA\n", "not a"),
     (b"x" * ((1 << 20) + 1), "larger than")],
)
def test_what_is_not_a_certificate_is_named(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "thing.pem"
    path.write_bytes(content)
    with pytest.raises(PkiIndexError, match=why) as caught:
        read_certificate_expiry(path)
    assert caught.value.path == path


def test_missing_files_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(PkiIndexError, match="cannot read"):
        read_certificate_expiry(tmp_path / "nope.pem")
    with pytest.raises(PkiIndexError, match="cannot read"):
        read_certificate_expiry(tmp_path)
    with pytest.raises(PkiIndexError, match="not a PEM CRL"):
        (tmp_path / "x.crl").write_text("nope")
        read_crl_expiry(tmp_path / "x.crl")


def test_a_device_file_is_not_read_whole() -> None:
    with pytest.raises(PkiIndexError, match="larger than"):
        read_certificate_expiry(Path("/dev/zero"))
