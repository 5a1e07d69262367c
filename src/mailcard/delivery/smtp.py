"""``SmtpTransport``: the real :class:`~mailcard.delivery.transport.Transport`, on aiosmtplib.

This module owns the SMTP conversation and the connection pool:

* connecting with the chosen security — STARTTLS (587), implicit TLS (465), or plain text only when
  ``security="none"`` was chosen — with certificate verification on by default;
* logging in with AUTH PLAIN or LOGIN (UTF-8, so non-ASCII passwords work);
* the transaction: ``MAIL FROM`` (with ``SIZE``, ``SMTPUTF8``, ``BODY=8BITMIME`` when they apply),
  one ``RCPT TO`` per recipient, ``DATA``; with RFC 2920 PIPELINING when the server offers it
  (``MAIL``, every ``RCPT`` and ``DATA`` in one write, replies read in order), one command at a time
  otherwise;
* a small pool per account (:attr:`SmtpSettings.key`): at most ``max_connections_per_account``
  connections, reused until idle for ``idle_timeout`` seconds or after
  ``max_messages_per_connection`` messages; a connection in doubt is closed, never reused;
* translating every aiosmtplib / ``ssl`` / ``socket`` exception into a
  :class:`~mailcard.errors.DeliveryError` at one place (:func:`_translated`), so nothing above
  this module sees a foreign exception.

Retries across attempts are the worker's business. The one retry done here: when a *reused*
connection turns out to be dead before the server accepted ``MAIL FROM``, the message is tried
once more on a fresh connection — nothing can have been delivered yet, so this cannot duplicate.

aiosmtplib connects, secures and logs in; the transaction runs on
:class:`~mailcard.delivery.wire.SmtpChannel`, a small protocol of our own on the same transport,
because aiosmtplib cannot pipeline and its one-reply-per-command reads made delivery CPU-bound
(see that module and docs/smtp.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, NamedTuple

import aiosmtplib

from mailcard.delivery.classify import (
    ClassifyContext,
    Phase,
    classify_exception,
    classify_reply,
    delivery_error,
)
from mailcard.delivery.settings import SmtpSettings, build_tls_context
from mailcard.delivery.transport import Envelope, SendResult
from mailcard.delivery.wire import Reply, SmtpChannel
from mailcard.errors import DeliveryError

__all__ = [
    "PoolStats",
    "SmtpConnection",
    "SmtpTransport",
    "StepCallback",
    "TransactionProgress",
    "check_envelope",
    "open_connection",
    "send_transaction",
]

# Longest wait for the server's "220" greeting. Shorter than the step timeout because the usual
# reason for a missing greeting is a STARTTLS client on an implicit-TLS port (465), and the user
# should learn that in seconds. Postfix's postscreen greet delay (6 s, port 25 only) fits within.
GREETING_TIMEOUT: Final = 15.0
StepCallback = Callable[[str, str], None]
"""``on_step(step, detail)``: told after each SMTP step that succeeded (the probe lists them)."""
_FOREIGN: Final = (aiosmtplib.SMTPException, OSError, TimeoutError, EOFError)
_LINE_ENDINGS: Final = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_LEADING_DOT: Final = re.compile(rb"(?m)^(?=\.)")
_BARE_CR: Final = re.compile(rb"\r(?!\n)")
_DOT_AFTER_NEWLINE: Final = re.compile(rb"\n\.")
_BAD_ADDRESS_CHARS: Final = re.compile(r"[\x00-\x20<>\x7f]")
# Failures that mean "this connection is dead", as opposed to "the server said no".
_DEAD_CONNECTION: Final = frozenset({"connection_lost", "timeout", "server_unavailable"})


@dataclass
class PoolStats:
    """Counters for tests and metrics."""

    opened: int = 0
    reused: int = 0
    retried_on_fresh_connection: int = 0
    discarded: int = 0


@dataclass
class _Step:
    """The step in progress, read by :func:`_translated` when an exception arrives."""

    phase: Phase = "connect"


@dataclass
class SmtpConnection:
    """One logged-in SMTP connection, ready for transactions.

    ``smtp`` did the connecting, STARTTLS and AUTH and is kept for what it learnt (EHLO extensions,
    TLS details); every command after that goes through ``channel``.
    """

    smtp: aiosmtplib.SMTP
    settings: SmtpSettings
    context: ClassifyContext
    channel: SmtpChannel
    last_used: float = 0.0
    messages: int = 0
    extensions: frozenset[str] = frozenset()

    @property
    def is_connected(self) -> bool:
        return self.channel.is_connected

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    def supports(self, extension: str) -> bool:
        return extension.lower() in self.extensions

    def close(self) -> None:
        self.channel.close()
        self.smtp.close()

    async def quit(self) -> None:
        """Say goodbye politely (briefly: nothing depends on the answer any more)."""
        with contextlib.suppress(*_FOREIGN):
            if self.channel.is_connected:
                await self.channel.command(b"QUIT\r\n", min(self.settings.timeout, 2.0))
        self.close()


class Commands(NamedTuple):
    """A message's ``MAIL FROM``, every ``RCPT TO`` and ``DATA`` as one pipelined write, and its body."""

    group: bytes
    body: bytes  # dot-stuffed, ending with ".CRLF"
    replies: int  # owed for ``group``


