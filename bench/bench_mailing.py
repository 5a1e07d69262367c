"""Scenario ``mailing``: the e2e scenario's personalised bulk, sent as a mailing.

The same template and customers as ``e2e`` (:mod:`bench_e2e`), created through
:class:`~mailcard.mailings.MailingService` (checked and stored whole, as ``POST /api/mailings`` does)
and composed by the worker processes themselves, chunk by chunk, on the event loop they deliver on
(as ``mailcard worker`` runs). Timed from the mailing's creation to the last "sent" recorded in the
outbox; every message is checked to be "sent". Rounds and references as in ``e2e``: each round
between two smtp-source → smtp-sink runs with messages of the pipeline's mean size, the median round
reported.

Against ``e2e`` (separate composing processes calling ``Composer.submit_many``), each message here
also costs its idempotency key (``mailing:<id>:<seq>``, indexed) and its share of the chunk's lease
and progress transaction: what makes a mailing resumable after a worker dies without sending twice.
The worker processes look for new mailings every 10 ms here (``mailcard worker``: ``poll_seconds``).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import WorkerProcesses, cpu_seconds, start_smtp_sink
from bench_e2e import (
    CONNECTIONS,
    COUNT,
    HTML,
    PREHEADER,
    SUBJECT,
    WORKERS,
    Round,
    context,
    measure,
    sent_message_bytes,
)
from mailcard.compose import Composer
from mailcard.db.engine import create_db_engine, driver_connection
from mailcard.db.migrate import upgrade
from mailcard.delivery.accounts import ResolvedAccount, StaticAccountResolver
from mailcard.delivery.settings import SmtpSettings
from mailcard.mailings import MailingContent, MailingService, RecipientInput, SqlMailingStore
from mailcard.outbox.sql import SqlOutboxStore
from mailcard.rendering import TemplateEngine

CONTENT = MailingContent(
    sender="Магазин «Ромашка» <shop@example.com>", subject=SUBJECT, preheader=PREHEADER, html=HTML
)


def mailing_service(db_url: str, sink_port: int) -> tuple[MailingService, Any]:
    """The service that creates mailings (as the API's), and its engine."""
    engine = create_db_engine(db_url)
    account = ResolvedAccount(
        key="sink",
        settings=SmtpSettings(
            host="127.0.0.1", port=sink_port, security="none", username=None, password=None
        ),
    )
    service = MailingService(
        SqlMailingStore(engine),
        Composer(SqlOutboxStore(engine), templates=TemplateEngine()),
        SqlOutboxStore(engine),
        StaticAccountResolver(account),
        lambda customer_id: None,
    )
    return service, engine


def run_round() -> Round:
    """Run the pipeline once on a fresh outbox: its rate and where the CPU went."""
    recipients = [
        RecipientInput(to=str(c["customer"]["email"]), context=c)  # type: ignore[index]
        for c in (context(n) for n in range(COUNT))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_db_engine(db_url)
        upgrade(engine)
        sink = start_smtp_sink()
        service, service_engine = mailing_service(db_url, sink.port)
        workers = WorkerProcesses(
            db_url, sink.port, processes=WORKERS, connections=CONNECTIONS, compose_mailings=True
        )
        try:
            workers.start()  # waiting to begin
            sink_cpu = cpu_seconds(sink.proc.pid)
            started, started_wall = time.perf_counter(), time.time()
            workers.begin()
            create_cpu = cpu_seconds()
            # The request that starts it all: the whole mailing checked and stored (inside the clock).
            mailing, _ = service.create("Заказы", CONTENT, recipients)
            create_cpu = cpu_seconds() - create_cpu
            while workers.settled() < COUNT:
                time.sleep(0.002)
            workers.stop()  # returns once the last outcomes are in the outbox
            elapsed = time.perf_counter() - started
            sink_cpu = cpu_seconds(sink.proc.pid) - sink_cpu
            progress = service.store.progress(mailing.id)
            assert progress.composed == COUNT and progress.refused == 0, progress
        finally:
            workers.join()
            sink.stop()
            service_engine.dispose()
        stored_bytes = sent_message_bytes(engine)
        with engine.connect() as conn:
            last_enqueued = (
                driver_connection(conn).execute("SELECT max(created_at) FROM outbox_messages").fetchone()[0]
            )
        engine.dispose()
    composed = datetime.fromisoformat(last_enqueued).replace(tzinfo=UTC).timestamp() - started_wall
    return Round(
        msgs_per_s=round(COUNT / elapsed, 1),
        composed_msgs_per_s=round(COUNT / composed, 1),
        cpu_us_per_msg={
            "create": round(create_cpu / COUNT * 1e6),
            "compose_deliver": round(workers.cpu_seconds() / COUNT * 1e6),
            "smtp_sink": round(sink_cpu / COUNT * 1e6),
        },
        message_bytes=round(stored_bytes),
    )


def main() -> None:
    measure(run_round, "mailing")


if __name__ == "__main__":
    main()
