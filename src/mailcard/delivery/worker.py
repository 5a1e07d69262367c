"""The delivery worker: claims outbox messages, sends them, writes the outcome back.

It knows nothing of templates, customers or flows. One worker process runs one asyncio loop:

* a claim loop leases batches of due messages (several workers, on one machine or many, share the
  outbox safely: see :mod:`mailcard.outbox.sql`);
* each message is sent in its own task, bounded by the worker's concurrency, the account's connection
  limit and the account's rate limit;
* outcomes are written back in batches (one transaction per flush) and leases of messages still in
  flight are renewed, so a slow server never lets another worker take a message that is being sent;
* a graceful stop finishes what is in flight, writes it back and returns unstarted messages.

Database calls are synchronous SQLAlchemy run in one helper thread, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from mailcard.db.thread import DatabaseThread
from mailcard.delivery.accounts import AccountResolver, ResolvedAccount
from mailcard.delivery.ratelimit import RateLimiter
from mailcard.delivery.transport import Envelope, Transport
from mailcard.errors import ConfigurationError, DeliveryError
from mailcard.eventloop import wait_or_timeout
from mailcard.outbox.model import Attempt, ClaimedMessage, MessageStatus, Settlement
from mailcard.outbox.retry import GiveUp, RetryPolicy, decide_retry
from mailcard.outbox.store import OutboxStore

log = logging.getLogger("mailcard.worker")
T = TypeVar("T")
_ACCOUNT_CACHE_SECONDS = 30.0  # a resolved account (settings, limits) is asked for again after this


def utcnow() -> datetime:
    return datetime.now(UTC)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 8
    batch_size: int = 64
    lease_seconds: float = 120.0
    poll_seconds: float = 0.5
    flush_seconds: float = 0.05
    config_error_delay_seconds: float = 60.0


class DeliveryWorker:
    def __init__(
        self,
        store: OutboxStore,
        transport: Transport,
        accounts: AccountResolver,
        *,
        policy: RetryPolicy = RetryPolicy(),
        options: WorkerOptions = WorkerOptions(),
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._transport = transport
        self._accounts = accounts
        self._policy = policy
        self._options = options
        self.worker_id = worker_id or default_worker_id()
        self._clock = clock
        self._db = DatabaseThread("mailcard-db")
        self._account_slots: dict[str, asyncio.Semaphore] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._resolved: dict[int | None, tuple[float, ResolvedAccount]] = {}
        self._in_flight: set[str] = set()
        self._pending: list[Settlement] = []
        self._postponed: list[tuple[str, str]] = []
        self._flushed = asyncio.Event()
        # Claim when at least this many slots are free (half the concurrency, at most a batch).
        self._refill = max(1, min(options.batch_size, options.concurrency // 2))
        self._room = asyncio.Event()
        # Set by wake(): something was queued in this process, so claim now rather than at the next poll.
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0
        self.failed = 0
        self.retried = 0

    # -- running -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, only_ids: Sequence[str] | None = None) -> None:
        """Deliver until ``stop`` is set; with ``only_ids``, until those messages are settled or waiting."""
        self._loop = asyncio.get_running_loop()
        if only_ids is None:
            # A long-running worker: what exists now (modules, settings, the engine) lives as long as
            # the process. Frozen, it is left out of the full collections that the per-message
            # garbage triggers every few thousand messages (each one scanned it all: ~8 µs a message
            # against smtp-sink).
            gc.freeze()
        flusher = asyncio.create_task(self._flush_loop(stop))
        renewer = asyncio.create_task(self._renew_loop(stop))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                free = self._options.concurrency - len(self._in_flight)
                batch: list[ClaimedMessage] = []
                if free >= self._refill or not self._in_flight:
                    # Cleared before the claim: a wake-up after this point is seen by the next wait.
                    self._wake.clear()
                    try:
                        batch = await self._settle_and_claim(min(free, self._options.batch_size), only_ids)
                    except Exception:
                        if only_ids is not None:
                            raise  # a one-off run (the CLI) reports it
                        # The database is unavailable for now (locked past the busy timeout, the
                        # server restarting): the outcomes in hand are kept; try again shortly.
                        log.exception("could not claim messages or record outcomes; will try again")
                        await wait_or_timeout(stop, self._options.poll_seconds)
                        continue
                for message in batch:
                    self._in_flight.add(message.id)
                    task = asyncio.create_task(self._deliver(message))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if only_ids is not None and not batch and not self._in_flight:
                    break
                if batch:
                    await asyncio.sleep(0)
                elif free >= self._refill or not self._in_flight:
                    await _wait_any(stop, self._wake, self._options.poll_seconds)  # nothing due
                else:
                    # Busy: claim again when a refill's worth of slots is free, not for every
                    # finished message. A claim is one write transaction whose fixed cost (about
                    # 2 ms of CPU on SQLite) dwarfs its per-row cost, so claiming one or two messages
                    # at a time made the database thread the bottleneck.
                    self._room.clear()
                    await wait_or_timeout(self._room, self._options.poll_seconds)
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            stop.set()
            await asyncio.gather(flusher, renewer, return_exceptions=True)
            await self._flush()

    async def run_once(self, ids: Sequence[str]) -> None:
        """Attempt the given messages that are due, once each (the CLI's in-process delivery)."""
        await self.run(asyncio.Event(), only_ids=list(ids))

    def wake(self) -> None:
        """Mail was just queued: look for due messages now instead of at the next poll.

        Safe to call from any thread (an API request's); a no-op while the worker is not running. A
        message queued by another process is still found by polling (``poll_seconds``).
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def aclose(self) -> None:
        await self._transport.aclose()
        self._db.shutdown()

    # -- one message ---------------------------------------------------------------------------------

    async def _deliver(self, message: ClaimedMessage) -> None:
        started = self._clock()
        try:
            # The cached account without an await (the usual case); else ask the database.
            account = self._cached_account(message.smtp_account_id)
            if account is None:
                try:
                    account = await self._account(message.smtp_account_id)
                except ConfigurationError as exc:
                    # A broken set-up is not this message's fault: keep it waiting, say so loudly.
                    log.error("cannot deliver %s: %s", message.id, exc)
                    self._postponed.append((message.id, str(exc)))
                    return
            # No worker-wide semaphore here: the claim loop never has more than ``concurrency``
            # messages in flight, so such a semaphore could never make a message wait.
            async with self._account_slot(account):
                limiter = self._limiter(account)
                if not limiter.unlimited:
                    await limiter.acquire()
                settlement = await self._attempt(message, account, started)
            self._pending.append(settlement)
        except Exception:  # a bug must not lose the message: record it and let the policy retry
            log.exception("unexpected error delivering %s", message.id)
            error = DeliveryError(
                "Internal error while sending; see the worker log.", reason="internal_error", transient=True
            )
            self._pending.append(self._failure(message, started, error))
        finally:
            self._in_flight.discard(message.id)
            if self._options.concurrency - len(self._in_flight) >= self._refill:
                self._room.set()
        if len(self._pending) >= self._options.batch_size:
            await self._flush()

    async def _attempt(
        self, message: ClaimedMessage, account: ResolvedAccount, started: datetime
    ) -> Settlement:
        envelope = Envelope(
            sender=message.envelope_from, recipients=message.envelope_to, smtputf8=message.smtputf8
        )
        try:
            result = await self._transport.send(account.settings, envelope, message.data)
        except DeliveryError as error:
            return self._failure(message, started, error)
        self.sent += 1
        attempt = Attempt(
            message_id=message.id,
            number=message.attempt_number,
            worker=self.worker_id,
            started_at=started,
            finished_at=self._clock(),
            outcome="sent",
            smtp_code=result.smtp_code,
            server_text=result.server_text,
            refused={addr: list(reply) for addr, reply in result.refused.items()} or None,
        )
        return Settlement(attempt=attempt, status=MessageStatus.SENT, error="")

    def _failure(self, message: ClaimedMessage, started: datetime, error: DeliveryError) -> Settlement:
        now = self._clock()
        attempt = Attempt(
            message_id=message.id,
            number=message.attempt_number,
            worker=self.worker_id,
            started_at=started,
            finished_at=now,
            outcome="transient" if error.transient else "permanent",
            reason=error.reason,
            smtp_code=error.smtp_code,
            enhanced_code=error.enhanced_code,
            server_text=error.server_text,
        )
        decision = decide_retry(
            self._policy_for(message),
            attempt_number=message.attempt_number,
            transient=error.transient,
            queued_at=message.created_at,
            now=now,
        )
        text = error.message if error.hint is None else f"{error.message} {error.hint}"
        if isinstance(decision, GiveUp):
            self.failed += 1
            if decision.why != "permanent":
                text = f"{text} (gave up: {decision.why.replace('_', ' ')})"
            return Settlement(attempt=attempt, status=MessageStatus.FAILED, error=text)
        self.retried += 1
        return Settlement(
            attempt=attempt, status=MessageStatus.RETRY, next_attempt_at=decision.at, error=text
        )

    def _policy_for(self, message: ClaimedMessage) -> RetryPolicy:
        """The message's own attempts and backoff (a flow block's retry setting) override the worker's."""
        if message.retry_max_attempts is None and message.retry_base_seconds is None:
            return self._policy
        return replace(
            self._policy,
            max_attempts=message.retry_max_attempts or self._policy.max_attempts,
            base_delay_seconds=(
                message.retry_base_seconds
                if message.retry_base_seconds is not None
                else self._policy.base_delay_seconds
            ),
        )

    # -- accounts ------------------------------------------------------------------------------------

    def _cached_account(self, account_id: int | None) -> ResolvedAccount | None:
        """The account resolved less than ``_ACCOUNT_CACHE_SECONDS`` ago, if any."""
        cached = self._resolved.get(account_id)
        if cached is None or asyncio.get_running_loop().time() - cached[0] >= _ACCOUNT_CACHE_SECONDS:
            return None
        return cached[1]

    async def _account(self, account_id: int | None) -> ResolvedAccount:
        """The account resolved from the database (and cached)."""
        account = await self._db.call(self._accounts.resolve, account_id)
        self._resolved[account_id] = (asyncio.get_running_loop().time(), account)
        return account

    def _account_slot(self, account: ResolvedAccount) -> asyncio.Semaphore:
        slot = self._account_slots.get(account.key)
        if slot is None:
            connections = max(1, account.limits.max_connections)
            if self._limiter(account).unlimited:
                # One message sending and one waiting per connection: the waiting one goes out with
                # the previous one's body (SmtpTransport pipelines across messages). With a rate
                # limit, a message enters only when it may go.
                connections *= 2
            slot = self._account_slots[account.key] = asyncio.Semaphore(connections)
        return slot

    def _limiter(self, account: ResolvedAccount) -> RateLimiter:
        limiter = self._limiters.get(account.key)
        if limiter is None:
            limits = account.limits
            limiter = self._limiters[account.key] = RateLimiter(
                per_second=limits.per_second,
                window_limit=limits.window_limit,
                window_seconds=limits.window_seconds,
            )
        return limiter

    # -- writing back --------------------------------------------------------------------------------

    async def _settle_and_claim(self, limit: int, only_ids: Sequence[str] | None) -> list[ClaimedMessage]:
        """Lease the next messages, recording the outcomes in hand in the same transaction: while
        busy, a worker then pays one commit (and, on SQLite, one turn of the write lock) per batch
        instead of two."""
        _, batch = await self._write_outcomes(
            lambda settled: self._store.settle_and_claim(
                self.worker_id,
                settled,
                limit=limit,
                lease_seconds=self._options.lease_seconds,
                now=self._clock(),
                ids=only_ids,
            )
        )
        return batch

    async def _write_outcomes(self, write: Callable[[list[Settlement]], T]) -> T:
        """``write(outcomes in hand)`` in the database thread. When it fails (rolled back), the
        outcomes are kept for the next flush or claim: the messages went out, and losing their
        outcomes would send them again after the lease. A cancelled await is not caught: the call
        still runs to its commit in the thread."""
        settled, self._pending = self._pending, []
        try:
            return await self._db.call(write, settled)
        except Exception:
            self._pending = settled + self._pending  # their leases are still renewed meanwhile
            raise

    async def _flush(self) -> None:
        if self._postponed:
            postponed, self._postponed = self._postponed, []
            now = self._clock()
            for message_id, error in postponed:
                await self._db.call(
                    self._store.release,
                    self.worker_id,
                    [message_id],
                    now=now,
                    not_before=now + timedelta(seconds=self._options.config_error_delay_seconds),
                    error=error,
                )
        if self._pending:
            count = len(self._pending)
            try:
                await self._write_outcomes(
                    lambda settled: self._store.settle(self.worker_id, settled, now=self._clock())
                )
            except Exception:
                log.exception("could not record %d delivery outcomes; will try again", count)

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await wait_or_timeout(stop, self._options.flush_seconds)
            await self._flush()

    async def _renew_loop(self, stop: asyncio.Event) -> None:
        interval = max(0.05, self._options.lease_seconds / 3)
        while not stop.is_set():
            await wait_or_timeout(stop, interval)
            held = self._in_flight | {s.attempt.message_id for s in self._pending}
            if held:
                await self._db.call(
                    self._store.renew,
                    self.worker_id,
                    list(held),
                    lease_seconds=self._options.lease_seconds,
                    now=self._clock(),
                )


async def _wait_any(first: asyncio.Event, second: asyncio.Event, seconds: float) -> None:
    """Until either event is set, or ``seconds`` pass."""
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
