"""Scenario ``e2e``: personalised bulk, end to end.

For each customer a Twig template (subject, preheader, HTML body with a loop over order items) is
rendered, validated, turned into MIME (with the generated text part and hidden preheader), durably
enqueued in batches by composing processes (as API or flow processes would), and delivered to
smtp-sink by worker processes running beside them (as ``mailcard worker`` does). Timed from the first
render to the last "sent" recorded in the outbox; every message is checked to be "sent". Three rounds,
each on a fresh outbox, alternate with smtp-source → smtp-sink reference runs; each round is compared
with the mean of the references before and after it, and the round with the median ratio is reported
(all rounds are printed too).

The reference sends messages as long as the pipeline's (their mean size, computed by composing every
customer's message once beforehand), as every delivery-shaped scenario does: the rendered messages
are about 4.3 KB (Cyrillic and Chinese text in base64, the preheader's filler), and smtp-sink's and
the kernel's work grows with the bytes. The 2 KB reference of the other scenarios is measured beside
it and printed too (``ratio_2kb``), for comparison with figures from before.

The composing processes take the next batch as they become free, as processes serving requests
would, rather than a fixed half each (one scheduled less than the other would finish last alone).
Their start-up and exit are outside the clock: a server's processes are already running.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from _common import (
    MESSAGE_SIZE,
    QUICK,
    WorkerProcesses,
    cpu_seconds,
    emit,
    reference_rate,
    start_smtp_sink,
)
from mailcard.compose import Composer, EmailRequest
from mailcard.compose.service import new_message
from mailcard.db.engine import create_db_engine, driver_connection
from mailcard.db.migrate import upgrade
from mailcard.outbox.memory import InMemoryOutboxStore
from mailcard.outbox.sql import SqlOutboxStore
from mailcard.rendering import TemplateEngine

COUNT = 1000 if QUICK else 5000
BATCH = 250
CONNECTIONS = 8
# Processes on the machine's two cores: the ones that compose (like API or flow processes) and the
# delivery workers; they share the SQLite outbox. Two workers, as in the delivery scenario: since
# composing reuses each HTML skeleton's checks, one worker process (a fair share of the CPU among
# four processes) fell behind the composers and delivered the last fifth of a run alone.
COMPOSERS = 2
WORKERS = 2
# Rounds, each on a fresh outbox between two reference runs; the median round is reported. This
# host's speed drifts by a third within minutes, so one round against one reference says little.
ROUNDS = 1 if QUICK else 3

SUBJECT = "{{ customer.firstName }}, ваш заказ №{{ order.number }} {{ order.status == 'sent' ? 'отправлен' : 'собран' }}"
PREHEADER = "Итого {{ order.totalSumm|number_format(0, ',', ' ') }} ₽ · доставка {{ order.delivery.date|date('d.m.Y') }}"
HTML = """<!doctype html><html><body>
<h1>Здравствуйте, {{ customer.firstName|default('покупатель') }}!</h1>
<p>Ваш заказ <b>№{{ order.number }}</b> {{ order.status == 'sent' ? 'отправлен' : 'собран' }}.</p>
<table>{% for item in order.items %}
<tr><td>{{ loop.index }}. {{ item.offer.name }}</td><td>{{ item.quantity }} шт.</td>
<td>{{ (item.initialPrice * item.quantity)|number_format(2, ',', ' ') }} ₽</td></tr>{% endfor %}
</table>
<p>Итого: <b>{{ order.totalSumm|number_format(2, ',', ' ') }} ₽</b></p>
<p><a href="https://shop.example.com/orders/{{ order.number|url_encode }}">Посмотреть заказ</a></p>
{% if customer.bonus > 0 %}<p>На вашем счёте {{ customer.bonus }} бонусов.</p>{% endif %}
<p>Магазин «Ромашка», {{ manager.firstName }} {{ manager.lastName }}</p>
</body></html>"""

NAMES = [("Анна", "anna"), ("王芳", "wang.fang"), ("John", "john"), ("Иван", "ivan"), ("李娜", "li.na")]


def context(n: int) -> dict[str, object]:
    first, local = NAMES[n % len(NAMES)]
    items = [
        {"offer": {"name": f"Товар {k}"}, "quantity": 1 + (n + k) % 3, "initialPrice": 199.0 + 10 * k}
        for k in range(1 + n % 4)
    ]
    return {
        "customer": {"firstName": first, "email": f"{local}{n}@example.com", "bonus": n % 50},
        "order": {
            "number": f"{10000 + n}A",
            "status": "sent" if n % 2 else "assembled",
            "items": items,
            "totalSumm": sum(float(i["quantity"]) * float(i["initialPrice"]) for i in items),  # type: ignore[arg-type,misc]
            "delivery": {"date": "2026-11-25"},
        },
        "manager": {"firstName": "Ольга", "lastName": "Смирнова"},
    }


def requests_for(batch: list[dict[str, object]]) -> list[EmailRequest]:
    return [
        EmailRequest(
            sender="Магазин «Ромашка» <shop@example.com>",
            to=str(c["customer"]["email"]),  # type: ignore[index]
            subject=SUBJECT,
            preheader=PREHEADER,
            html=HTML,
            context=c,
        )
        for c in batch
    ]


def mean_message_bytes() -> int:
    """The mean size of the messages a round sends: each customer's message composed once."""
    composer = Composer(InMemoryOutboxStore(), templates=TemplateEngine())
    requests = requests_for([context(n) for n in range(COUNT)])
    return round(sum(len(new_message(r, composer.prepare(r)).data) for r in requests) / COUNT)


