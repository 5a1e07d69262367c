"""Scenario ``e2e``: personalised bulk, end to end.

For each customer a Twig template (subject, preheader, HTML body with a loop over order items) is
rendered, validated, turned into MIME (with the generated text part and hidden preheader), durably
enqueued in batches, and delivered by the worker to smtp-sink. Timed from the first render to the last
"sent" recorded in the outbox, beside smtp-source → smtp-sink in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from _common import QUICK, emit, reference_rate, sink_worker, start_smtp_sink
from mailcard.compose import Composer, EmailRequest
from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.outbox.sql import SqlOutboxStore
from mailcard.rendering import TemplateEngine

COUNT = 1000 if QUICK else 5000
BATCH = 250
CONNECTIONS = 8

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
            "totalSumm": sum(float(i["quantity"]) * float(i["initialPrice"]) for i in items),  # type: ignore[arg-type]
            "delivery": {"date": "2026-11-25"},
        },
        "manager": {"firstName": "Ольга", "lastName": "Смирнова"},
    }


def main() -> None:
    reference = reference_rate(messages=max(COUNT, 5000), sessions=4)
    contexts = [context(n) for n in range(COUNT)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        store = SqlOutboxStore(engine)
        composer = Composer(store, templates=TemplateEngine())
        sink = start_smtp_sink()
        try:
            worker = sink_worker(store, sink.port, CONNECTIONS)

            async def run() -> tuple[float, float]:
                stop = asyncio.Event()
                started = time.perf_counter()
                delivering = asyncio.create_task(worker.run(stop))
                for start in range(0, COUNT, BATCH):
                    requests = [
                        EmailRequest(
                            sender="Магазин «Ромашка» <shop@example.com>",
                            to=str(c["customer"]["email"]),  # type: ignore[index]
                            subject=SUBJECT,
                            preheader=PREHEADER,
                            html=HTML,
                            context=c,
                        )
                        for c in contexts[start : start + BATCH]
                    ]
                    # Composition is CPU work; run it off the loop so delivery proceeds meanwhile.
                    items = await asyncio.to_thread(composer.submit_many, requests)
                    assert all(item.error is None for item in items), [i.error for i in items if i.error][:1]
                composed = time.perf_counter() - started
                while worker.sent + worker.failed < COUNT:  # noqa: ASYNC110 - polling a counter
                    await asyncio.sleep(0.01)
                stop.set()
                await delivering
                await worker.aclose()
                return composed, time.perf_counter() - started

            composed, elapsed = asyncio.run(run())
        finally:
            sink.stop()
        engine.dispose()
    emit(
        "e2e",
        COUNT / elapsed,
        reference,
        messages=COUNT,
        composed_msgs_per_s=round(COUNT / composed, 1),
        connections=CONNECTIONS,
        target_ratio=0.25,
    )


if __name__ == "__main__":
    main()
