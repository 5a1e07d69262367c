"""A counting SMTP sink (aiosmtpd in a thread) that remembers which message arrived how often.

Postfix's smtp-sink counts messages but cannot tell a duplicate from a new one; the crash tests need
exactly that, so this sink records the Message-ID of every accepted message.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller
from tests.support.postfix_tools import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        match = _MESSAGE_ID.search(envelope.original_content or envelope.content)
        key = match.group(1).decode() if match else "<missing>"
        with self.lock:
            self.deliveries[key] += 1
        return "250 2.0.0 Ok: counted"


class CountingSink:
    def __init__(self) -> None:
        self._recorder = _Recorder()
        # aiosmtpd's Controller probes its own port after start, so it needs a real one, not 0.
        self._port = free_port()
        self._controller = Controller(
            self._recorder, hostname="127.0.0.1", port=self._port, decode_data=False
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return self._port

    def snapshot(self) -> Counter[str]:
        with self._recorder.lock:
            return Counter(self._recorder.deliveries)