Follower = Callable[[SmtpConnection], Commands | None]
"""``follow(connection)``: the next message's :class:`Commands`, already taken over, or None."""
_Handover = tuple[SmtpConnection | None, Commands | None]


@dataclass(eq=False, slots=True)
class _Turn:
    """A message waiting for one of its pool's connections.

    Handed ``(connection, written)``: a connection (None: open one) with the slot that goes with it,
    and the commands already written for this message on it (None: none were).
    """

    envelope: Envelope
    data: bytes
    handover: asyncio.Future[_Handover]


@dataclass
class _Pool:
    limit: int  # connections at most
    tls_context: ssl.SSLContext | None
    idle: list[SmtpConnection] = field(default_factory=list)
    busy: int = 0  # connections in use (or being opened); waiting is only non-empty at the limit
    waiting: deque[_Turn] = field(default_factory=deque)


@dataclass(eq=False, slots=True)
class _Successor:
    """The follower of one send: takes the first waiting message of the pool onto its connection."""

    transport: SmtpTransport
    pool: _Pool
    taken: tuple[_Turn, Commands] | None = None

    def __call__(self, connection: SmtpConnection) -> Commands | None:
        transport, waiting = self.transport, self.pool.waiting
        if (
            self.taken is not None
            or not waiting
            or not connection.pipelining
            or transport._closed
            or connection.messages + 2 > transport.max_messages_per_connection
        ):
            return None
        turn = waiting[0]
        if turn.handover.done():
            return None  # cancelled; its task takes it out of the queue
        try:
            commands = commands_for(connection, turn.envelope, turn.data)
        except (DeliveryError, ValueError):
            return None  # its own attempt reports this, in its own words
        waiting.popleft()
        self.taken = (turn, commands)
        return commands


@dataclass
class TransactionProgress:
    """How far a transaction got: after ``MAIL FROM`` was accepted, a retry could duplicate."""

    mail_accepted: bool = False


