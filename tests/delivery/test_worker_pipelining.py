"""The worker on the real SmtpTransport and the scripted server, with messages pipelined on one
connection: what people see in the outbox when one message of a pipeline is refused or the
connection drops in the middle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.support.scripted_smtp import CLOSE, ScriptedSmtpServer

from mailcard.delivery.accounts import AccountLimits, ResolvedAccount, StaticAccountResolver
from mailcard.delivery.settings import SmtpSettings
from mailcard.delivery.smtp import SmtpTransport
from mailcard.delivery.worker import DeliveryWorker, WorkerOptions
from mailcard.outbox import MessageStatus, NewMessage, RetryPolicy
from mailcard.outbox.memory import InMemoryOutboxStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
COUNT = 6


def outcomes(
    after_first_body: str | object,
) -> tuple[InMemoryOutboxStore, list[str], ScriptedSmtpServer, SmtpTransport]:
    """Deliver COUNT messages over one connection; the server answers the first body with ``after_first_body``."""
    store = InMemoryOutboxStore()
    ids = store.enqueue_many(
        [
            NewMessage(
                "shop@example.test",
                (f"c{n}@example.test",),
                f"Subject: {n}\r\n\r\nhi\r\n".encode(),
                f"<{n}@x>",
            )
            for n in range(COUNT)
        ],
        now=NOW,
    )

    transport = SmtpTransport(max_connections_per_account=1)

    async def main() -> ScriptedSmtpServer:
        async with ScriptedSmtpServer() as server:
            server.on("DATA_END", after_first_body)  # type: ignore[arg-type]
            account = ResolvedAccount(
                key="scripted",
                settings=SmtpSettings(
                    server.host, server.port, "none", None, None, local_hostname="client.test"
                ),
                limits=AccountLimits(max_connections=1),
            )
            worker = DeliveryWorker(
                store,
                transport,
                StaticAccountResolver(account),
                policy=RetryPolicy(max_attempts=3, base_delay_seconds=60, jitter=0),
                options=WorkerOptions(
                    concurrency=COUNT, batch_size=COUNT, poll_seconds=0.01, flush_seconds=0.01
                ),
                worker_id="w-test",
                clock=lambda: NOW,
            )
            await worker.run_once(ids)
            await worker.aclose()
            return server

    return store, ids, asyncio.run(main()), transport


def statuses(store: InMemoryOutboxStore, ids: list[str]) -> list[MessageStatus]:
    return [m.status for m in (store.get(i) for i in ids) if m is not None]


def test_a_refused_body_fails_only_its_own_message_with_the_server_evidence() -> None:
    store, ids, server, _ = outcomes("554 5.7.1 Message rejected as spam")
    found = statuses(store, ids)
    assert sorted(found) == sorted([MessageStatus.FAILED] + [MessageStatus.SENT] * (COUNT - 1))
    [failed_id] = [i for i, status in zip(ids, found, strict=True) if status == MessageStatus.FAILED]
    failed = store.get(failed_id)
    assert failed is not None and failed.last_smtp_code == 554
    assert "rejected as spam" in (failed.last_error or "")
    # Every other message was delivered exactly once, each with its own "250 ... queued as".
    delivered = sorted(m.rcpt_to[0] for m in server.messages)
    assert len(delivered) == COUNT - 1 and len(set(delivered)) == COUNT - 1
    for message_id in ids:
        [attempt] = store.attempts(message_id)
        if message_id != failed_id:
            assert (attempt.outcome, attempt.smtp_code) == ("sent", 250)
            assert "queued as" in (attempt.server_text or "")
    assert len(server.sessions) == 1
    # The next message's commands went out with the refused body: no RSET came between.
    assert "RSET" not in server.sessions[0].verbs


def test_a_connection_dropped_mid_pipeline_leaves_no_message_marked_sent_that_was_not() -> None:
    store, ids, server, transport = outcomes(CLOSE)
    found = statuses(store, ids)
    # The message whose body got no answer may or may not have arrived: a temporary failure, to be
    # retried. The one pipelined behind it was sent on a fresh connection; nothing is lost.
    assert sorted(found) == sorted([MessageStatus.RETRY] + [MessageStatus.SENT] * (COUNT - 1))
    [waiting_id] = [i for i, status in zip(ids, found, strict=True) if status == MessageStatus.RETRY]
    waiting = store.get(waiting_id)
    assert waiting is not None and waiting.last_reason == "connection_lost"
    [attempt] = store.attempts(waiting_id)
    assert attempt.outcome == "transient"
    delivered = [m.rcpt_to[0] for m in server.messages]
    assert sorted(delivered) == sorted(f"c{n}@example.test" for n, i in enumerate(ids) if i != waiting_id), (
        "each sent message delivered once, the dropped one not recorded by the server"
    )
    assert len(server.sessions) == 2
    assert transport.stats.retried_on_fresh_connection == 1  # the pipelined one, on the new connection
