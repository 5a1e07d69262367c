"""What templates see of a CRM customer: ``customer``, their ``manager`` and their ``store``.

The same on the card and in mailings, so a template made for the "Customer" event renders alike in
both. Owns only the shape of that data; the lookups go through the stores given.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from sqlalchemy import Connection

from mailcard.crm.customers import Customer
from mailcard.errors import NotFoundError

__all__ = ["TEMPLATE_KEYS", "customer_template_data", "manager_context"]

# The keys this module fills; a caller's extra data cannot replace them.
TEMPLATE_KEYS = ("customer", "manager", "store")


class _ById(Protocol):
    def get(self, row_id: int, /, *, conn: Connection | None = None) -> Any: ...


def manager_context(user_id: int, name: str, email: str) -> dict[str, Any]:
    """The ``manager`` variable: a user, with the name split as CRMs split it."""
    first, _, last = name.partition(" ")
    return {"id": user_id, "name": name, "firstName": first, "lastName": last, "email": email}


def customer_template_data(
    customer: Customer,
    *,
    users: _ById,
    stores: _ById,
    conn: Connection | None = None,
    manager: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``customer``, ``manager`` and ``store`` (``None`` when the customer has none, or it is gone).

    ``manager``: the customer's manager as the caller already knows them (the card sending as them),
    saving the lookup.
    """
    data: dict[str, Any] = {"customer": customer.to_context(), "manager": None, "store": None}
    if customer.manager_id is not None:
        if manager is None:
            with contextlib.suppress(NotFoundError):
                user = users.get(customer.manager_id, conn=conn)
                manager = manager_context(user.id, user.name, user.email)
        data["manager"] = manager
    if customer.store_id is not None:
        with contextlib.suppress(NotFoundError):
            data["store"] = stores.get(customer.store_id, conn=conn).to_context()
    return data