class SmtpTransport:
    """Sends over SMTP with pooled connections. One instance per process; ``aclose()`` at the end."""

    def __init__(
        self,
        *,
        max_connections_per_account: int = 4,
        idle_timeout: float = 60.0,
        max_messages_per_connection: int = 100,
        greeting_timeout: float = GREETING_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_connections_per_account < 1:
            raise ValueError("max_connections_per_account must be at least 1")
        self.max_connections_per_account = max_connections_per_account
        self.idle_timeout = idle_timeout
        self.max_messages_per_connection = max_messages_per_connection
        self.greeting_timeout = greeting_timeout
        self.stats = PoolStats()
        self._clock = clock
        self._pools: dict[tuple[object, ...], _Pool] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        self._reaped_at = -math.inf
        self._last_settings: SmtpSettings | None = None
        self._last_pool: _Pool | None = None

    async def send(self, settings: SmtpSettings, envelope: Envelope, data: bytes) -> SendResult:
        """Send ``data`` as is (line endings normalised to CRLF, dots stuffed); see :class:`Transport`.

        With every connection of the account busy, the message waits for one; a connection that
        finishes a message hands itself (and its slot) to the first one waiting. With PIPELINING, it
        writes that message's commands together with its own body (RFC 2920), so a busy connection
        costs one write per message; the replies still settle each message on its own.
        """
        if self._closed:
            raise RuntimeError("SmtpTransport used after aclose()")
        _check_envelope(envelope)
        self._reap_idle()
        pool = self._pool_for(settings)
        connection: SmtpConnection | None = None
        written: Commands | None = None
        if pool.busy < pool.limit:
            pool.busy += 1
        else:
            connection, written = await self._wait_for_turn(pool, envelope, data)
        successor = _Successor(self, pool)
        try:
            reused = connection is not None
            if connection is None:
                connection, reused = await self._checkout(pool, settings)
            else:
                self.stats.reused += 1
            progress = TransactionProgress()
            try:
                result = await self._send_on(connection, envelope, data, progress, written, successor)
            except DeliveryError as error:
                if not (reused and not progress.mail_accepted and error.reason in _DEAD_CONNECTION):
                    raise
                # A pooled connection the server had closed (idle timeout, restart): nothing was
                # accepted yet, so one more try on a fresh connection cannot duplicate the message.
                connection.close()
                self.stats.discarded += 1
                self.stats.retried_on_fresh_connection += 1
                connection = None  # (if opening fails, there is none to hand on)
                connection = await self._open(settings, pool)
                result = await self._send_on(
                    connection, envelope, data, TransactionProgress(), None, successor
                )
        except DeliveryError:
            self._release(pool, connection, successor.taken)
            raise
        except BaseException:
            # Cancelled, or a bug: the conversation state is unknown, never reuse it.
            if connection is not None:
                connection.close()
                self.stats.discarded += 1
            self._release(pool, connection, successor.taken)
            raise
        self._release(pool, connection, successor.taken)
        return result

    async def _wait_for_turn(self, pool: _Pool, envelope: Envelope, data: bytes) -> _Handover:
        turn = _Turn(envelope, data, asyncio.get_running_loop().create_future())
        pool.waiting.append(turn)
        try:
            return await turn.handover
        except BaseException:
            handover = turn.handover
            if handover.done() and not handover.cancelled():
                # Handed a connection just as we were cancelled: its state is unknown.
                connection = handover.result()[0]
                if connection is not None:
                    connection.close()
                    self.stats.discarded += 1
                self._release(pool, connection, None)
            elif turn in pool.waiting:
                pool.waiting.remove(turn)
            # Else a connection took it over; it sees the cancellation when it hands over.
            raise

    async def aclose(self) -> None:
        """QUIT every idle connection and forget the pools."""
        self._closed = True
        connections = [c for pool in self._pools.values() for c in pool.idle]
        self._pools.clear()
        self._last_settings = self._last_pool = None
        await asyncio.gather(*(c.quit() for c in connections), *self._closing, return_exceptions=True)

    # -- pool -------------------------------------------------------------------------------------

    def _pool_for(self, settings: SmtpSettings) -> _Pool:
        if settings is self._last_settings and self._last_pool is not None:
            return self._last_pool  # the usual case: the worker passes its cached account's settings
        pool = self._pools.get(settings.key)
        if pool is None:
            tls = build_tls_context(settings) if settings.security != "none" else None
            pool = _Pool(self.max_connections_per_account, tls)
            self._pools[settings.key] = pool
        self._last_settings, self._last_pool = settings, pool
        return pool

    async def _checkout(self, pool: _Pool, settings: SmtpSettings) -> tuple[SmtpConnection, bool]:
        while pool.idle:
            connection = pool.idle.pop()  # most recently used first: the most likely to be alive
            if connection.is_connected and not self._expired(connection):
                self.stats.reused += 1
                return connection, True
            self._retire(connection)
        return await self._open(settings, pool), False

    async def _open(self, settings: SmtpSettings, pool: _Pool) -> SmtpConnection:
        connection = await open_connection(
            settings, tls_context=pool.tls_context, greeting_timeout=self.greeting_timeout
        )
        self.stats.opened += 1
        return connection

    def _release(
        self, pool: _Pool, connection: SmtpConnection | None, taken: tuple[_Turn, Commands] | None
    ) -> None:
        """Hand ``connection`` and its slot on: to the message whose commands were written on it
        (``taken``), else to the first message waiting, else back to the pool."""
        if taken is not None:
            turn, commands = taken
            if not turn.handover.done():
                # Even a closed connection: its replies (or their absence) decide that message.
                turn.handover.set_result((connection, commands))
                return
            # Cancelled after its commands went out: nobody will read their replies.
            if connection is not None:
                connection.close()
                self.stats.discarded += 1
            connection = None
        while pool.waiting:
            turn = pool.waiting.popleft()
            if turn.handover.done():
                continue
            if connection is not None and (
                not connection.is_connected or connection.messages >= self.max_messages_per_connection
            ):
                self._retire(connection)  # (a connection just used is not idle: no idle_timeout)
                connection = None
            turn.handover.set_result((connection, None))
            return
        pool.busy -= 1
        if connection is not None:
            self._checkin(pool, connection)

    def _checkin(self, pool: _Pool, connection: SmtpConnection) -> None:
        if not connection.is_connected:
            self.stats.discarded += 1
            return
        connection.last_used = self._clock()
        if connection.messages >= self.max_messages_per_connection or self._closed:
            self._retire(connection)
            return
        pool.idle.append(connection)

    def _expired(self, connection: SmtpConnection) -> bool:
        return (
            self._clock() - connection.last_used > self.idle_timeout
            or connection.messages >= self.max_messages_per_connection
        )

    def _reap_idle(self) -> None:
        # Not for every message: a look at every idle connection cost as much as a tenth of the
        # worker's Python time per message, and a connection is checked again when checked out anyway.
        now = self._clock()
        if now - self._reaped_at < min(1.0, self.idle_timeout / 4):
            return
        self._reaped_at = now
        for pool in self._pools.values():
            keep = []
            for connection in pool.idle:
                if connection.is_connected and not self._expired(connection):
                    keep.append(connection)
                else:
                    self._retire(connection)
            pool.idle[:] = keep

    def _retire(self, connection: SmtpConnection) -> None:
        """Close a connection that did nothing wrong, with a QUIT in the background."""
        self.stats.discarded += 1
        if not connection.is_connected:
            connection.close()
            return
        task = asyncio.create_task(connection.quit())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # -- transaction ------------------------------------------------------------------------------

    async def _send_on(
        self,
        connection: SmtpConnection,
        envelope: Envelope,
        data: bytes,
        progress: TransactionProgress,
        written: Commands | None,
        successor: _Successor,
    ) -> SendResult:
        try:
            result = await send_transaction(
                connection, envelope, data, progress, written=written, follow=successor
            )
        except DeliveryError as error:
            if successor.taken is not None:
                # The next message's commands follow our body: the server has ended our transaction
                # (its reply to the body was the refusal), and no RSET may come between.
                if error.reason in _DEAD_CONNECTION or error.smtp_code == 421:
                    connection.close()
            elif connection.is_connected and error.reason not in _DEAD_CONNECTION:
                await _reset_or_close(connection)
            else:
                connection.close()
            raise
        connection.messages += 1
        return result


async def open_connection(
    settings: SmtpSettings,
    *,
    tls_context: ssl.SSLContext | None = None,
    greeting_timeout: float = GREETING_TIMEOUT,
    on_step: StepCallback | None = None,
) -> SmtpConnection:
    """Connect, greet, secure and log in; raises :class:`DeliveryError` naming the failed step.

    ``on_step(phase, detail)`` is called after each step that succeeded (used by the probe).
    """
    context = ClassifyContext(
        security=settings.security, port=settings.port, host=settings.host, timeout=settings.timeout
    )
    if settings.security != "none" and tls_context is None:
        tls_context = build_tls_context(settings)
    smtp = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        start_tls=False,  # we do STARTTLS ourselves, to know which step failed
        tls_context=tls_context,
        timeout=settings.timeout,
        local_hostname=settings.local_hostname or await _local_hostname(),
    )
    step = _Step("connect")
    done = on_step or _ignore_step
    try:
        with _translated(step, context):
            greeting = await smtp.connect(timeout=min(settings.timeout, greeting_timeout))
            done("connect", f"{greeting.code} {greeting.message}".strip())
            step.phase = "ehlo"
            await smtp.ehlo()
            if settings.security == "starttls":
                step.phase = "tls"
                if not smtp.supports_extension("starttls"):
                    raise delivery_error(
                        "tls_failed",
                        detail="the server does not offer STARTTLS",
                        hint=(
                            f"Port {settings.port} does not offer STARTTLS: use the submission port 587 "
                            "with STARTTLS, or port 465 with SSL/TLS."
                        ),
                        step="tls",
                    )
                await smtp.starttls()
                step.phase = "ehlo"
                await smtp.ehlo()
            if settings.security != "none":
                done("tls", _tls_description(smtp))
            if settings.username:
                step.phase = "auth"
                mechanism = await _login(smtp, settings, context)
                done("auth", f"logged in as {settings.username} with AUTH {mechanism}")
            channel = SmtpChannel.take_over(smtp, settings.timeout)
    except BaseException:
        smtp.close()
        raise
    return SmtpConnection(smtp, settings, context, channel, extensions=frozenset(smtp.esmtp_extensions))


