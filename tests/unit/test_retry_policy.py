"""The retry policy is a pure decision: exhaustive checks without a clock or a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailcard.outbox.retry import GiveUp, RetryAt, RetryPolicy, decide_retry

T0 = datetime(2026, 11, 21, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=5, base_delay_seconds=30, factor=2, max_delay_seconds=300, max_age_seconds=3600
)


def decide(attempt: int, transient: bool = True, *, now: datetime = T0, rnd: float = 0.5) -> RetryAt | GiveUp:
    return decide_retry(
        POLICY, attempt_number=attempt, transient=transient, queued_at=T0, now=now, unit_random=lambda: rnd
    )


@pytest.mark.parametrize("attempt", range(1, 10))
def test_permanent_failures_are_never_retried(attempt: int) -> None:
    assert decide(attempt, transient=False) == GiveUp("permanent")


def test_backoff_doubles_and_is_capped() -> None:
    delays = []
    for attempt in range(1, 5):
        decision = decide(attempt)
        assert isinstance(decision, RetryAt)
        delays.append((decision.at - T0).total_seconds())
    assert delays == [30, 60, 120, 240]
    capped = RetryPolicy(max_attempts=20, base_delay_seconds=30, max_delay_seconds=300, jitter=0)
    decision = decide_retry(capped, attempt_number=10, transient=True, queued_at=T0, now=T0)
    assert isinstance(decision, RetryAt) and (decision.at - T0).total_seconds() == 300


def test_jitter_stays_within_its_band() -> None:
    low, high = decide(1, rnd=0.0), decide(1, rnd=1.0)
    assert isinstance(low, RetryAt) and isinstance(high, RetryAt)
    assert (low.at - T0).total_seconds() == pytest.approx(24)
    assert (high.at - T0).total_seconds() == pytest.approx(36)


def test_attempt_budget_and_age_end_retries() -> None:
    assert decide(5) == GiveUp("max_attempts")
    assert decide(2, now=T0 + timedelta(seconds=3590)) == GiveUp("max_age")
