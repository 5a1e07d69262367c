"""Fixtures for flow tests: a real container on a temporary SQLite database, and a way to run the
delivery worker and the flow runner together (as ``mailcard run`` does) until something happens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.conftest import cli, mailcard_env  # noqa: F401 - the CLI fixtures, shared

from mailcard.bootstrap import Container, build
from mailcard.delivery.transport import Transport
from mailcard.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"


@pytest.fixture()
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path, devinbox_port=1, worker_poll_seconds=0.02))
    try:
        yield built
    finally:
        built.dispose()


def run_until(
    container: Container,
    done: Callable[[], Any],
    *,
    transport: Transport | None = None,
    timeout: float = 20.0,
    what: str = "the flow to finish",
) -> Any:
    """Run a delivery worker and a flow runner (as ``mailcard run`` does) until ``done()`` is truthy."""

    async def main() -> Any:
        stop = asyncio.Event()
        worker = container.worker(transport=transport, poll_seconds=0.02, flush_seconds=0.01)
        runner = container.flow_runner()
        tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(runner.run(stop))]
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                result = await asyncio.to_thread(done)
                if result:
                    return result
                await asyncio.sleep(0.05)
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await worker.aclose()

    return asyncio.run(main())