async def send_transaction(
    connection: SmtpConnection,
    envelope: Envelope,
    data: bytes,
    progress: TransactionProgress | None = None,
    on_step: StepCallback | None = None,
    *,
    written: Commands | None = None,
    follow: Follower | None = None,
) -> SendResult:
    """MAIL, RCPT..., DATA on a ready connection; raises :class:`DeliveryError`.

    With PIPELINING, MAIL, every RCPT and DATA are written at once (RFC 2920 §3.1: DATA ends the
    group) and the replies read in order; the body goes out only after ``354``. Without it, one
    command at a time, and no DATA when every recipient was refused.

    ``written``: that group was already written (after the previous message's body, by its
    ``follow``); only its replies are read here. ``follow``: asked, once the body may go, for the
    next message's group to send in the same write (see :class:`SmtpTransport`).
    """
    channel = connection.channel
    step = _Step("mail")
    progress = progress or TransactionProgress()
    done = on_step or _ignore_step
    with _translated(step, connection.context):
        if written is None and connection.pipelining:
            written = commands_for(connection, envelope, data)
            channel.write(written.group, written.replies)
        if written is not None:
            body = written.body
            await channel.wait(written.replies)
            reply = channel.next_reply()
            rcpts: list[bytes] = []
        else:
            mail, rcpts, body = _envelope_commands(connection, envelope, data)
            reply = await channel.command(mail)
        _expect_mail(reply, envelope, done)
        progress.mail_accepted = True
        step.phase = "rcpt"
        accepted: list[str] = []
        refusals: list[aiosmtplib.SMTPRecipientRefused] = []
        if written is not None:
            for recipient in envelope.recipients:
                _take_rcpt(channel.next_reply(), recipient, accepted, refusals, done)
        else:
            for recipient, line in zip(envelope.recipients, rcpts, strict=True):
                _take_rcpt(await channel.command(line), recipient, accepted, refusals, done)
        step.phase = "data"
        if written is not None:
            reply = channel.next_reply()
            if not accepted:
                if reply.code == 354:
                    # A server that wants a body for nobody: we cannot end DATA safely.
                    channel.close()
                raise aiosmtplib.SMTPRecipientsRefused(refusals)
        elif not accepted:
            raise aiosmtplib.SMTPRecipientsRefused(refusals)
        else:
            reply = await channel.command(b"DATA\r\n")
        if reply.code != 354:
            raise aiosmtplib.SMTPDataError(reply.code, reply.text)
        following = follow(connection) if follow is not None else None
        if following is None:
            channel.write(body, 1)
        else:
            # RFC 2920 §3.1: the message content may start a group; the next message's DATA ends it.
            channel.write(body + following.group, 1 + following.replies)
        response = await channel.reply()
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.text)
        done("data", f"{response.code} {response.text}")
    return SendResult(
        smtp_code=response.code,
        server_text=response.text,
        accepted=tuple(accepted),
        refused={r.recipient: (r.code, r.message) for r in refusals},
    )


