"""Flows on PostgreSQL: two runners racing over the same runs never advance one twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.flows.conftest import run_until
from tests.support.postgres import mailcard_on

from mailcard.bootstrap import Container
from mailcard.delivery.fake import RecordingTransport
from mailcard.flows import IncomingEvent

if TYPE_CHECKING:
    from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres
RUNS = 40


@pytest.fixture()
def on_postgres(tmp_path: Path, postgres: PostgresCluster) -> Iterator[Container]:
    with mailcard_on(postgres, tmp_path) as container:
        yield container


def test_two_runners_share_the_runs_and_each_email_is_sent_once(on_postgres: Container) -> None:
    on_postgres.flows().activate(
        {
            "id": "race",
            "name": "Race",
            "trigger": {"event": "order.created"},
            "blocks": [
                {
                    "id": "mark",
                    "type": "set_variable",
                    "name": "n",
                    "value": "{{ order.number }}",
                    "next": "mail",
                },
                {
                    "id": "mail",
                    "type": "send_email",
                    "to": "{{ customer.email }}",
                    "from": "Shop <shop@example.com>",
                    "subject": "Order {{ vars.n }}",
                    "text": "Order {{ vars.n }}",
                },
            ],
        }
    )
    engine = on_postgres.flow_engine()
    run_ids = [
        run.id
        for n in range(RUNS)
        for run in engine.accept(
            IncomingEvent(f"e{n}", "order.created", {"email": f"c{n}@example.com"}, {"order": {"number": n}})
        ).runs
    ]
    racers = [on_postgres.flow_engine() for _ in range(2)]
    racers[0].owner, racers[1].owner = "racer-a", "racer-b"
    advanced: dict[str, list[str]] = {"racer-a": [], "racer-b": []}

    def race(racer: object) -> None:
        from mailcard.flows import FlowEngine

        assert isinstance(racer, FlowEngine)
        for _ in range(20):
            advanced[racer.owner] += racer.advance_due(limit=5)

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(advanced["racer-a"]) & set(advanced["racer-b"]), "a run advanced by both racers"
    transport = RecordingTransport()
    store = on_postgres.flows().store
    run_until(
        on_postgres, lambda: store.counts().get("completed", 0) == RUNS, transport=transport, timeout=60
    )
    assert len(transport.sends) == RUNS
    for run_id in run_ids:
        assert len(on_postgres.outbox.list(flow_run_id=run_id)) == 1
        assert [(s.block_id, s.edge) for s in store.steps(run_id)] == [("mark", "next"), ("mail", "success")]
