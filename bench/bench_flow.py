"""Scenario ``flow``: events in, delivered e-mails out, through a one-block flow.

Each event is stored (idempotent on its id), starts a run of the active flow; the flow runner renders
and enqueues the Send Email block's message, the worker delivers it to smtp-sink, and the runner
reads the settled outbox row and completes the run. Timed from the first event to the last run
completed, beside smtp-source → smtp-sink in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from _common import QUICK, emit, reference_rate, sink_worker, start_smtp_sink
from mailcard import eventloop
from mailcard.bootstrap import build
from mailcard.flows import FlowRunner, IncomingEvent
from mailcard.settings import Settings

COUNT = 300 if QUICK else 2000
CONNECTIONS = 8

FLOW = {
    "id": "bench",
    "name": "Order confirmation",
    "trigger": {"event": "order.created"},
    "blocks": [
        {
            "id": "confirm",
            "type": "send_email",
            "to": "{{ customer.firstName }} <{{ customer.email }}>",
            "from": "Магазин «Ромашка» <shop@example.com>",
            "subject": "{{ customer.firstName }}, заказ №{{ order.number }} принят",
            "text": "Здравствуйте, {{ customer.firstName }}!\n\nЗаказ №{{ order.number }} на "
            "{{ order.totalSumm|number_format(2, ',', ' ') }} ₽ принят.\nМагазин «Ромашка»\n" * 8,
        }
    ],
}


def event(n: int) -> IncomingEvent:
    customer = {"id": n, "email": f"customer{n}@example.com", "firstName": "Анна"}
    return IncomingEvent(
        f"order-{n}",
        "order.created",
        customer,
        {"order": {"number": f"{10000 + n}", "totalSumm": 1999.0 + n}},
    )


def main() -> None:
    reference = reference_rate(messages=max(COUNT, 5000), sessions=4)
    with tempfile.TemporaryDirectory() as tmp:
        container = build(Settings(data_dir=Path(tmp), devinbox_port=1))
        container.flows().activate(FLOW)
        engine = container.flow_engine()
        sink = start_smtp_sink()
        try:
            worker = sink_worker(container.outbox, sink.port, CONNECTIONS)
            runner = FlowRunner(engine, poll_seconds=0.01, batch_size=256)

            async def run() -> tuple[float, float]:
                stop = asyncio.Event()
                started = time.perf_counter()
                tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(runner.run(stop))]

                def send_events() -> None:
                    for n in range(COUNT):
                        engine.accept(event(n))

                await asyncio.to_thread(send_events)
                accepted = time.perf_counter() - started
                while engine.store.counts().get("completed", 0) < COUNT:  # noqa: ASYNC110 - polling the database
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                stop.set()
                await asyncio.gather(*tasks)
                await worker.aclose()
                return accepted, elapsed

            accepted, elapsed = eventloop.run(run())  # the loop `mailcard worker` runs on
        finally:
            sink.stop()
        assert worker.sent == COUNT, (worker.sent, COUNT)
        container.dispose()
    emit(
        "flow",
        COUNT / elapsed,
        reference,
        events=COUNT,
        events_accepted_per_s=round(COUNT / accepted, 1),
        connections=CONNECTIONS,
    )


if __name__ == "__main__":
    main()
