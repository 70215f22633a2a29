"""Checkpoints as signed notes, after C2SP ``signed-note`` and ``tlog-checkpoint``.

A checkpoint note is UTF-8 text::

    gatehouse-audit/<log id>              origin: names the log (and its key)
    <tree size>                           seq of the last record covered (decimal)
    <base64 SHA-256 of that record>       root: the record's stored line, hashed
    time <unix seconds>                   extension line: when it was signed
                                          (empty line)
    — <key name> <base64(key id || Ed25519 signature)>

The signature covers the note body: the four lines above the empty line, each ending in
``\\n``. The key name is the origin; the key id is the first 4 bytes of
``SHA-256(name || "\\n" || 0x01 || public key)`` (0x01: Ed25519, as C2SP says). The
public key is exported as a C2SP verifier key, one line: ``<name>+<key id hex>+<base64(
0x01 || public key)>`` (``audit_ed25519.pub``). Unlike a Merkle tlog the "root" is the
head of a hash chain: each record holds the hash of the one before, so the last
record's hash commits to the whole log before it.

Every base64 field is checked for canonical form (re-encoding gives the same text):
otherwise a change to the unused low bits of the last character would decode to the
same bytes and go unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import AuditFormatError, AuditKeyError

ORIGIN_PREFIX: Final = "gatehouse-audit/"
ALG_ED25519: Final = b"\x01"
_DASH: Final = "\u2014"
_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_TIME = re.compile(r"time (0|[1-9][0-9]{0,11})")


def b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard base64 only if ``text`` is exactly how those bytes encode."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AuditFormatError(f"{what}: not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise AuditFormatError(f"{what}: not canonical base64")
    return raw


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A C2SP verifier key: the name (origin), key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold "+", a name may not
        if len(parts) != 3 or not _NAME.fullmatch(parts[0]):
            raise AuditKeyError("verifier key: expected <name>+<key id hex>+<base64 key>")
        name, hex_id, b64 = parts
        try:
            blob = b64decode_canonical(b64, "verifier key")
            kid = bytes.fromhex(hex_id)
        except (AuditFormatError, ValueError) as err:
            raise AuditKeyError(f"verifier key: {err}") from None
        if len(blob) != 33 or blob[:1] != ALG_ED25519:
            raise AuditKeyError("verifier key: not an Ed25519 key (0x01 + 32 bytes)")
        if key_id(name, blob[1:]) != kid:
            raise AuditKeyError("verifier key: key id does not match name and key")
        return cls(name, kid, Ed25519PublicKey.from_public_bytes(blob[1:]))

    def text(self) -> str:
        blob = ALG_ED25519 + raw_public(self.public)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(blob).decode()}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a verified note says."""

    origin: str
    size: int
    root: bytes
    time: int
    text: str


def sign(private: Ed25519PrivateKey, origin: str, size: int, root: bytes, when: int) -> str:
    """The signed note for the log ``origin`` at ``size`` with the given root hash."""
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {when}\n"
    public = raw_public(private.public_key())
    signature = private.sign(body.encode())
    blob = base64.b64encode(key_id(origin, public) + signature).decode()
    return f"{body}\n{_DASH} {origin} {blob}\n"


def verify(text: str, verifier: Verifier) -> Checkpoint:
    """Parse ``text`` and check its signature by ``verifier``; raises AuditFormatError."""
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise AuditFormatError("checkpoint: no empty line before the signature")
    lines = body.split("\n")
    if len(lines) != 4:
        raise AuditFormatError(f"checkpoint: {len(lines)} body lines, expected 4")
    origin, size, root_b64, when = lines
    if origin != verifier.name:
        raise AuditFormatError(
            f"checkpoint: origin {origin!r} is another log than the key's {verifier.name!r}"
        )
    if not _SIZE.fullmatch(size):
        raise AuditFormatError("checkpoint: tree size is not a decimal number")
    root = b64decode_canonical(root_b64, "checkpoint root")
    if len(root) != 32:
        raise AuditFormatError("checkpoint root: not 32 bytes")
    match = _TIME.fullmatch(when)
    if match is None:
        raise AuditFormatError("checkpoint: the time line is malformed")
    sig_lines = signatures.split("\n")
    if len(sig_lines) != 2 or sig_lines[1] != "":
        raise AuditFormatError("checkpoint: expected one signature line ending in a newline")
    prefix = f"{_DASH} {verifier.name} "
    if not sig_lines[0].startswith(prefix):
        raise AuditFormatError("checkpoint: no signature line by this key's name")
    blob = b64decode_canonical(sig_lines[0][len(prefix):], "checkpoint signature")
    if len(blob) != 68 or blob[:4] != verifier.key_id:
        raise AuditFormatError("checkpoint: signed by another key (key id differs)")
    try:
        verifier.public.verify(blob[4:], (body + "\n").encode())
    except InvalidSignature:
        raise AuditFormatError("checkpoint: bad signature") from None
    return Checkpoint(origin, int(size), root, int(match.group(1)), text)
