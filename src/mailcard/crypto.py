"""Encryption of secrets at rest (SMTP passwords, inline flow credentials).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key from ``MAILCARD_SECRET_KEY`` or
a key file generated once with mode 0600. Ciphertexts are tagged ``fernet:`` so that a future key or
algorithm change can be told apart. Decryption failures become ``ConfigurationError``: a wrong key is a
broken installation, not a delivery failure.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mailcard.errors import ConfigurationError
from mailcard.secret import Secret

_PREFIX = "fernet:"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "MAILCARD_SECRET_KEY is not a valid key.",
                code="secret_key_invalid",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'",
            ) from exc

    def encrypt(self, secret: Secret) -> str:
        return _PREFIX + self._fernet.encrypt(secret.reveal().encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> Secret:
        if not token.startswith(_PREFIX):
            raise ConfigurationError("A stored secret has an unknown format.", code="secret_format_unknown")
        try:
            return Secret(self._fernet.decrypt(token[len(_PREFIX) :].encode("ascii")).decode("utf-8"))
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored secret cannot be decrypted with the current key.",
                code="secret_key_mismatch",
                hint="MAILCARD_SECRET_KEY (or the key file) changed since the secret was saved.",
            ) from exc


def load_or_create_key(key: str | None, key_file: Path) -> bytes:
    """The configured key, else the key file's, else a new key written to ``key_file`` with mode 0600."""
    if key:
        return key.encode("ascii")
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    new_key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(new_key + b"\n")
    return new_key
