"""Fixtures for mailings: run the composing and delivering pieces together, as ``mailcard worker`` does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.acceptance.conftest import cli, mailcard_env  # noqa: F401 - the CLI fixtures, shared
from tests.flows.conftest import container  # noqa: F401 - a container on a fresh SQLite, shared

from mailcard.bootstrap import Container
from mailcard.delivery.transport import Transport
from mailcard.mailings import MailingProgress, MailingRunner


def run_mailing(
    app: Container,
    mailing_id: str,
    *,
    runners: int = 1,
    transport: Transport | None = None,
    timeout: float = 30.0,
) -> MailingProgress:
    """Run delivery workers and mailing runners (``runners`` of each, as that many worker processes
    would) until the mailing is finished; its progress then."""

    async def main() -> MailingProgress:
        stop = asyncio.Event()
        pieces: list[Any] = []
        unsubscribes: list[Callable[[], None]] = []
        tasks = []
        for n in range(runners):
            worker = app.worker(transport=transport, poll_seconds=0.02, flush_seconds=0.01)
            worker.worker_id = f"worker-{n}"
            runner: MailingRunner = app.mailing_runner()
            runner.owner = f"worker-{n}"
            unsubscribes.append(app.outbox.on_enqueue(worker.wake))
            pieces.append(worker)
            tasks += [asyncio.create_task(worker.run(stop)), asyncio.create_task(runner.run(stop))]
        store = app.mailings().store
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                progress = await asyncio.to_thread(store.progress, mailing_id)
                if progress.status == "finished":
                    return progress
                await asyncio.sleep(0.05)
            raise TimeoutError(f"timed out after {timeout}s; the mailing is at {progress.to_dict()}")
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for unsubscribe in unsubscribes:
                unsubscribe()
            for worker in pieces:
                await worker.aclose()

    return asyncio.run(main())