def compose_process(
    db_url: str,
    next_batch: Synchronized,  # type: ignore[type-arg]
    ready: Event,
    go: Event,
    cpu: Synchronized,  # type: ignore[type-arg]
    finished_at: Synchronized,  # type: ignore[type-arg]
) -> None:
    """When ``go`` is set, compose and durably enqueue batches of customers until none is left."""
    engine = create_db_engine(db_url)
    composer = Composer(SqlOutboxStore(engine), templates=TemplateEngine())
    contexts = [context(n) for n in range(COUNT)]
    ready.set()
    go.wait()
    started = cpu_seconds()
    while True:
        with next_batch.get_lock():
            start = next_batch.value * BATCH
            next_batch.value += 1
        if start >= COUNT:
            break
        # Render, validate, build, and enqueue in one transaction per batch.
        items = composer.submit_many(requests_for(contexts[start : start + BATCH]))
        if any(item.error is not None for item in items):
            raise SystemExit(f"composition failed: {[i.error for i in items if i.error][:1]}")
    finished_at.value = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    cpu.value = cpu_seconds() - started
    engine.dispose()


@dataclass
class Round:
    """One run of the pipeline on a fresh outbox, and the reference measured around it."""

    msgs_per_s: float
    composed_msgs_per_s: float
    cpu_us_per_msg: dict[str, int]  # composing and enqueueing, delivering, and smtp-sink
    message_bytes: int  # the mean size of the messages stored in the outbox
    reference_msgs_per_s: float = 0.0  # messages of the pipeline's mean size
    reference_2kb_msgs_per_s: float = 0.0

    @property
    def ratio(self) -> float:
        return self.msgs_per_s / self.reference_msgs_per_s

    @property
    def ratio_2kb(self) -> float:
        return self.msgs_per_s / self.reference_2kb_msgs_per_s

    def summary(self) -> dict[str, object]:
        return {**asdict(self), "ratio": round(self.ratio, 3), "ratio_2kb": round(self.ratio_2kb, 3)}


def sent_message_bytes(engine: Any) -> float:
    """The mean size of the round's messages in the outbox, once every one is checked to be sent."""
    counts = SqlOutboxStore(engine).counts()
    assert counts["sent"] == COUNT, counts
    with engine.connect() as conn:
        return float(
            driver_connection(conn).execute("SELECT avg(length(data)) FROM outbox_bodies").fetchone()[0]
        )