def commands_for(connection: SmtpConnection, envelope: Envelope, data: bytes) -> Commands:
    """The pipelined group and body of a message on ``connection`` (PIPELINING offered).

    Raises like the transaction would (SMTPUTF8 not offered, an address that is not ASCII).
    """
    mail, rcpts, body = _envelope_commands(connection, envelope, data)
    return Commands(b"".join([mail, *rcpts, b"DATA\r\n"]), body, len(rcpts) + 2)


def _envelope_commands(
    connection: SmtpConnection, envelope: Envelope, data: bytes
) -> tuple[bytes, list[bytes], bytes]:
    """``MAIL FROM``, each ``RCPT TO`` and the body as DATA sends it; raises like the transaction
    would (SMTPUTF8 not offered, an address that is not ASCII)."""
    utf8 = _check_smtputf8(connection, envelope)
    body, size = _wire_body(data)
    encoding = "utf-8" if utf8 else "ascii"
    mail = _mail_command(connection, envelope, data, size, utf8)
    return mail, [f"RCPT TO:<{r}>\r\n".encode(encoding) for r in envelope.recipients], body


async def check_envelope(
    connection: SmtpConnection, envelope: Envelope, data: bytes, on_step: StepCallback | None = None
) -> None:
    """MAIL FROM and RCPT TO (if any recipients), then RSET: would the server take this envelope?

    Nothing is sent. Raises :class:`DeliveryError` for the first refusal. One command at a time:
    the probe reports each step.
    """
    channel = connection.channel
    step = _Step("mail")
    done = on_step or _ignore_step
    with _translated(step, connection.context):
        mail, rcpts, _ = _envelope_commands(connection, envelope, data)
        _expect_mail(await channel.command(mail), envelope, done)
        if envelope.recipients:
            step.phase = "rcpt"
            accepted: list[str] = []
            refusals: list[aiosmtplib.SMTPRecipientRefused] = []
            for recipient, line in zip(envelope.recipients, rcpts, strict=True):
                _take_rcpt(await channel.command(line), recipient, accepted, refusals, done)
            if not accepted:
                raise aiosmtplib.SMTPRecipientsRefused(refusals)
        step.phase = "quit"
        response = await channel.command(b"RSET\r\n")
        if response.code != 250:
            raise aiosmtplib.SMTPResponseException(response.code, response.text)
        done("rset", f"{response.code} {response.text}")


