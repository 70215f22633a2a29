"""Tag encryption: AES-256-GCM for the values of sensitive entities.

One job per module:

=================  ====================================================================
``keyring.py``     the keys on disk (``<config>/.storage/keyring.json``, 0600), rotation
``nonces.py``      96-bit nonces that never repeat, across restarts too (epoch+counter)
``envelope.py``    the envelope format and its associated data (entity id + seq)
``cipher.py``      ``TagCipher``: encrypt with the current key, decrypt with any
``hostcipher.py``  ``tag_cipher(host)`` from the ``gatehouse: encryption:`` block
``cli.py``         ``gatehouse keys list|rotate|export|decrypt``
=================  ====================================================================

Integrations import these names from ``gatehouse.core.helpers``.
"""

from .cipher import TagCipher
from .envelope import ENC, aad
from .errors import CryptoError, DecryptError, KeyMissingError, KeyringError
from .hostcipher import (
    ENCRYPTION_SCHEMA,
    configure_encryption,
    decrypting_cipher,
    host_keyring,
    tag_cipher,
)
from .keyring import EpochsExhausted, KeyInfo, Keyring, keyring_path

__all__ = [
    "ENC",
    "ENCRYPTION_SCHEMA",
    "CryptoError",
    "DecryptError",
    "EpochsExhausted",
    "KeyInfo",
    "KeyMissingError",
    "Keyring",
    "KeyringError",
    "TagCipher",
    "aad",
    "configure_encryption",
    "decrypting_cipher",
    "host_keyring",
    "keyring_path",
    "tag_cipher",
]
