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

__all__ = ["QUICK", "emit", "reference_rate", "smtp_source", "start_smtp_sink", "two_kb_message"]

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
