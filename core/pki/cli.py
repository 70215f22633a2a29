"""``gatehouse certs``: the certificate authority from the command line.

Works on the config directory's files directly (no running host needed, like
``check-config``): ``-c/--config DIR`` after the action, as for every command. Errors
are one line on stderr naming what is wrong, with the exit codes of ``gatehouse``:
1 refused (a CA already exists, a name is taken), 5 not found (no CA yet, unknown
serial), 6 invalid input (a bad host name, days out of range).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import GatehouseError
from .authority import DEFAULT_CA_DAYS, DEFAULT_CRL_DAYS, DEFAULT_LEAF_DAYS, certificate_authority
from .errors import CaMissingError, PkiInputError, UnknownSerialError
from .model import CertInfo, IssuedCert
from .validate import parse_serial

EXIT_OK, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_INVALID_DATA = 0, 1, 5, 6


def add_certs_parser(
    sub: Any, config_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``certs`` and its actions to the ``gatehouse`` sub-parsers."""
    certs = sub.add_parser("certs", help="the certificate authority: init-ca, issue-server, "
                           "issue-device, list, revoke, crl")
    csub = certs.add_subparsers(dest="action", metavar="ACTION")
    csub.required = True

    init = csub.add_parser("init-ca", help="make the CA (key 0600) in <config>/pki/")
    config_arg(init)
    init.add_argument("--cn", default="Gatehouse CA", help="CA common name")
    init.add_argument("--rsa", action="store_true", help="RSA 3072 instead of ECDSA P-256")
    init.add_argument("--days", type=int, default=DEFAULT_CA_DAYS,
                      help=f"validity in days (default {DEFAULT_CA_DAYS})")

    server = csub.add_parser("issue-server", help="a TLS server certificate for HOST...")
    config_arg(server)
    server.add_argument("hosts", nargs="+", metavar="HOST",
                        help="DNS names and IP addresses (all go into the SAN)")
    _leaf_options(server)

    device = csub.add_parser("issue-device", help="a client certificate with CN = NAME")
    config_arg(device)
    device.add_argument("name", metavar="NAME", help="device name (the MQTT username)")
    device.add_argument("--uri", default=None,
                        help="a URI SAN, e.g. the OPC UA application URI (use with --rsa)")
    _leaf_options(device)

    listing = csub.add_parser("list", help="every certificate the CA made")
    config_arg(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")

    revoke = csub.add_parser("revoke", help="revoke a certificate and rewrite crl.pem")
    config_arg(revoke)
    revoke.add_argument("serial", metavar="SERIAL", help="hex serial, as 'list' prints it")

    crl = csub.add_parser("crl", help="sign a fresh CRL (PEM) to stdout or --out FILE")
    config_arg(crl)
    crl.add_argument("--out", type=Path, default=None, metavar="FILE",
                     help="also write it here (it is always written to <config>/pki/crl.pem)")
    crl.add_argument("--days", type=int, default=DEFAULT_CRL_DAYS,
                     help=f"days until the CRL's next update (default {DEFAULT_CRL_DAYS})")


def _leaf_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=DEFAULT_LEAF_DAYS,
                        help=f"validity in days (default {DEFAULT_LEAF_DAYS})")
    parser.add_argument("--rsa", action="store_true", help="RSA 3072 instead of ECDSA P-256")
    parser.add_argument("--replace", action="store_true",
                        help="renew: revoke the current certificate of this name once the "
                             "new one is issued")


def run_certs(args: argparse.Namespace) -> int:
    """Run ``gatehouse certs <action>``; returns the exit code."""
    try:
        return _ACTIONS[args.action](args)
    except (CaMissingError, UnknownSerialError) as err:
        _err(f"error: {err}")
        return EXIT_NOT_FOUND
    except PkiInputError as err:
        _err(f"error: {err}")
        return EXIT_INVALID_DATA
    except (GatehouseError, OSError) as err:
        _err(f"error: {err}")
        return EXIT_FAILED


