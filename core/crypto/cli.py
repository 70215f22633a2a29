"""``gatehouse keys``: list, rotate and export keys, and decrypt envelopes.

::

    gatehouse keys list    [-c DIR | --keyring FILE] [--json]
    gatehouse keys rotate  [-c DIR | --keyring FILE]
    gatehouse keys export  [-c DIR | --keyring FILE] --out FILE [KID ...]
    gatehouse keys decrypt [-c DIR | --keyring FILE] [--json] < envelope.json

``decrypt`` is the consumer's tool: it reads one envelope (a JSON object, pretty or
not) or many (JSON lines) from stdin and writes each plaintext followed by a newline
(``--json``: one ``{"entity_id", "seq", "kid", "value"}`` object per line). It needs
only a keyring file, such as one made by ``export`` (decrypt-only: ``current: null``).
No command prints key material. A running host notices a rotation within two seconds.

Exit codes (``gatehouse.core.cli``'s): 0 ok, 1 failed (keyring unreadable), 2 usage,
5 a key is not in the keyring (``KeyMissingError``), 6 an envelope is malformed or does
not authenticate (``DecryptError``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cipher import TagCipher
from .envelope import loads, parse
from .errors import DecryptError, KeyMissingError, KeyringError
from .keyring import Keyring, keyring_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INVALID_DATA = 0, 1, 2, 5, 6


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse keys",
                                     description="Tag encryption keys (keyring.json).")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    def where(p: argparse.ArgumentParser) -> None:
        p.add_argument("-c", "--config", type=Path,
                       default=Path(os.environ.get("GATEHOUSE_CONFIG", "config")),
                       metavar="DIR", help="config directory (keyring in DIR/.storage/)")
        p.add_argument("--keyring", type=Path, metavar="FILE",
                       help="a keyring file (instead of the config directory's)")

    ls = sub.add_parser("list", help="the keys: id, created, nonce epoch, current")
    where(ls)
    ls.add_argument("--json", action="store_true", help="print JSON")
    rotate = sub.add_parser("rotate", help="add a key for new data (old keys still decrypt)")
    where(rotate)
    export = sub.add_parser("export", help="write a decrypt-only keyring for a consumer")
    where(export)
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.add_argument("kids", nargs="*", metavar="KID", help="keys to export (default all)")
    decrypt = sub.add_parser("decrypt", help="decrypt envelopes read from stdin")
    where(decrypt)
    decrypt.add_argument("--json", action="store_true",
                         help="one JSON object per envelope (entity_id, seq, kid, value)")
    return parser


def cli_main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    keyring = Keyring(args.keyring if args.keyring is not None else keyring_path(args.config))
    try:
        if args.action == "list":
            return _list(keyring, as_json=args.json)
        if args.action == "rotate":
            kid = keyring.rotate()
            _out(f"new current key {kid} in {keyring.path} (older keys still decrypt)")
            _audit(args, "key.rotate", kid, {"purpose": "tag"})
            return EXIT_OK
        if args.action == "export":
            if args.out.resolve() == keyring.path.resolve():
                _err("error: --out is the keyring itself")
                return EXIT_USAGE
            if not keyring.exists():
                _err(f"error: no keyring at {keyring.path}")
                return EXIT_NOT_FOUND
            args.out.parent.mkdir(parents=True, exist_ok=True)
            kids = keyring.export(args.out, args.kids or None)
            _out(f"wrote {len(kids)} key(s) to {args.out} (decrypt-only): {', '.join(kids)}")
            _audit(args, "key.export", ",".join(kids), {"purpose": "tag", "out": str(args.out)})
            return EXIT_OK
        return _decrypt(keyring, sys.stdin.buffer.read(), as_json=args.json)
    except KeyMissingError as err:
        _err(f"error: {err}")
        return EXIT_NOT_FOUND
    except DecryptError as err:
        _err(f"error: {err}")
        return EXIT_INVALID_DATA
    except (KeyringError, OSError) as err:
        _err(f"error: {err}")
        return EXIT_FAILED


def _audit(args: argparse.Namespace, action: str, kids: str, details: dict[str, Any]) -> None:
    """The operation into the config's audit log (only for a config directory's
    keyring: a loose ``--keyring`` file belongs to no host)."""
    if args.keyring is not None:
        return
    from ..cli_audit import record_cli_operation

    record_cli_operation(args.config, action, f"key:{kids}", details)


def _list(keyring: Keyring, *, as_json: bool) -> int:
    if not keyring.exists():
        _err(f"error: no keyring at {keyring.path} (one is made by the first "
             "encryption, or by 'gatehouse keys rotate')")
        return EXIT_NOT_FOUND
    infos = keyring.load().infos()
    if as_json:
        _out(json.dumps([{"kid": i.kid, "created": i.created, "epoch": i.epoch,
                           "current": i.current} for i in infos], indent=2))
        return EXIT_OK
    for info in infos:
        mark = "current" if info.current else "decrypt-only"
        _out(f"{info.kid}  created {info.created}  epoch {info.epoch}  {mark}")
    if not infos:
        _out("no keys")
    return EXIT_OK


def _envelopes(data: bytes) -> Iterator[dict[str, Any]]:
    """One JSON document, or JSON lines."""
    text = data.decode("utf-8", errors="strict").strip()
    if not text:
        raise DecryptError("no envelope on stdin")
    try:
        doc = json.loads(text)
    except ValueError:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield loads(line)
                except DecryptError as err:
                    raise DecryptError(f"line {number}: {err.reason}") from None
        return
    for item in doc if isinstance(doc, list) else [doc]:
        if not isinstance(item, dict):
            raise DecryptError(f"expected a JSON object, got {type(item).__name__}")
        yield item


def _decrypt(keyring: Keyring, data: bytes, *, as_json: bool) -> int:
    if not keyring.exists():
        _err(f"error: no keyring at {keyring.path}")
        return EXIT_NOT_FOUND
    cipher = TagCipher(keyring)  # decrypt-only: never takes an epoch or makes a key
    out = sys.stdout.buffer
    for envelope in _envelopes(data):
        plaintext = cipher.decrypt(envelope)
        if as_json:
            parsed = parse(envelope)
            record = {"entity_id": parsed.entity_id, "seq": parsed.seq, "kid": parsed.kid,
                      "value": plaintext.decode("utf-8", errors="replace")}
            out.write(json.dumps(record).encode() + b"\n")
        else:
            out.write(plaintext + b"\n")
        out.flush()
    return EXIT_OK
