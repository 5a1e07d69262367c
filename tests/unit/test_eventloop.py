"""The event loop of mailcard's own processes: uvloop where installed, and the coroutine's result back."""

from __future__ import annotations

import asyncio

import pytest

from mailcard import eventloop


async def _loop_and_answer() -> tuple[asyncio.AbstractEventLoop, int]:
    await asyncio.sleep(0)
    return asyncio.get_running_loop(), 42


def test_runs_on_uvloop_and_returns_the_result() -> None:
    import uvloop

    loop, answer = eventloop.run(_loop_and_answer())
    assert isinstance(loop, uvloop.Loop)
    assert answer == 42
    assert loop.is_closed()


def test_an_exception_comes_out_and_the_next_run_still_works() -> None:
    async def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        eventloop.run(boom())
    assert eventloop.run(_loop_and_answer())[1] == 42
