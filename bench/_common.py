"""Shared by the benchmarks: the smtp-sink/smtp-source reference, delivery worker processes, JSON output.

Benchmarks print one JSON line per scenario and never pass or fail on time. The reference for every
delivery-shaped scenario is Postfix's ``smtp-source`` → ``smtp-sink`` measured in the same run with the
same message size: the physical limit of SMTP on this machine.

Delivery runs as it does in production: ``mailcard worker``-like processes of their own (one asyncio
loop each) sharing the SQLite outbox through leases, not a thread of the process that composes.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postfix_tools import smtp_source, start_smtp_sink  # noqa: E402

__all__ = [
    "MESSAGE_SIZE",
    "QUICK",
    "WorkerProcesses",
    "cpu_seconds",
    "emit",
    "reference_rate",
    "sink_worker",
    "smtp_source",
    "start_smtp_sink",
    "two_kb_message",
]

MESSAGE_SIZE = 2048
QUICK = os.environ.get("MAILCARD_BENCH_QUICK") == "1"


def reference_rate(*, messages: int, sessions: int = 4, message_size: int = MESSAGE_SIZE) -> float:
    """smtp-source → smtp-sink, connections reused, in messages per second (median of three runs)."""
    sink = start_smtp_sink()
    try:
        smtp_source(
            sink.port, messages=min(200, messages), sessions=sessions, message_size=message_size
        )  # warm-up
        rates = sorted(
            smtp_source(
                sink.port,
                messages=messages,
                sessions=sessions,
                message_size=message_size,
                reuse_connection=True,
            ).rate
            for _ in range(3)
        )
        return rates[1]
    finally:
        sink.stop()


def emit(scenario: str, msgs_per_s: float, reference_msgs_per_s: float, **extra: Any) -> None:
    line = {
        "scenario": scenario,
        "msgs_per_s": round(msgs_per_s, 1),
        "reference": "smtp-source -> smtp-sink",
        "reference_msgs_per_s": round(reference_msgs_per_s, 1),
        "ratio": round(msgs_per_s / reference_msgs_per_s, 3) if reference_msgs_per_s else None,
    }
    line.update(extra)
    print(json.dumps(line), flush=True)


def two_kb_message(n: int) -> bytes:
    head = (
        f"From: Shop <shop@example.com>\r\nTo: customer{n}@example.com\r\nSubject: Order {n}\r\n"
        f"Message-ID: <{n}@bench.mailcard>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Thank you for your order. It will be shipped tomorrow morning by courier.\r\n"
    body = line * ((MESSAGE_SIZE - len(head)) // len(line) + 1)
    return head + body[: MESSAGE_SIZE - len(head) - 2] + b"\r\n"


def sink_worker(store: Any, sink_port: int, connections: int) -> Any:
    """A delivery worker sending everything to smtp-sink over ``connections`` pooled connections."""
    from mailcard.delivery.accounts import AccountLimits, ResolvedAccount, StaticAccountResolver
    from mailcard.delivery.settings import SmtpSettings
    from mailcard.delivery.smtp import SmtpTransport
    from mailcard.delivery.worker import DeliveryWorker, WorkerOptions

    account = ResolvedAccount(
        key="sink",
        settings=SmtpSettings(
            host="127.0.0.1", port=sink_port, security="none", username=None, password=None
        ),
        limits=AccountLimits(max_connections=connections),
    )
    return DeliveryWorker(
        store,
        SmtpTransport(max_connections_per_account=connections, max_messages_per_connection=10_000),
        StaticAccountResolver(account),
        # Enough messages in hand that the worker claims big batches: a claim is one write
        # transaction with a fixed cost, so many small ones would make the database the bottleneck.
        options=WorkerOptions(concurrency=connections * 16, batch_size=256, poll_seconds=0.01),
    )


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of this process (all its threads), or of process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_process(
    db_url: str,
    sink_port: int,
    connections: int,
    done: Synchronized,  # type: ignore[type-arg]
    cpu: Synchronized,  # type: ignore[type-arg]
    ready: Event,
    begin: Event,
    stop: Event,
    flushed: Event,
    compose_mailings: bool,
) -> None:
    from mailcard import eventloop
    from mailcard.db.engine import create_db_engine
    from mailcard.outbox.sql import SqlOutboxStore

    engine = create_db_engine(db_url)
    outbox = SqlOutboxStore(engine)
    worker = sink_worker(outbox, sink_port, connections)
    runner = None
    if compose_mailings:  # as ``mailcard worker`` runs: mailings composed beside delivery
        from mailcard.compose import Composer
        from mailcard.mailings import MailingRunner, SqlMailingStore
        from mailcard.rendering import TemplateEngine

        composer = Composer(outbox, templates=TemplateEngine())
        runner = MailingRunner(SqlMailingStore(engine), composer, outbox, poll_seconds=0.01)
        outbox.on_enqueue(worker.wake)

    async def run() -> None:
        idle_cpu = cpu_seconds()
        stopping = asyncio.Event()
        running = [asyncio.create_task(worker.run(stopping))]
        if runner is not None:
            running.append(asyncio.create_task(runner.run(stopping)))
        while not stop.is_set():
            done.value = worker.sent + worker.failed
            await asyncio.sleep(0.002)
        stopping.set()
        await asyncio.gather(*running)  # the last outcomes are written to the outbox here
        done.value = worker.sent + worker.failed
        cpu.value = cpu_seconds() - idle_cpu
        flushed.set()
        await worker.aclose()

    ready.set()
    begin.wait()  # the clock starts when every process has been told to begin
    eventloop.run(run())  # the loop ``mailcard worker`` runs on
    engine.dispose()


class WorkerProcesses:
    """``processes`` delivery workers on the outbox at ``db_url``, each with ``connections`` to smtp-sink
    and, with ``compose_mailings``, composing mailings on the same event loop."""

    def __init__(
        self, db_url: str, sink_port: int, *, processes: int, connections: int, compose_mailings: bool = False
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._done = [context.Value("q", 0, lock=False) for _ in range(processes)]
        self._cpu = [context.Value("d", 0.0, lock=False) for _ in range(processes)]
        self._ready = [context.Event() for _ in range(processes)]
        self._flushed = [context.Event() for _ in range(processes)]
        self._begin = context.Event()
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=_worker_process,
                args=(
                    db_url,
                    sink_port,
                    connections,
                    done,
                    cpu,
                    ready,
                    self._begin,
                    self._stop,
                    flushed,
                    compose_mailings,
                ),
                daemon=True,
            )
            for done, cpu, ready, flushed in zip(
                self._done, self._cpu, self._ready, self._flushed, strict=True
            )
        ]

    def start(self) -> None:
        for process in self._processes:
            process.start()
        for ready in self._ready:
            if not ready.wait(60):
                raise RuntimeError("a worker process did not start")

    def begin(self) -> None:
        """Let the started processes claim and send."""
        self._begin.set()

    def settled(self) -> int:
        """Messages the workers have sent or given up on (their own counters: asking the database
        here would compete with them)."""
        return sum(int(done.value) for done in self._done)

    def wait_until_settled(self, count: int) -> None:
        while self.settled() < count:
            time.sleep(0.002)

    def stop(self) -> None:
        """Stop the workers; returns once every outcome is written to the outbox."""
        self._stop.set()
        for flushed in self._flushed:
            flushed.wait(60)

    def cpu_seconds(self) -> float:
        """CPU time the workers used from start to stop (all threads; known after :meth:`stop`)."""
        return float(sum(cpu.value for cpu in self._cpu))

    def join(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(60)
            if process.is_alive():
                process.kill()
