"""The envelope: what an encrypted value looks like at rest and on the wire.

::

    {"enc": "aes256gcm", "kid": "20261204-9f3a1c2b", "nonce": "<base64, 12 bytes>",
     "ct": "<base64: ciphertext || 16-byte tag>", "entity_id": "sensor.recipe", "seq": 17}

The associated data (authenticated, not encrypted) is ``aad(entity_id, seq)``:
``"gatehouse-tag/1\\n<entity_id>\\n<seq>"`` in UTF-8. So an envelope copied onto another
entity, or replayed under another sequence number, fails its tag check exactly like a
flipped ciphertext bit. ``seq`` is last and an integer, so the encoding is unambiguous
whatever the entity id holds. Standard base64 with padding; ``ct`` is what
``cryptography``'s ``AESGCM.encrypt`` returns, so a consumer needs nothing of ours
(README: "Decrypting as a consumer").
"""

from __future__ import annotations

import base64
import binascii
import json
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import DecryptError
from .nonces import NONCE_BYTES

_string = json.encoder.encode_basestring_ascii

ENC: Final = "aes256gcm"
AAD_PREFIX: Final = "gatehouse-tag/1"
SEQ_MAX: Final = 2**63 - 1
TAG_BYTES: Final = 16
FIELDS: Final = ("enc", "kid", "nonce", "ct", "entity_id", "seq")


def aad(entity_id: str, seq: int) -> bytes:
    """The associated data that binds a ciphertext to its entity and sequence number."""
    return f"{AAD_PREFIX}\n{entity_id}\n{seq}".encode()


def check_seq(seq: Any) -> int:
    if type(seq) is not int or not 0 <= seq <= SEQ_MAX:
        raise ValueError(f"seq must be an int from 0 to 2**63 - 1, not {seq!r}")
    return seq


def seal(aead: AESGCM, kid: str, nonce: bytes, entity_id: str, seq: int,
         plaintext: bytes) -> dict[str, Any]:
    """Encrypt ``plaintext`` into an envelope (``nonce`` must be fresh for this key)."""
    ct = aead.encrypt(nonce, plaintext, aad(entity_id, seq))
    return {
        "enc": ENC,
        "kid": kid,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "ct": base64.b64encode(ct).decode("ascii"),
        "entity_id": entity_id,
        "seq": seq,
    }


@dataclass(frozen=True, slots=True)
class Parsed:
    """An envelope whose fields have the right types and sizes (not yet authenticated)."""

    kid: str
    nonce: bytes
    ct: bytes
    entity_id: str
    seq: int


def parse(envelope: Mapping[str, Any]) -> Parsed:
    """Check an envelope's shape; ``DecryptError`` names the first bad field."""
    if type(envelope) is dict:
        # Fast path (the outbox opens every queued sensitive message): all checks in
        # one go; anything off takes the careful path below for the precise error.
        get = envelope.get
        kid, entity_id, seq = get("kid"), get("entity_id"), get("seq")
        nonce, ct = get("nonce"), get("ct")
        if (get("enc") == ENC and type(kid) is str and kid and type(entity_id) is str
                and type(seq) is int and 0 <= seq <= SEQ_MAX
                and type(nonce) is str and type(ct) is str):
            try:
                raw_nonce = binascii.a2b_base64(nonce, strict_mode=True)
                raw_ct = binascii.a2b_base64(ct, strict_mode=True)
            except binascii.Error:
                pass
            else:
                if len(raw_nonce) == NONCE_BYTES and len(raw_ct) >= TAG_BYTES:
                    return Parsed(kid, raw_nonce, raw_ct, entity_id, seq)
    return _parse_carefully(envelope)


def _parse_carefully(envelope: Mapping[str, Any]) -> Parsed:
    if not isinstance(envelope, Mapping):
        raise DecryptError(f"expected a JSON object, got {type(envelope).__name__}")
    kid = envelope.get("kid")
    entity_id = envelope.get("entity_id")
    seq = envelope.get("seq")
    known_kid = kid if isinstance(kid, str) else None
    known_entity = entity_id if isinstance(entity_id, str) else None
    known_seq = seq if type(seq) is int else None

    def bad(reason: str) -> DecryptError:
        return DecryptError(reason, kid=known_kid, entity_id=known_entity, seq=known_seq)

    for name in FIELDS:
        if name not in envelope:
            raise bad(f"field {name!r} is missing")
    if envelope["enc"] != ENC:
        raise bad(f"field 'enc': unsupported {envelope['enc']!r} (expected {ENC!r})")
    if known_kid is None or not kid:
        raise bad("field 'kid': expected a non-empty string")
    if known_entity is None:
        raise bad("field 'entity_id': expected a string")
    if known_seq is None or not 0 <= known_seq <= SEQ_MAX:
        raise bad("field 'seq': expected an integer from 0 to 2**63 - 1")
    nonce = _b64(envelope["nonce"], "nonce", bad)
    if len(nonce) != NONCE_BYTES:
        raise bad(f"field 'nonce': expected {NONCE_BYTES} bytes, got {len(nonce)}")
    ct = _b64(envelope["ct"], "ct", bad)
    if len(ct) < TAG_BYTES:
        raise bad(f"field 'ct': shorter than the {TAG_BYTES}-byte tag")
    return Parsed(known_kid, nonce, ct, known_entity, known_seq)


def _b64(value: Any, name: str, bad: Any) -> bytes:
    if not isinstance(value, str):
        raise bad(f"field {name!r}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"field {name!r}: not valid base64") from None


def open_parsed(aead: AESGCM, parsed: Parsed) -> bytes:
    """Authenticate and decrypt; a wrong key, entity, seq or any flipped bit fails."""
    try:
        return aead.decrypt(parsed.nonce, parsed.ct, aad(parsed.entity_id, parsed.seq))
    except InvalidTag:
        raise DecryptError(
            "authentication failed: the ciphertext, its entity id or its seq was altered, "
            "or the key with this id is not the one that encrypted it",
            kid=parsed.kid, entity_id=parsed.entity_id, seq=parsed.seq,
        ) from None


def dumps(envelope: Mapping[str, Any]) -> bytes:
    """Compact JSON bytes of an envelope (at rest, and as a published payload)."""
    return json.dumps(envelope, separators=(",", ":")).encode()


def seal_json(aead: AESGCM, kid: str, nonce: bytes, entity_id: str, seq: int,
              plaintext: bytes) -> bytes:
    """``dumps(seal(...))`` without the dict and the general encoder: on the outbox's
    enqueue path for every sensitive value. Only the entity id can need escaping
    (the key id is ours, base64 and integers never do)."""
    ct = aead.encrypt(nonce, plaintext, aad(entity_id, seq))
    return (
        f'{{"enc":"{ENC}","kid":{_string(kid)},"nonce":"{b64encode(nonce).decode()}",'
        f'"ct":"{b64encode(ct).decode()}","entity_id":{_string(entity_id)},"seq":{seq}}}'
    ).encode()


def loads(data: bytes | str) -> dict[str, Any]:
    """An envelope from JSON; ``DecryptError`` when it is not a JSON object."""
    try:
        # bytes decoded first: json.loads would sniff the encoding of every payload.
        doc = json.loads(data.decode() if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError) as err:
        raise DecryptError(f"not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise DecryptError(f"expected a JSON object, got {type(doc).__name__}")
    return doc
