"""The customer an event is about, as templates see it (``customer.firstName`` ...).

Events name a customer by id or external id; :class:`~mailcard.crm.customers.CustomerStore` owns the
customers and their template shape (``Customer.to_context()``); flows add ``managerId`` and ``storeId``.
"""

from __future__ import annotations

from typing import Any

from mailcard.crm.customers import Customer, CustomerStore
from mailcard.errors import NotFoundError

__all__ = ["customer_context", "find_customer"]


def find_customer(store: CustomerStore, customer_id: int | str) -> Customer | None:
    """The customer with this id or, failing that, this external id."""
    key = str(customer_id)
    found: Customer | None = None
    if key.isdigit():
        try:
            found = store.get(int(key))
        except NotFoundError:
            found = None
    return found if found is not None else store.by_external_id(key)


def customer_context(store: CustomerStore, customer_id: int | str) -> dict[str, Any] | None:
    """The customer with this id (or, failing that, external id) as template data, or None."""
    found = find_customer(store, customer_id)
    if found is None:
        return None
    # The manager and store too: a notify_agent block may give the task to the customer's manager.
    return found.to_context() | {"managerId": found.manager_id, "storeId": found.store_id}
