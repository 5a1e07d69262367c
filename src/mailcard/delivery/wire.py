"""``SmtpChannel``: the bytes on the wire once a connection is logged in — replies in, command groups out.

Hand-rolled on purpose, and only for the transaction phase. aiosmtplib still connects, greets, does
STARTTLS and AUTH (where the classification of TLS and login failures depends on its exceptions); then
:meth:`SmtpChannel.take_over` puts this protocol on the same transport. The reason is the delivery
benchmark: aiosmtplib reads exactly one reply per command (``asyncio.wait_for`` on a fresh future for
each), so a message costs four round trips — MAIL, RCPT, DATA, body — each with its own ``send()``
system call and event-loop wake-up, which made the worker CPU-bound at ~1,600 msg/s against
smtp-sink. With RFC 2920 PIPELINING, ``MAIL``, every ``RCPT`` and ``DATA`` go out in one write and
their replies are read in order: two round trips per message.

What this module owns:

* parsing replies (multi-line ``250-…``/``250 …``), as aiosmtplib does: a line that does not start
  with a three-digit code is :class:`aiosmtplib.SMTPResponseException` with code ``-1`` ("Malformed
  SMTP response line"), so :mod:`mailcard.delivery.classify` sees exactly what it saw before;
* a queue of parsed replies, so several replies arriving in one read are never lost;
* waiting for a number of replies with one timer (:meth:`SmtpChannel.wait`), and handing them out one
  at a time (:meth:`SmtpChannel.next_reply`), which raises ``SMTPServerDisconnected`` /
  ``SMTPReadTimeoutError`` when the connection ended or the wait timed out, so the caller knows at
  which command the trouble started;
* counting replies still owed for commands already written (:attr:`SmtpChannel.owed`), so a refused
  pipelined group can be drained before ``RSET`` and the connection reused.

It never decides what a reply means; :mod:`mailcard.delivery.smtp` does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final, NamedTuple, cast

import aiosmtplib

__all__ = ["Reply", "SmtpChannel"]

# aiosmtplib's limits, kept so that a misbehaving server is refused the same way.
_MAX_LINE: Final = 8192
_MAX_BUFFER: Final = _MAX_LINE * 4
_INVALID: Final = int(aiosmtplib.SMTPStatus.invalid_response)


class Reply(NamedTuple):
    code: int
    text: str


class SmtpChannel(asyncio.Protocol):
    """The protocol on a logged-in connection's transport. One instance per connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self.timeout = timeout  # seconds to wait for the replies of one write
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: deque[Reply] = deque()
        self._error: BaseException | None = None  # the connection is over (lost, EOF, garbage)
        self._timed_out = False
        self._waiter: asyncio.Future[None] | None = None
        self._wanted = 0
        # One timer per channel, not one per wait: a wait sets its deadline, and the timer, when it
        # fires, times the wait out or is set again for the later deadline (see _deadline_passed).
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.owed = 0  # replies owed for commands written and not yet taken with next_reply()

    @classmethod
    def take_over(cls, smtp: aiosmtplib.SMTP, timeout: float) -> SmtpChannel:
        """Move ``smtp``'s transport (plain or TLS) onto a new channel; ``smtp`` is not used for I/O again."""
        # Not an isinstance check: uvloop's transports do not derive from asyncio.Transport.
        transport = cast("asyncio.Transport | None", smtp.transport)
        if transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        channel = cls(asyncio.get_running_loop(), timeout)
        channel._transport = transport
        transport.set_protocol(channel)
        return channel

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # pragma: no cover - take_over
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._error is not None:
            return
        if not self.owed:
            # Nothing was asked: an unsolicited line (a server's goodbye before it closes) must not
            # be taken for the answer to the next command. aiosmtplib drops it the same way.
            return
        buffer = self._buffer
        buffer += data
        if len(buffer) > _MAX_BUFFER:
            self._fail(aiosmtplib.SMTPResponseException(_INVALID, "Response too long"))
            return
        try:
            self._parse()
        except aiosmtplib.SMTPResponseException as exc:
            self._fail(exc)
            return
        self._wake()

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        error = aiosmtplib.SMTPServerDisconnected("Connection lost")
        if exc is not None:
            error.__cause__ = exc
        self._fail(error)
        self._transport = None

    # -- for the conversation ----------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        transport = self._transport
        return self._error is None and transport is not None and not transport.is_closing()

    def write(self, data: bytes, replies: int) -> None:
        """Send ``data`` (one or more commands, or a message body) that ``replies`` replies answer."""
        transport = self._transport
        if self._error is not None or transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        if not self.owed:
            # Anything left over belongs to no command of ours.
            self._buffer.clear()
            self._replies.clear()
        self.owed += replies
        transport.write(data)

    async def wait(self, count: int, seconds: float | None = None) -> None:
        """Wait until ``count`` replies are queued, the connection ends, or the timeout passes.

        Never raises for those: :meth:`next_reply` reports them, at the command they concern.
        """
        if len(self._replies) >= count or self._error is not None:
            return
        self._wanted = count
        loop = self._loop
        waiter = self._waiter = loop.create_future()
        deadline = self._deadline = loop.time() + (self.timeout if seconds is None else seconds)
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._deadline_passed)
        try:
            await waiter
        finally:
            self._waiter = None

    def next_reply(self) -> Reply:
        """The oldest queued reply; raises when there is none (connection over, or timed out)."""
        if self._replies:
            self.owed -= 1
            return self._replies.popleft()
        if self._error is not None:
            raise self._error
        if self._timed_out:
            self._timed_out = False
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        raise aiosmtplib.SMTPReadTimeoutError("No reply to wait for")  # pragma: no cover - caller bug

    async def reply(self, seconds: float | None = None) -> Reply:
        """Wait for and take the next reply (one command at a time)."""
        await self.wait(1, seconds)
        return self.next_reply()

    async def command(self, line: bytes, seconds: float | None = None) -> Reply:
        """Send one command line (with CRLF) and take its reply."""
        self.write(line, 1)
        return await self.reply(seconds)

    def close(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.close()
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection closed"))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- internals ---------------------------------------------------------------------------------

    def _parse(self) -> None:
        """Move every complete reply from the buffer to the queue."""
        buffer = self._buffer
        start = consumed = 0
        lines: list[bytes] = []
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start : end + 1])
            if len(line) > _MAX_LINE:
                raise aiosmtplib.SMTPResponseException(_INVALID, "Response too long")
            head = line[:3]
            if not head.isdigit():
                # int() in aiosmtplib would also accept " 25" or "+25"; a real SMTP code never does.
                try:
                    int(head)
                except ValueError:
                    shown = line.decode("utf-8", errors="ignore")
                    raise aiosmtplib.SMTPResponseException(
                        _INVALID, f"Malformed SMTP response line: {shown}"
                    ) from None
            start = end + 1
            if line[3:4] == b"-":
                lines.append(line)
                continue
            if lines:
                lines.append(line)
                text = b"\n".join(part[4:].strip(b" \t\r\n") for part in lines)
                lines = []
            else:
                text = line[4:].strip(b" \t\r\n")
            self._replies.append(Reply(int(head), text.decode("utf-8", "surrogateescape")))
            consumed = start
        if consumed:
            del buffer[:consumed]

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and len(self._replies) >= self._wanted:
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _deadline_passed(self) -> None:
        """The channel's timer: the wait in progress (if any) has reached its deadline, or a later
        wait has moved the deadline on and the timer is set again for it."""
        timer, self._timer = self._timer, None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # nothing is waiting; the next wait sets a timer
        if timer is not None and self._deadline > timer.when():
            self._timer = self._loop.call_at(self._deadline, self._deadline_passed)
            return
        self._timed_out = True
        waiter.set_result(None)
