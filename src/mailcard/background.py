"""The work a long-running process does beside its requests: delivery, flow runs and mailings.

``mailcard run`` (inside the API's lifespan) and ``mailcard worker`` run the same three on their event
loop, wired the same way, so a piece added here runs in both.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailcard.bootstrap import Container
    from mailcard.delivery.worker import DeliveryWorker

__all__ = ["BackgroundWork"]


class BackgroundWork:
    """Started on the running loop; ``stop`` (set by the caller, or by :meth:`close`) ends it."""

    def __init__(self, container: Container, stop: asyncio.Event, **worker_overrides: Any) -> None:
        self._stop = stop
        self.worker: DeliveryWorker = container.worker(**worker_overrides)
        self.delivery = asyncio.create_task(self.worker.run(stop))
        # Mail queued by this process (the card, confirmations, mailings) goes out now, not at the
        # next poll.
        self._stop_waking = container.outbox.on_enqueue(self.worker.wake)
        self._others = [
            # Flow runs advance beside delivery: a send_email block waits for the row the worker settles.
            asyncio.create_task(container.flow_runner().run(stop)),
            # Mailings are composed on this loop in slices, between deliveries (and requests).
            asyncio.create_task(container.mailing_runner().run(stop)),
        ]

    async def close(self) -> None:
        """Stop everything; returns once what was in flight is finished and written back."""
        self._stop_waking()
        self._stop.set()
        try:
            await asyncio.gather(*self._others)
            await self.delivery
        finally:
            await self.worker.aclose()
