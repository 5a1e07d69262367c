"""``run``: the event loop mailcard's own processes run their coroutines on.

uvloop where it is installed (it is a dependency on every platform but Windows), asyncio's loop
elsewhere. ``mailcard run`` gets uvloop from uvicorn already; ``mailcard worker`` and the CLI's
in-process delivery use this, so a message is sent on the same loop whichever process sends it. With
uvloop the worker spends about a tenth less CPU a message against smtp-sink (the ``delivery`` and
``e2e`` benchmarks): its callbacks, futures and socket I/O are C.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run", "wait_or_timeout"]

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop (like ``asyncio.run``) and return its result."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` pass, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
