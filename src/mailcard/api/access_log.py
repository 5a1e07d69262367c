"""Access-log hygiene: request lines are logged without their query strings.

Query strings can carry secrets (the sender-confirmation link's token) and personal data (a customer
search), and the access log is read by more people than the database. The path and status are
what an operator needs.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
# uvicorn's access record: (client address, method, path with query, HTTP version, status).
_PATH_ARG = 2


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str) and "?" in path:
                record.args = (*args[:_PATH_ARG], path.split("?", 1)[0] + "?…", *args[_PATH_ARG + 1 :])
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger (call after uvicorn has configured logging)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