def _init(args: argparse.Namespace) -> int:
    ca = certificate_authority(args.config)
    info = ca.init(args.cn, rsa=args.rsa, days=args.days)
    algorithm = "RSA 3072" if args.rsa else "ECDSA P-256"
    _out(f"CA {info.common_name!r} ({algorithm}), serial {info.serial_hex}, "
          f"valid until {_day(info.not_after)}")
    _out(f"  certificate: {ca.ca_cert_path}  (give this to brokers and devices)")
    _out(f"  key:         {ca.ca_key_path}  (mode 0600, keep it on this machine)")
    _out(f"  CRL:         {ca.crl_path}")
    _audit(args, "cert.init_ca", info.serial, {"kind": "ca", "cn": info.common_name,
                                               "not_after": _day(info.not_after)})
    return EXIT_OK


def _audit(args: argparse.Namespace, action: str, serial: int | None,
           details: dict[str, Any]) -> None:
    """The operation into the audit log (``gatehouse.core.cli_audit``; never fails it)."""
    from ..cli_audit import record_cli_operation

    record_cli_operation(args.config, action, None if serial is None else f"cert:{serial:X}",
                         details)


def _show_issued(args: argparse.Namespace, issued: IssuedCert) -> int:
    _audit(args, "cert.issue", issued.serial, {"kind": str(issued.kind),
                                               "cn": issued.common_name,
                                               "not_after": _day(issued.not_after)})
    _out(f"{issued.kind} certificate {issued.common_name!r}, serial {issued.serial:X}, "
          f"valid until {_day(issued.not_after)}")
    _out(f"  certificate: {issued.cert_path}")
    _out(f"  key:         {issued.key_path}  (mode 0600)")
    return EXIT_OK


def _issue_server(args: argparse.Namespace) -> int:
    ca = certificate_authority(args.config)
    return _show_issued(args, ca.issue_server(args.hosts, days=args.days, rsa=args.rsa,
                                        replace=args.replace))


def _issue_device(args: argparse.Namespace) -> int:
    ca = certificate_authority(args.config)
    return _show_issued(args, ca.issue_device(args.name, days=args.days, rsa=args.rsa,
                                        uri=args.uri, replace=args.replace))


def _status(info: CertInfo, now: dt.datetime) -> str:
    if info.revoked:
        return "revoked"
    return "expired" if info.not_after <= now else "valid"


def _list(args: argparse.Namespace) -> int:
    certs = certificate_authority(args.config).list()
    now = dt.datetime.now(dt.UTC)
    if args.json:
        _out(json.dumps([
            {"serial": c.serial_hex, "kind": c.kind, "common_name": c.common_name,
             "not_after": c.not_after.isoformat(), "status": _status(c, now),
             "days_left": round(c.days_left(now), 1), "sans": list(c.sans),
             "path": str(c.path)}
            for c in certs
        ], indent=2))
        return EXIT_OK
    width = max(len(c.common_name) for c in certs)
    _out(f"{'SERIAL':<16}  {'KIND':<6}  {'NAME':<{width}}  {'NOT AFTER':<10}  STATUS")
    for c in certs:
        _out(f"{c.serial_hex:<16}  {c.kind:<6}  {c.common_name:<{width}}  "
              f"{_day(c.not_after):<10}  {_status(c, now)}")
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    ca = certificate_authority(args.config)
    info = ca.revoke(parse_serial(args.serial))
    _audit(args, "cert.revoke", info.serial, {"kind": str(info.kind), "cn": info.common_name})
    _out(f"revoked {info.serial_hex} ({info.kind} {info.common_name!r}); "
          f"CRL written to {ca.crl_path}")
    _out("  Mosquitto reads its crlfile at start and on SIGHUP: reload it (kill -HUP <pid>) "
         "to refuse the device")
    return EXIT_OK


def _crl(args: argparse.Namespace) -> int:
    pem = certificate_authority(args.config).crl_pem(days=args.days)
    if args.out is None:
        sys.stdout.write(pem.decode())
        return EXIT_OK
    args.out.write_bytes(pem)
    _out(f"CRL written to {args.out}")
    return EXIT_OK


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _day(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d}"


_ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init-ca": _init,
    "issue-server": _issue_server,
    "issue-device": _issue_device,
    "list": _list,
    "revoke": _revoke,
    "crl": _crl,
}
