"""Random bytes for Message-IDs, MIME boundaries and outbox ids, drawn from a pooled ``os.urandom``.

Every message needs three (an outbox id, a Message-ID and, for multipart mail, a boundary). Asking
the kernel each time was a ``getrandom`` system call apiece, about a twentieth of composing a
message in the e2e benchmark; the pool asks once per 4 KiB. The bytes are the kernel's CSPRNG
output either way. A forked child (a pre-forking server) starts with an empty pool, so parent and
child never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading
from typing import Final

__all__ = ["token_bytes", "token_hex"]

_POOL_BYTES: Final = 4096


class _Pool:
    __slots__ = ("buffer", "lock", "offset")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer = b""
        self.offset = 0

    def take(self, count: int) -> bytes:
        with self.lock:
            if self.offset + count > len(self.buffer):
                self.buffer = os.urandom(max(_POOL_BYTES, count))
                self.offset = 0
            start = self.offset
            self.offset = start + count
            return self.buffer[start : start + count]

    def forget(self) -> None:
        self.lock = threading.Lock()  # a lock held by another thread at fork time stays held
        self.buffer = b""
        self.offset = 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.forget)


def token_bytes(count: int) -> bytes:
    """``count`` random bytes."""
    return _pool.take(count)


def token_hex(count: int) -> str:
    """``count`` random bytes as ``2 * count`` lowercase hex digits."""
    return _pool.take(count).hex()
