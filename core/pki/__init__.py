"""A small certificate authority for one Gatehouse install (``<config>/pki/``).

Why Gatehouse carries a CA: a plant brings hundreds of MQTT devices on board, each with
its own client certificate (Mosquitto's ``require_certificate`` and
``use_identity_as_username``), plus the broker's server certificate and the OPC UA
client's application certificate. Asking an operator to run ``openssl`` by hand for
each, and to keep track of which were revoked, is how plants end up with one shared
key on every device.

The modules, one job each:

* ``authority.py``: ``CertificateAuthority`` (init, issue, revoke, CRL; files and lock)
  and ``certificate_authority(config_dir)``;
* ``build.py``: the X.509 profile (keys, extensions, CRL) with no files;
* ``index.py``: the versioned JSON index of everything issued;
* ``validate.py``: names, hosts, URIs, days and serials as people type them;
* ``files.py``: expiry read back from PEM files (watched certificates, the CRL);
* ``model.py``: ``IssuedCert``, ``CertInfo``; ``errors.py``: the errors;
* ``cli.py``: ``gatehouse certs ...``.

Public through ``gatehouse.core.helpers``; import from there.
"""

from .authority import (
    DEFAULT_CA_DAYS,
    DEFAULT_CRL_DAYS,
    DEFAULT_LEAF_DAYS,
    PKI_DIR,
    CertificateAuthority,
    certificate_authority,
)
from .errors import (
    CaExistsError,
    CaMissingError,
    NameClashError,
    PkiError,
    PkiIndexError,
    PkiInputError,
    UnknownSerialError,
)
from .files import CertExpiry, read_certificate_expiry, read_crl_expiry
from .model import CertInfo, CertKind, IssuedCert
from .validate import parse_serial

__all__ = [
    "DEFAULT_CA_DAYS",
    "DEFAULT_CRL_DAYS",
    "DEFAULT_LEAF_DAYS",
    "PKI_DIR",
    "CaExistsError",
    "CaMissingError",
    "CertExpiry",
    "CertInfo",
    "CertKind",
    "CertificateAuthority",
    "IssuedCert",
    "NameClashError",
    "PkiError",
    "PkiIndexError",
    "PkiInputError",
    "UnknownSerialError",
    "certificate_authority",
    "parse_serial",
    "read_certificate_expiry",
    "read_crl_expiry",
]