def run_round() -> Round:
    """Run the pipeline once on a fresh outbox: its rate and where the CPU went."""
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_db_engine(db_url)
        upgrade(engine)
        sink = start_smtp_sink()
        workers = WorkerProcesses(db_url, sink.port, processes=WORKERS, connections=CONNECTIONS)
        go = spawn.Event()
        next_batch = spawn.Value("q", 0)
        composers = []
        for _ in range(COMPOSERS):
            ready, cpu = spawn.Event(), spawn.Value("d", 0.0, lock=False)
            finished_at = spawn.Value("d", 0.0, lock=False)
            process = spawn.Process(
                target=compose_process, args=(db_url, next_batch, ready, go, cpu, finished_at)
            )
            composers.append((process, ready, cpu, finished_at))
        try:
            workers.start()  # waiting to begin
            for process, _, _, _ in composers:
                process.start()
            for _, ready, _, _ in composers:
                ready.wait(120)
            sink_cpu = cpu_seconds(sink.proc.pid)
            started = time.perf_counter()
            workers.begin()
            go.set()
            # Every message is composed before the last one can be settled.
            while workers.settled() < COUNT:
                if any(process.exitcode not in (None, 0) for process, _, _, _ in composers):
                    raise SystemExit("a composing process failed")
                time.sleep(0.002)
            workers.stop()  # returns once the last outcomes are in the outbox
            elapsed = time.perf_counter() - started
            sink_cpu = cpu_seconds(sink.proc.pid) - sink_cpu
            composed = max(finished_at.value for _, _, _, finished_at in composers) - started
            for process, _, _, _ in composers:
                process.join()
                assert process.exitcode == 0, "a composing process failed"
        finally:
            for process, _, _, _ in composers:
                if process.is_alive():
                    process.kill()
            workers.join()
            sink.stop()
        stored_bytes = sent_message_bytes(engine)
        engine.dispose()
    return Round(
        msgs_per_s=round(COUNT / elapsed, 1),
        composed_msgs_per_s=round(COUNT / composed, 1),
        cpu_us_per_msg={
            "compose_enqueue": round(sum(cpu.value for _, _, cpu, _ in composers) / COUNT * 1e6),
            "deliver": round(workers.cpu_seconds() / COUNT * 1e6),
            "smtp_sink": round(sink_cpu / COUNT * 1e6),
        },
        message_bytes=round(stored_bytes),
    )


def _references(message_bytes: int) -> tuple[float, float]:
    """smtp-source → smtp-sink with messages of ``message_bytes``, and with the 2 KB ones."""
    messages = max(COUNT, 5000)
    return (
        reference_rate(messages=messages, sessions=4, message_size=message_bytes),
        reference_rate(messages=messages, sessions=4, message_size=MESSAGE_SIZE),
    )


def measure(run: Callable[[], Round], scenario: str, **extra: object) -> None:
    """Run ``ROUNDS`` rounds of ``run`` between references and emit the median round as ``scenario``."""
    message_bytes = mean_message_bytes()
    # The references before the first round and after each: a round is compared with the mean of
    # the two around it, so a host that slows down or speeds up during the scenario moves both alike.
    references = [_references(message_bytes)]
    rounds: list[Round] = []
    for _ in range(ROUNDS):
        result = run()
        # The reference stands for these messages only if the outbox holds what the pre-pass composed.
        assert abs(result.message_bytes - message_bytes) <= message_bytes / 100, (result, message_bytes)
        references.append(_references(message_bytes))
        (before, before_2kb), (after, after_2kb) = references[-2:]
        result.reference_msgs_per_s = round((before + after) / 2, 1)
        result.reference_2kb_msgs_per_s = round((before_2kb + after_2kb) / 2, 1)
        rounds.append(result)
    median = sorted(rounds, key=lambda r: r.ratio)[len(rounds) // 2]
    emit(
        scenario,
        median.msgs_per_s,
        median.reference_msgs_per_s,
        messages=COUNT,
        message_bytes=median.message_bytes,
        reference_message_bytes=message_bytes,
        reference_2kb_msgs_per_s=median.reference_2kb_msgs_per_s,
        ratio_2kb=round(median.ratio_2kb, 3),
        composed_msgs_per_s=median.composed_msgs_per_s,
        connections=CONNECTIONS,
        worker_processes=WORKERS,
        cpu_us_per_msg=median.cpu_us_per_msg,
        rounds=[r.summary() for r in rounds],
        **extra,
    )


def main() -> None:
    measure(run_round, "e2e", composer_processes=COMPOSERS, target_ratio=0.25)


if __name__ == "__main__":
    main()