def _ignore_step(phase: str, detail: str) -> None:
    pass


def _check_smtputf8(connection: SmtpConnection, envelope: Envelope) -> bool:
    """Whether the transaction needs SMTPUTF8; raises when it does and the server lacks it."""
    ascii_envelope = _envelope_is_ascii(envelope)
    utf8 = envelope.smtputf8 or not ascii_envelope
    if utf8 and not connection.supports("smtputf8"):
        raise delivery_error(
            "smtputf8_unsupported",
            detail="the server does not offer SMTPUTF8, needed for "
            + ("non-ASCII addresses" if not ascii_envelope else "this message"),
            step="mail",
        )
    return utf8


def _mail_command(
    connection: SmtpConnection, envelope: Envelope, data: bytes, size: int, utf8: bool
) -> bytes:
    options = ""
    if connection.supports("size"):
        # RFC 1870: lets the server refuse an oversized message before we upload it.
        options += f" SIZE={size}"
    if utf8:
        options += " SMTPUTF8"
    if not data.isascii() and connection.supports("8bitmime"):
        options += " BODY=8BITMIME"
    return f"MAIL FROM:<{envelope.sender}>{options}\r\n".encode("utf-8" if utf8 else "ascii")


def _expect_mail(reply: Reply, envelope: Envelope, done: StepCallback) -> None:
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.text, envelope.sender)
    done("mail", f"{reply.code} {reply.text}")


def _take_rcpt(
    reply: Reply,
    recipient: str,
    accepted: list[str],
    refusals: list[aiosmtplib.SMTPRecipientRefused],
    done: StepCallback,
) -> None:
    if reply.code in (250, 251):
        accepted.append(recipient)
        done("rcpt", f"{recipient}: {reply.code} {reply.text}")
        return
    refusal = aiosmtplib.SMTPRecipientRefused(reply.code, reply.text, recipient)
    if reply.code == 421:
        raise refusal  # the server is closing: the whole transaction is off
    refusals.append(refusal)


