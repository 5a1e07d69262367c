"""Send limits per account, checked with a fake clock."""

from __future__ import annotations

from mailcard.delivery.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_per_second_limit_spaces_messages_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=4, clock=clock)
    assert limiter.delay_needed() == 0
    limiter.consume()
    assert abs(limiter.delay_needed() - 0.25) < 1e-9
    clock.t += 0.25
    assert limiter.delay_needed() == 0


def test_window_limit_blocks_until_the_oldest_send_leaves_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(window_limit=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert limiter.delay_needed() == 0
        limiter.consume()
        clock.t += 1
    assert abs(limiter.delay_needed() - 57) < 1e-9
    clock.t += 57
    assert limiter.delay_needed() == 0


def test_no_limits_means_no_waiting() -> None:
    limiter = RateLimiter()
    assert limiter.unlimited and limiter.delay_needed() == 0
