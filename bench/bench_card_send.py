"""Scenario ``card_send``: a manager presses "Send" on the customer card — how long until it is safe, and sent?

The real ``mailcard run`` (its own process: uvicorn, the app, the delivery worker in its lifespan) on a
SQLite database with ``synchronous=FULL``, whose default SMTP account is Postfix's ``smtp-sink``. One
keep-alive HTTP client authenticated by API token sends ``POST /api/customers/{id}/emails`` (From: the
customer's manager, Twig subject, preheader and HTML body, an ``Idempotency-Key``), one request at a
time, paced as a person at the card would (a send every ``PACE_SECONDS``):

* accept: from the request to its ``202``, when the message is committed to the outbox (p50, p99);
* delivered: from the request to smtp-sink's ``250`` for that message, the ``finished_at`` the worker
  recorded for its attempt (p50, p99).

The measuring client is the standard library's ``http.client`` on one keep-alive connection: it does
little besides the socket calls, so the figures are the server's and the loopback's, not a client
library's. The same sends through ``httpx`` are measured in between (``httpx_accept_p50_ms``): on this
machine httpx adds about a millisecond of its own. A burst (sends back to back, the worker delivering
meanwhile) is reported beside it. The references, measured in the same run: ``GET /healthz`` over the
same connection (the HTTP floor of this stack: uvicorn, FastAPI) and smtp-source → smtp-sink one
message at a time over one connection (the floor of the delivery step). In the JSON line,
``msgs_per_s`` is one client's paced sends a second (1 / mean accept time) and ``reference_msgs_per_s``
the same for ``GET /healthz``; the latencies are the ``*_ms`` fields, and ``server_cpu_ms_per_send`` is
the server process's CPU (API, worker, idle polls) per paced send, steadier than the wall clock on a
shared machine.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from _common import QUICK, cpu_seconds, emit, smtp_source, start_smtp_sink
from mailcard.bootstrap import Container, build
from mailcard.crm import NewCustomer
from mailcard.delivery.accounts import AccountLimits
from mailcard.delivery.settings import SmtpSettings
from mailcard.identity import NewUser
from mailcard.settings import Settings

PACED_SENDS = 150 if QUICK else 500
BURST_SENDS = 200 if QUICK else 500
PACE_SECONDS = 0.05  # between paced sends: a delivery takes less, so each is measured alone
WARM_UP = 50
TARGETS_MS = {"accept_p50": 5.0, "accept_p99": 25.0, "delivered_p50": 20.0}

EMAIL: dict[str, Any] = {
    "from": "manager",
    "subject": "{{ customer.firstName }}, ваш заказ №{{ order }} готов",
    "preheader": "Заберите его в магазине {{ store.name }}",
    "html": (
        "<p>Здравствуйте, {{ customer.firstName }}!</p>"
        "<p>Ваш заказ №{{ order }} собран и ждёт вас в магазине.</p>"
        + "<p>Магазин работает ежедневно с 9 до 21 часа. Возьмите с собой номер заказа.</p>" * 12
        + "<p>Ваш менеджер — {{ manager.name }}, {{ manager.email }}.</p>"
    ),
    "data": {"order": "1042A"},
}


def main() -> None:
    sink = start_smtp_sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            container = build(Settings(data_dir=data_dir))
            try:
                token, customer_id = _shop(container, sink.port)
            finally:
                container.dispose()
            with _mailcard_run(data_dir) as server:
                timings = _measure(server.base_url, server.process.pid, token, customer_id)
            container = build(Settings(data_dir=data_dir))
            try:
                delivered = [
                    _delivered_after(container, started, message) for started, message in timings.paced
                ]
            finally:
                container.dispose()
        reference_message = _smtp_source_message_seconds(sink.port)
    finally:
        sink.stop()
    accept = timings.accept
    emit(
        "card_send",
        1 / statistics.mean(accept),
        1 / statistics.mean(timings.healthz),
        reference="GET /healthz, same connection",
        sends=len(accept),
        accept_p50_ms=_ms(_pct(accept, 50)),
        accept_p99_ms=_ms(_pct(accept, 99)),
        delivered_p50_ms=_ms(_pct(delivered, 50)),
        delivered_p99_ms=_ms(_pct(delivered, 99)),
        httpx_accept_p50_ms=_ms(_pct(timings.accept_httpx, 50)),
        burst_sends=len(timings.burst),
        burst_accept_p50_ms=_ms(_pct(timings.burst, 50)),
        burst_accept_p99_ms=_ms(_pct(timings.burst, 99)),
        server_cpu_ms_per_send=_ms(timings.server_cpu_per_send),
        healthz_p50_ms=_ms(_pct(timings.healthz, 50)),
        smtp_source_one_message_ms=_ms(reference_message),
        targets_ms=TARGETS_MS,
    )


def _shop(container: Container, sink_port: int) -> tuple[str, int]:
    """A confirmed manager with a customer; every message goes out through smtp-sink."""
    container.accounts.save(
        "sink",
        SmtpSettings("127.0.0.1", sink_port, "none", username=None, password=None),
        is_default=True,
        limits=AccountLimits(max_connections=4),
    )
    olga = container.users.create(NewUser("olga", "Ольга Смирнова", "olga@shop.example.com"))
    container.users.mark_sender_confirmed(olga.id, olga.email, allow=True)
    customer = container.customers.create(
        NewCustomer(email="anna@example.ru", first_name="Анна", locale="ru", manager_id=olga.id)
    )
    token, _ = container.credentials.create_token(olga.id, "bench")
    return token, customer.id


class _mailcard_run:
    """``mailcard run`` on a free port over ``data_dir`` (``base_url``, ``process``); stopped with SIGTERM."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:  # a port free right now; uvicorn binds it a moment later
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {
            **os.environ,
            "MAILCARD_DATA_DIR": str(data_dir),
            "MAILCARD_LOG_LEVEL": "WARNING",  # the access log's cost depends on where it goes
        }
        command = [
            str(Path(sys.executable).parent / "mailcard"),
            "run",
            "--port",
            str(self.port),
            "--no-devinbox",
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self) -> _mailcard_run:
        self.base_url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"mailcard run did not start: {error[-2000:]}")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Timings:
    def __init__(self) -> None:
        self.healthz: list[float] = []
        self.accept: list[float] = []
        self.accept_httpx: list[float] = []
        self.burst: list[float] = []
        self.paced: list[tuple[datetime, str]] = []
        self.server_cpu_per_send = 0.0