async def _login(smtp: aiosmtplib.SMTP, settings: SmtpSettings, context: ClassifyContext) -> str:
    """AUTH PLAIN, else LOGIN; both encode UTF-8 (aiosmtplib ``auth._ensure_bytes``)."""
    if not smtp.supports_extension("auth"):
        encrypted = smtp.get_transport_info("sslcontext") is not None
        if not encrypted:
            raise delivery_error(
                "tls_required",
                detail="the server offers login (AUTH) only over an encrypted connection",
                step="auth",
            )
        raise delivery_error("auth_unsupported", detail="the server offers no AUTH", step="auth")
    offered = smtp.server_auth_methods
    mechanisms = [m for m in ("plain", "login") if m in offered]
    if not mechanisms:
        raise delivery_error(
            "auth_unsupported",
            detail="the server offers only " + (" ".join(offered).upper() or "no mechanism"),
            step="auth",
        )
    username = settings.username or ""
    password = settings.password.reveal() if settings.password is not None else ""
    for mechanism in mechanisms:
        try:
            if mechanism == "plain":
                await smtp.auth_plain(username, password)
            else:
                await smtp.auth_login(username, password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Only "mechanism not supported" moves on to the next mechanism; a wrong password is
            # not tried twice (that only helps the server's brute-force counter lock the account).
            if exc.code == 504 and mechanism != mechanisms[-1]:
                continue
            raise classify_reply("auth", exc.code, exc.message, context=context) from None
        return mechanism.upper()
    raise AssertionError("unreachable")  # pragma: no cover


async def _reset_or_close(connection: SmtpConnection) -> None:
    """After a refused transaction, RSET so the connection can serve the next message.

    A pipelined group may still owe replies (RCPT and DATA after a refused MAIL): they are read
    first. A ``354`` among them means the server waits for a body; such a connection is closed.
    """
    channel = connection.channel
    try:
        if channel.owed:
            await channel.wait(channel.owed)
            while channel.owed:
                if channel.next_reply().code == 354:
                    connection.close()
                    return
        if (await channel.command(b"RSET\r\n")).code != 250:
            connection.close()
    except _FOREIGN:
        connection.close()


@contextlib.contextmanager
def _translated(step: _Step, context: ClassifyContext) -> Iterator[None]:
    """The one place where foreign exceptions become :class:`DeliveryError` (httpx-style)."""
    try:
        yield
    except DeliveryError:
        raise
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise classify_exception("rcpt", exc, context=context) from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise classify_exception("mail", exc, context=context) from exc
    except aiosmtplib.SMTPRecipientRefused as exc:
        raise classify_exception("rcpt", exc, context=context) from exc
    except (*_FOREIGN, ValueError) as exc:
        raise classify_exception(step.phase, exc, context=context) from exc


def _check_envelope(envelope: Envelope) -> None:
    if not envelope.recipients:
        raise delivery_error("invalid_envelope", detail="no recipients")
    for address in (envelope.sender, *envelope.recipients):
        if _BAD_ADDRESS_CHARS.search(address):
            raise delivery_error("invalid_envelope", detail=f"{address!r} contains spaces, controls or <>")
    for address in envelope.recipients:
        if "@" not in address:
            raise delivery_error("invalid_envelope", detail=f"{address!r} has no @domain")


def _envelope_is_ascii(envelope: Envelope) -> bool:
    return envelope.sender.isascii() and all(r.isascii() for r in envelope.recipients)


def _wire_body(data: bytes) -> tuple[bytes, int]:
    """The message as DATA sends it (CRLF line endings, a final CRLF, dots stuffed, then ``.CRLF``),
    and its size for ``SIZE=`` (the normalised message before dot-stuffing, as before)."""
    # Messages from mailcard's MIME builder already use CRLF only: skip the rewrite for them. "As
    # many LF as CR, and every CR followed by LF" is the same test as "as many CRLF as CR and as LF";
    # single-byte counts and the searches below are C-level scans several times faster than
    # bytes.count/in with a two-byte needle, and this runs for every message the worker sends.
    if data.count(b"\n") != data.count(b"\r") or _BARE_CR.search(data) is not None:
        data = _LINE_ENDINGS.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    size = len(data)
    if data.startswith(b".") or _DOT_AFTER_NEWLINE.search(data) is not None:
        data = _LEADING_DOT.sub(b".", data)
    return data + b".\r\n", size


def _tls_description(smtp: aiosmtplib.SMTP) -> str:
    ssl_object = smtp.get_transport_info("ssl_object")
    if isinstance(ssl_object, ssl.SSLObject):
        cipher = ssl_object.cipher()
        return f"{ssl_object.version()} {cipher[0] if cipher else ''}".strip()
    return "encrypted"


_FQDN: str | None = None


async def _local_hostname() -> str:
    """The EHLO name: this machine's FQDN, looked up once (getfqdn can take seconds)."""
    global _FQDN
    if _FQDN is None:
        name = await asyncio.to_thread(socket.getfqdn)
        ok = name and name.isascii() and not any(c.isspace() or ord(c) < 33 for c in name)
        _FQDN = name if ok else "localhost"
    return _FQDN
