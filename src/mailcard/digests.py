"""``json_digest``: the SHA-256 of a JSON value in one canonical spelling.

Sorted keys, no spaces, UTF-8 text: two values that mean the same give the same digest. A flow's
versions are compared by it, and an outbox message keeps the digest of the request its idempotency
key was first used with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["json_digest"]


def json_digest(value: Any) -> str:
    """64 hex digits; values JSON cannot hold (a date, say) count by their ``str``."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
