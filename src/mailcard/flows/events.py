"""The event types mailcard knows, and the template variables each gives a flow.

This module owns the catalogue of events (:data:`EVENT_SAMPLES`: example ``data`` per type) and the
shape of a run's template context (:func:`run_context`, :func:`sample_context`), so activation
checks templates against exactly the variables a run will have. Unknown event types are allowed; a
flow can describe their data with ``trigger.sample``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["EVENT_SAMPLES", "SAMPLE_CUSTOMER", "email_result", "run_context", "sample_context"]

SAMPLE_CUSTOMER: Final[Mapping[str, Any]] = {
    "id": 1,
    "externalId": "C-1",
    "email": "anna@example.com",
    "firstName": "Анна",
    "lastName": "Петрова",
    "patronymic": "",
    "locale": "ru",
    "phone": "+7 900 000-00-00",
    "customFields": {},
    "tags": [],
    "managerId": 1,
    "storeId": 1,
}

_ORDER: Final[Mapping[str, Any]] = {
    "order": {
        "id": 1042,
        "number": "1042A",
        "status": "new",
        "totalSumm": 2599.0,
        "currency": "RUB",
        "items": [{"offer": {"name": "Чайник"}, "quantity": 1, "initialPrice": 2599.0}],
        "delivery": {"date": "2026-11-25", "address": "Москва, ул. Ленина, 1"},
        "url": "https://shop.example.com/orders/1042A",
    }
}

EVENT_SAMPLES: Final[Mapping[str, Mapping[str, Any]]] = {
    "customer.created": {},
    "customer.updated": {},
    "order.created": _ORDER,
    "order.paid": _ORDER,
    "order.shipped": _ORDER,
    "order.delivered": _ORDER,
    "order.status_changed": _ORDER,
    "appointment.booked": {
        "appointment": {
            "id": 77,
            "date": "2026-11-25",
            "time": "14:30",
            "service": "Консультация",
            "location": "Москва, ул. Ленина, 1",
            "url": "https://shop.example.com/appointments/77",
        }
    },
    "appointment.cancelled": {"appointment": {"id": 77, "date": "2026-11-25", "time": "14:30"}},
}

# Names a run's context always has; event data keys with these names are reachable under ``data``.
RESERVED: Final = frozenset({"customer", "event", "data", "vars", "email", "flow"})


def email_result(
    status: str | None = None,
    *,
    outbox_id: str | None = None,
    message_id: str | None = None,
    reason: str | None = None,
    smtp_code: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """``email``: the outcome of the last send_email block (every key present, so templates may use it)."""
    return {
        "status": status,
        "outbox_id": outbox_id,
        "message_id": message_id,
        "error": {"reason": reason, "smtp_code": smtp_code, "message": message},
    }


def run_context(
    *,
    customer: Mapping[str, Any] | None,
    event: Mapping[str, Any],
    flow: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    email: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What templates see: the event's data at the top level (as CRM templates expect: ``order.number``)
    and under ``data``, plus ``customer``, ``event``, ``vars``, ``email`` and ``flow``."""
    data = dict(event.get("data") or {})
    context: dict[str, Any] = {k: v for k, v in data.items() if k not in RESERVED}
    context.update(
        {
            "customer": dict(customer or {}),
            "event": {"id": event.get("id"), "type": event.get("type"), "data": data},
            "data": data,
            "vars": dict(variables or {}),
            "email": dict(email or email_result()),
            "flow": dict(flow),
        }
    )
    return context


def sample_context(
    event_type: str, sample: Mapping[str, Any] | None, variables: Mapping[str, Any]
) -> dict[str, Any]:
    """A context shaped like a real run's, for strict template checks at activation."""
    data = dict(sample) if sample is not None else dict(EVENT_SAMPLES.get(event_type, {}))
    return run_context(
        customer=SAMPLE_CUSTOMER,
        event={"id": "evt-sample", "type": event_type, "data": data},
        flow={"id": "sample", "version": 1, "run_id": "run-sample"},
        variables=variables,
        email=email_result(
            "failed", outbox_id="0" * 32, message_id="<sample@mailcard>", reason="auth_failed",
            smtp_code=535, message="The SMTP server rejected the login",
        ),
    )  # fmt: skip
