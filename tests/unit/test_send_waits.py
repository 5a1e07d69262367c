"""`mailcard send` reports the outcome even when a running server's worker claimed the message first."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

from mailcard.bootstrap import build
from mailcard.cli.send_cmd import _deliver_now
from mailcard.outbox.model import Attempt, MessageStatus, NewMessage, Settlement
from mailcard.settings import Settings


def test_send_waits_for_the_other_workers_attempt(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path, devinbox_port=1))
    try:
        outbox = container.outbox
        now = datetime.now(UTC)
        stored = outbox.enqueue(
            NewMessage(
                envelope_from="shop@example.com",
                envelope_to=("anna@example.com",),
                data=b"Subject: hi\r\n\r\nhello\r\n",
                message_id="<1@example.com>",
            ),
            now=now,
        ).message
        # The server's worker holds the message: the CLI's own worker finds nothing to claim.
        [claimed] = outbox.claim("server-worker", limit=1, lease_seconds=60, now=now, ids=[stored.id])
        settled = threading.Event()

        def server_delivers() -> None:
            finished = datetime.now(UTC)
            attempt = Attempt(claimed.id, 1, "server-worker", now, finished, "sent", smtp_code=250)
            outbox.settle("server-worker", [Settlement(attempt, MessageStatus.SENT)], now=finished)
            settled.set()

        timer = threading.Timer(0.5, server_delivers)
        timer.start()
        asyncio.run(_deliver_now(container, stored.id))
        # Returned only once the outcome was known, so the CLI can report "sent", not "queued".
        returned_after_settle = settled.is_set()
        timer.join()
        assert returned_after_settle
        message = outbox.get(stored.id)
        assert message is not None and message.status is MessageStatus.SENT
    finally:
        container.dispose()
