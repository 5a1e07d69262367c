"""The real ASGI app behind real uvicorn, on a free loopback port, in a background thread; or the
real ``mailcard run`` command as a subprocess (:func:`mailcard_run`).

For tests and benchmarks that need what ``mailcard run`` does over real HTTP: uvicorn's own request
handling and loggers (``uvicorn.error``, ``uvicorn.access``), the app's lifespan services (worker,
dev inbox), keep-alive connections. Uvicorn is started with ``log_config=None`` so it installs no
handlers of its own and its records reach whatever the caller captures (pytest's ``caplog``).

Nothing here imports pytest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from tests.support.postfix_tools import free_port, free_ports, wait_for

MAILCARD = str(Path(sys.executable).with_name("mailcard"))


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


@dataclass
class RunningMailcard:
    """A running ``mailcard run``: its API address and port, and the environment the CLI must share with it."""

    api: str
    port: int
    env: dict[str, str]

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@contextmanager
def mailcard_run(env: dict[str, str], log_path: Path) -> Iterator[RunningMailcard]:
    """``mailcard run`` with ``env`` on free API and dev-inbox ports, until the block ends.

    It is ready once ``/healthz`` answers; its output is appended to ``log_path``. At the end it gets
    SIGTERM and must exit 0 (the assertion message is the log).
    """
    api_port, inbox_port = free_ports(2)
    env = env | {"MAILCARD_PORT": str(api_port), "MAILCARD_DEVINBOX_PORT": str(inbox_port)}
    api = f"http://127.0.0.1:{api_port}"
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    server = subprocess.Popen([MAILCARD, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 30, "mailcard run to answer /healthz", interval=0.1, proc=server)
        yield RunningMailcard(api, api_port, env)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        log.close()
        assert code == 0, log_path.read_text(errors="replace")
