"""Run by test_crypto_restart.py as a child: encrypt for ever, print each nonce (hex).

Usage: python crypto_child.py KEYRING_PATH
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from gatehouse.core.crypto import Keyring, TagCipher


def main() -> None:
    cipher = TagCipher(Keyring(Path(sys.argv[1])), sensitive=lambda _e: True)
    out = sys.stdout
    i = 0
    while True:
        envelope = cipher.encrypt("sensor.recipe", b"%d" % i)
        out.write(base64.b64decode(envelope["nonce"]).hex() + "\n")
        out.flush()
        i += 1


if __name__ == "__main__":
    main()
