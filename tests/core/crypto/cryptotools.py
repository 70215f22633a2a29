"""Shared helpers for the tag encryption tests."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gatehouse.core.crypto import Keyring, TagCipher

GATEHOUSE = Path(sys.executable).with_name("gatehouse")


def keyring_at(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "config" / ".storage" / "keyring.json")


def everything(_entity_id: str) -> bool:
    return True


def cipher_on(keyring: Keyring, **kwargs: Any) -> TagCipher:
    """A cipher for which every entity is sensitive."""
    return TagCipher(keyring, sensitive=everything, **kwargs)


def nonce_of(envelope: dict[str, Any]) -> bytes:
    return base64.b64decode(envelope["nonce"])


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The installed ``gatehouse`` command, for real (a child process)."""
    return subprocess.run(
        [str(GATEHOUSE), *args], input=stdin, capture_output=True, timeout=60, check=False
    )


def keyring_doc(keyring: Keyring) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(keyring.path.read_text())
    return doc
