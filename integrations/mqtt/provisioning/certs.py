"""The certificate side of provisioning: the house CA (``gatehouse certs``), the CRL
the broker reads, and the broker's reload.

The CA is ``certificate_authority(config_dir)`` from ``gatehouse.core.helpers`` (the
``core/pki`` package, ``<config>/pki/``). The password path works on a host whose CA is
not set up; only a certificate request says so (``CertificatesUnavailable``).

Revocation is only as good as the broker's copy of the CRL: Mosquitto reads
``crlfile`` when a listener is made and again on SIGHUP (``mosquitto_security_apply``
rebuilds the TLS context of listeners with a ``crlfile``). So a revocation rewrites
``crl_file`` and, when ``broker_pid_file`` is configured, sends the broker SIGHUP;
without it the report says the CRL waits for the broker's next reload. Every call here
blocks (files, key generation): run them in a worker thread.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from gatehouse.core.helpers import (
    CertificateAuthority,
    IssuedCert,
    certificate_authority,
    write_private_file,
)

from .errors import CertificatesUnavailable


def authority(config_dir: Path) -> CertificateAuthority:
    """The house CA, or ``CertificatesUnavailable`` saying what to do."""
    ca = certificate_authority(config_dir)
    if not ca.exists():
        raise CertificatesUnavailable(
            "the certificate authority is not set up yet: run 'gatehouse certs init-ca'")
    return ca


def ca_pem_or_none(config_dir: Path) -> bytes | None:
    """The CA certificate for a bundle, if there is a CA."""
    try:
        return authority(config_dir).ca_cert_pem()
    except CertificatesUnavailable:
        return None


def issue(config_dir: Path, name: str) -> IssuedCert:
    """A device certificate whose CN is ``name`` (a ``PkiError`` if the CA refuses:
    a live certificate for that name exists already, say)."""
    return authority(config_dir).issue_device(name)


def revoke(config_dir: Path, serial: int, crl_file: str | None,
           broker_pid_file: str | None) -> list[str]:
    """Revoke, publish the CRL to the broker, reload it; what was done, as notes."""
    ca = authority(config_dir)
    ca.revoke(serial)
    notes = [f"certificate {serial:x} revoked"]
    notes += write_crl(config_dir, crl_file, broker_pid_file)
    return notes


def write_crl(config_dir: Path, crl_file: str | None, broker_pid_file: str | None
              ) -> list[str]:
    """Write the CA's current CRL where the broker reads it and make the broker reload."""
    if not crl_file:
        return ["no crl_file configured: the broker does not know of the revocation "
                "(the device's broker client is disabled and stripped of its role)"]
    path = Path(crl_file)
    write_private_file(path, authority(config_dir).crl_pem())
    # The broker may run as another user: a CRL is public, so let it read the file.
    os.chmod(path, 0o644)
    notes = [f"CRL written to {path}"]
    if not broker_pid_file:
        return [*notes, "no broker_pid_file: the broker reads the CRL at its next reload"]
    try:
        pid = int(Path(broker_pid_file).read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as err:
        return [*notes, f"could not signal the broker ({broker_pid_file}): {err}"]
    return [*notes, f"broker (pid {pid}) told to reload"]
