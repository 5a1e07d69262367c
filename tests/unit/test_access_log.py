"""The access log never carries query strings (confirmation tokens, customer searches)."""

from __future__ import annotations

import logging

from mailcard.api.access_log import DropQueryStrings


def _record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_query_strings_are_dropped_and_the_path_kept() -> None:
    record = _record("/api/senders/confirm?token=mcc_secret-token-value")
    assert DropQueryStrings().filter(record)
    line = record.getMessage()
    assert "mcc_secret-token-value" not in line
    assert "/api/senders/confirm?…" in line and line.endswith(" 200")


def test_paths_without_query_are_untouched() -> None:
    record = _record("/api/customers/7/emails")
    DropQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/customers/7/emails HTTP/1.1" 200'
