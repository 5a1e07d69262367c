"""``DatabaseThread``: one helper thread for a component's synchronous database calls.

The delivery worker, the flow runner and the mailing composer share an event loop; each calls its
(synchronous, SQLAlchemy) stores through its own thread, so the loop never blocks on the database and
one component's calls keep their order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["DatabaseThread"]

T = TypeVar("T")


class DatabaseThread:
    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` in the thread, awaited on the running loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    def shutdown(self) -> None:
        """Wait for the call in progress, if any, and end the thread."""
        self._executor.shutdown(wait=True)
