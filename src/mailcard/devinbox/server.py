"""The capture SMTP server (aiosmtpd) that accepts everything and stores it in the dev inbox."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcard.devinbox.store import DevInboxStore

log = logging.getLogger("mailcard.devinbox")

BANNER = "DEV INBOX: e-mail is captured on this machine and never delivered to anyone."


class _CaptureHandler:
    def __init__(self, store: DevInboxStore) -> None:
        self._store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        captured = await asyncio.to_thread(
            self._store.save, str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], bytes(data)
        )
        log.info("captured %s for %s: %s", captured.id, ", ".join(captured.recipients), captured.subject)
        return f"250 OK captured as {captured.id}"


class DevInbox:
    """Run with ``await inbox.start()`` inside an event loop; ``await inbox.stop()`` to close."""

    def __init__(self, store: DevInboxStore, *, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        handler = _CaptureHandler(self.store)
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="mailcard-devinbox", enable_SMTPUTF8=True, decode_data=False),
            host=self.host,
            port=self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.warning("%s Listening on %s:%s", BANNER, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
