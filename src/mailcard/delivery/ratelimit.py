"""Per-SMTP-account send limits, as providers impose them: messages per second and per window.

Limits are enforced per worker process. With several workers on one account, give each a share of the
provider's limit (documented in the README); a shared limiter would need a database round trip per
message, which the throughput targets do not allow.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        *,
        per_second: float | None = None,
        window_limit: int | None = None,
        window_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_second = per_second if per_second and per_second > 0 else None
        self._window_limit = window_limit if window_limit and window_seconds else None
        self._window_seconds = window_seconds or 0.0
        self._clock = clock
        # Burst of one: messages are spaced evenly, so no one-second window ever sees more than N.
        self._capacity = 1.0
        self._tokens = self._capacity
        self._refilled_at = clock()
        self._sent_at: deque[float] = deque()
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return self._per_second is None and self._window_limit is None

    def delay_needed(self) -> float:
        """Seconds until one more message may go; 0 means now. Does not consume anything."""
        now = self._clock()
        wait = 0.0
        if self._per_second is not None:
            tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * self._per_second)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self._per_second
        if self._window_limit is not None:
            while self._sent_at and now - self._sent_at[0] >= self._window_seconds:
                self._sent_at.popleft()
            if len(self._sent_at) >= self._window_limit:
                wait = max(wait, self._sent_at[0] + self._window_seconds - now)
        return wait

    def consume(self) -> None:
        now = self._clock()
        if self._per_second is not None:
            self._tokens = (
                min(self._capacity, self._tokens + (now - self._refilled_at) * self._per_second) - 1.0
            )
            self._refilled_at = now
        if self._window_limit is not None:
            self._sent_at.append(now)

    async def acquire(self) -> None:
        if self.unlimited:
            return
        async with self._lock:
            # Waiting for time to pass, not for an event: sleeping exactly as long as needed is right.
            while (wait := self.delay_needed()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            self.consume()
