"""Retry policy as a pure decision: given an attempt's outcome, retry at T or give up.

Transient failures (4xx, connection loss, timeouts) back off exponentially with jitter until the
attempt budget or the message's maximum age runs out; permanent failures (5xx) give up at once, so a
permanent error is never looped.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_seconds: float = 30.0
    factor: float = 2.0
    max_delay_seconds: float = 3600.0
    max_age_seconds: float = 86400.0
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]

    def delay_for(self, attempt_number: int, unit_random: float) -> float:
        base = self.base_delay_seconds * self.factor ** max(0, attempt_number - 1)
        capped = min(base, self.max_delay_seconds)
        return capped * (1 - self.jitter + 2 * self.jitter * unit_random)


@dataclass(frozen=True, slots=True)
class RetryAt:
    at: datetime


@dataclass(frozen=True, slots=True)
class GiveUp:
    why: str  # "permanent" | "max_attempts" | "max_age"


def decide_retry(
    policy: RetryPolicy,
    *,
    attempt_number: int,
    transient: bool,
    queued_at: datetime,
    now: datetime,
    unit_random: Callable[[], float] = random.random,
) -> RetryAt | GiveUp:
    """Decide what happens after attempt ``attempt_number`` (1-based) failed."""
    if not transient:
        return GiveUp("permanent")
    if attempt_number >= policy.max_attempts:
        return GiveUp("max_attempts")
    at = now + timedelta(seconds=policy.delay_for(attempt_number, unit_random()))
    if at - queued_at > timedelta(seconds=policy.max_age_seconds):
        return GiveUp("max_age")
    return RetryAt(at)
