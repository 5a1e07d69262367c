"""Who may do what: the authorization rules of the customer card, in one place.

Admins may do everything. A manager works with the customers assigned to them or registered in one
of their stores, sends only as themselves, as one of their stores or from an additional address they
were granted, and reads (never changes) settings, stores and templates. Every router asks here;
none decides on its own, so the authorization matrix test covers the whole API.
"""

from __future__ import annotations

from mailcard.errors import NotFoundError, PermissionDeniedError
from mailcard.identity import Principal


def customer_visible(principal: Principal, manager_id: int | None, store_id: int | None) -> bool:
    if principal.is_admin:
        return True
    return manager_id == principal.user_id or (store_id is not None and store_id in principal.store_ids)


def check_customer_visible(
    principal: Principal, customer_id: int, manager_id: int | None, store_id: int | None
) -> None:
    # A customer a manager may not see is answered as missing, so ids cannot be probed.
    if not customer_visible(principal, manager_id, store_id):
        raise NotFoundError(f"No customer with id {customer_id}.", code="customer_not_found")


def check_customer_assignment(principal: Principal, manager_id: int | None, store_id: int | None) -> None:
    """A manager may create or edit customers only as theirs or their stores'."""
    if principal.is_admin:
        return
    if manager_id not in (None, principal.user_id):
        raise PermissionDeniedError(
            "Managers may assign customers only to themselves.", code="not_your_customer"
        )
    if store_id is not None and store_id not in principal.store_ids:
        raise PermissionDeniedError("You do not work in that store.", code="not_your_store")
    if manager_id is None and store_id is None:
        raise PermissionDeniedError(
            "A customer you create must be assigned to you or to one of your stores.",
            code="not_your_customer",
        )


def check_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise PermissionDeniedError(f"Only administrators may {what}.", code="admin_only")


def check_store_sender(principal: Principal, store_id: int) -> None:
    if not principal.is_admin and store_id not in principal.store_ids:
        raise PermissionDeniedError(
            "You may send as a store only if you work in it.", code="sender_not_allowed"
        )


def check_self_sender(principal: Principal, manager_id: int | None) -> None:
    """'The customer's manager' as From: a manager may send only as themselves."""
    if not principal.is_admin and manager_id != principal.user_id:
        raise PermissionDeniedError(
            "You may send as the customer's manager only if that is you.", code="sender_not_allowed"
        )