class _ThinClient:
    """One keep-alive connection through ``http.client``: a request costs the client little besides its socket calls."""

    def __init__(self, base_url: str, token: str) -> None:
        address = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)
        self._headers = {"Authorization": f"Bearer {token}"}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        self._connection.request(method, path, body=body, headers={**self._headers, **(headers or {})})
        response = self._connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._connection.close()


def _measure(base_url: str, server_pid: int, token: str, customer_id: int) -> _Timings:
    path = f"/api/customers/{customer_id}/emails"
    body = json.dumps(EMAIL).encode()
    serial = iter(range(10**9))
    timings = _Timings()
    thin = _ThinClient(base_url, token)

    def send() -> tuple[float, datetime, str]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{next(serial)}"}
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        status, answer = thin.request("POST", path, body, headers)
        elapsed = time.perf_counter() - started
        assert status == 202, answer
        return elapsed, started_at, json.loads(answer)["message_id"]

    def healthz() -> float:
        started = time.perf_counter()
        status, _ = thin.request("GET", "/healthz")
        assert status == 200
        return time.perf_counter() - started

    def send_with_httpx(client: httpx.Client) -> float:
        started = time.perf_counter()
        response = client.post(path, json=EMAIL, headers={"Idempotency-Key": f"bench-{next(serial)}"})
        elapsed = time.perf_counter() - started
        assert response.status_code == 202, response.text
        return elapsed

    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(WARM_UP):
            send()
            send_with_httpx(client)
            healthz()
        cpu_before = cpu_seconds(server_pid)
        # Both clients in turns, so each sees the same machine (and neither connection idles out).
        for _ in range(PACED_SENDS):
            timings.healthz.append(healthz())
            time.sleep(PACE_SECONDS / 2)
            elapsed, started_at, message_id = send()
            timings.accept.append(elapsed)
            timings.paced.append((started_at, message_id))
            time.sleep(PACE_SECONDS / 2)
            timings.accept_httpx.append(send_with_httpx(client))
            time.sleep(PACE_SECONDS / 2)
        # The server's CPU (API, worker, flow runner) per paced send and its delivery: steadier than the
        # wall clock on a shared machine. Includes the /healthz calls and idle polling in between.
        timings.server_cpu_per_send = (cpu_seconds(server_pid) - cpu_before) / (2 * PACED_SENDS)
        timings.burst = [send()[0] for _ in range(BURST_SENDS)]
        _wait_until_all_sent(client, path)
    thin.close()
    return timings


def _wait_until_all_sent(client: httpx.Client, path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        newest = client.get(path, params={"limit": 1}).json()["items"]
        if newest and newest[0]["status"] == "sent":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not delivered in {timeout:.0f} s: {newest}")
        time.sleep(0.1)


def _delivered_after(container: Container, started_at: datetime, message_id: str) -> float:
    [attempt] = container.outbox.attempts(message_id)
    assert attempt.outcome == "sent", attempt
    return (attempt.finished_at - started_at).total_seconds()


def _smtp_source_message_seconds(port: int) -> float:
    """smtp-source sending one message after another over one connection: its time per message."""
    result = smtp_source(port, messages=500, sessions=1, message_size=2048, reuse_connection=True)
    return 1 / float(result.rate)


def _pct(values: list[float], percentile: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percentile / 100 * (len(ordered) - 1)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


if __name__ == "__main__":
    main()
