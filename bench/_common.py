"""Shared by the benchmarks: the smtp-sink/smtp-source reference and JSON output.

Benchmarks print one JSON line per scenario and never pass or fail on time. The reference for every
delivery-shaped scenario is Postfix's ``smtp-source`` → ``smtp-sink`` measured in the same run with the
same message size: the physical limit of SMTP on this machine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postfix_tools import smtp_source, start_smtp_sink  # noqa: E402

__all__ = [
    "QUICK",
    "emit",
    "reference_rate",
    "sink_worker",
    "smtp_source",
    "start_smtp_sink",
    "two_kb_message",
]

MESSAGE_SIZE = 2048
QUICK = os.environ.get("MAILCARD_BENCH_QUICK") == "1"


def reference_rate(*, messages: int, sessions: int = 4, message_size: int = MESSAGE_SIZE) -> float:
    """smtp-source → smtp-sink, connections reused, in messages per second (median of three runs)."""
    sink = start_smtp_sink()
    try:
        smtp_source(
            sink.port, messages=min(200, messages), sessions=sessions, message_size=message_size
        )  # warm-up
        rates = sorted(
            smtp_source(
                sink.port,
                messages=messages,
                sessions=sessions,
                message_size=message_size,
                reuse_connection=True,
            ).rate
            for _ in range(3)
        )
        return rates[1]
    finally:
        sink.stop()


def emit(scenario: str, msgs_per_s: float, reference_msgs_per_s: float, **extra: Any) -> None:
    line = {
        "scenario": scenario,
        "msgs_per_s": round(msgs_per_s, 1),
        "reference": "smtp-source -> smtp-sink",
        "reference_msgs_per_s": round(reference_msgs_per_s, 1),
        "ratio": round(msgs_per_s / reference_msgs_per_s, 3) if reference_msgs_per_s else None,
    }
    line.update(extra)
    print(json.dumps(line), flush=True)


def two_kb_message(n: int) -> bytes:
    head = (
        f"From: Shop <shop@example.com>\r\nTo: customer{n}@example.com\r\nSubject: Order {n}\r\n"
        f"Message-ID: <{n}@bench.mailcard>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Thank you for your order. It will be shipped tomorrow morning by courier.\r\n"
    body = line * ((MESSAGE_SIZE - len(head)) // len(line) + 1)
    return head + body[: MESSAGE_SIZE - len(head) - 2] + b"\r\n"


def sink_worker(store: Any, sink_port: int, connections: int) -> Any:
    """A delivery worker sending everything to smtp-sink over ``connections`` pooled connections."""
    from mailcard.delivery.accounts import AccountLimits, ResolvedAccount, StaticAccountResolver
    from mailcard.delivery.settings import SmtpSettings
    from mailcard.delivery.smtp import SmtpTransport
    from mailcard.delivery.worker import DeliveryWorker, WorkerOptions

    account = ResolvedAccount(
        key="sink",
        settings=SmtpSettings(
            host="127.0.0.1", port=sink_port, security="none", username=None, password=None
        ),
        limits=AccountLimits(max_connections=connections),
    )
    return DeliveryWorker(
        store,
        SmtpTransport(max_connections_per_account=connections, max_messages_per_connection=10_000),
        StaticAccountResolver(account),
        options=WorkerOptions(concurrency=connections * 4, batch_size=256, poll_seconds=0.01),
    )
