"""Opaque bearer secrets (API tokens, session ids): random, shown once, stored only as SHA-256.

They carry 256 bits of randomness, so a fast hash is as safe as a slow one and lets a lookup be
one indexed equality; passwords, which people choose, use argon2 instead.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
