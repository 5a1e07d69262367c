"""The real ASGI app behind real uvicorn, on a free loopback port, in a background thread.

For tests and benchmarks that need what ``mailcard run`` does over real HTTP: uvicorn's own request
handling and loggers (``uvicorn.error``, ``uvicorn.access``), the app's lifespan services (worker,
dev inbox), keep-alive connections. Uvicorn is started with ``log_config=None`` so it installs no
handlers of its own and its records reach whatever the caller captures (pytest's ``caplog``).

Nothing here imports pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from tests.support.postfix_tools import free_port


@contextmanager
def live_server(app: Any, *, log_level: str = "debug", access_log: bool = True) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:<port>``)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=access_log,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
