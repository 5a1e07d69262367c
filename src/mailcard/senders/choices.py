"""The From choices of a customer card, and the rule that only confirmed, allowed addresses send.

For a customer and the user at the card there are up to three kinds of From: the customer's manager
(their own address), the customer's store, and the additional addresses of the system mail
settings the user was granted. Each choice says whether it can send now and, if not, why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Connection

from mailcard.access import check_self_sender, check_store_sender
from mailcard.domain.mailbox import Mailbox
from mailcard.errors import InputError, NotFoundError, PermissionDeniedError
from mailcard.identity import Principal, UserStore
from mailcard.senders.addresses import SenderAddressStore
from mailcard.senders.errors import sender_not_verified

FromKind = Literal["manager", "store", "address"]


class CardCustomer(Protocol):
    id: int
    manager_id: int | None
    store_id: int | None


class StoreLookup(Protocol):
    def get(self, store_id: int, *, conn: Connection | None = None) -> Any: ...


@dataclass(frozen=True)
class SenderChoice:
    """One From the user may pick; ``usable`` is false until the address is confirmed (and allowed)."""

    kind: FromKind
    id: int
    email: str
    name: str | None
    usable: bool
    smtp_account_id: int | None
    # Why it cannot send yet: None, "not_confirmed" or "not_allowed".
    blocked_by: str | None = None

    @property
    def confirmation_kind(self) -> str:
        return "user" if self.kind == "manager" else self.kind

    @property
    def mailbox(self) -> Mailbox:
        return Mailbox(self.email, self.name or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "usable": self.usable,
            "blocked_by": self.blocked_by,
        }


class SenderChoices:
    def __init__(self, *, users: UserStore, stores: StoreLookup, addresses: SenderAddressStore) -> None:
        self._users = users
        self._stores = stores
        self._addresses = addresses

    def options(self, principal: Principal, customer: CardCustomer) -> list[SenderChoice]:
        """Every From this user may pick for this customer, usable or not."""
        found: list[SenderChoice] = []
        if customer.manager_id is not None and (
            principal.is_admin or customer.manager_id == principal.user_id
        ):
            found.append(self._manager(customer.manager_id))
        if customer.store_id is not None and (principal.is_admin or customer.store_id in principal.store_ids):
            store = self._store(customer.store_id)
            if store is not None:
                found.append(store)
        for address in self._addresses.list():
            if principal.is_admin or address.granted_to(principal.user_id):
                found.append(_address_choice(address))
        return found

    def resolve(
        self,
        principal: Principal,
        customer: CardCustomer,
        kind: str,
        address_id: int | None = None,
        *,
        require_usable: bool = True,
        conn: Connection | None = None,
    ) -> SenderChoice:
        """The chosen From, if this user may use it and (with ``require_usable``) it can send; otherwise a
        clear error. A preview passes ``require_usable=False`` to show a message from an unconfirmed address.

        ``conn``: the caller's open connection to read with (see :func:`mailcard.db.engine.reading`).
        """
        if kind == "manager":
            if customer.manager_id is None:
                raise InputError(
                    "The customer has no manager, so 'customer's manager' cannot be the sender.",
                    code="customer_has_no_manager",
                    hint="Choose the store or an additional address, or assign a manager.",
                )
            check_self_sender(principal, customer.manager_id)
            choice = self._manager(customer.manager_id, conn)
        elif kind == "store":
            if customer.store_id is None:
                raise InputError(
                    "The customer has no store, so 'customer's store' cannot be the sender.",
                    code="customer_has_no_store",
                )
            check_store_sender(principal, customer.store_id)
            store = self._store(customer.store_id, conn)
            if store is None:
                raise InputError("The customer's store has no sender address.", code="store_has_no_sender")
            choice = store
        elif kind == "address":
            if address_id is None:
                raise InputError("Say which additional address to send from.", code="sender_address_required")
            address = self._addresses.get(address_id, conn=conn)
            if not (principal.is_admin or address.granted_to(principal.user_id)):
                raise PermissionDeniedError(
                    "You are not allowed to send from this additional address.", code="sender_not_allowed"
                )
            choice = _address_choice(address)
        else:
            raise InputError(
                f"Unknown From choice {kind!r}: use manager, store or address.", code="invalid_sender_kind"
            )
        if require_usable and not choice.usable:
            raise sender_not_verified(choice.confirmation_kind, choice.id, email=choice.email)
        return choice

    def _manager(self, user_id: int, conn: Connection | None = None) -> SenderChoice:
        try:
            user = self._users.get(user_id, conn=conn)
        except NotFoundError:
            raise InputError(
                "The customer's manager no longer exists.", code="customer_has_no_manager"
            ) from None
        confirmed = user.sender_confirmed_at is not None
        return SenderChoice(
            kind="manager",
            id=user.id,
            email=user.email,
            name=user.name,
            usable=user.can_send_as_self and user.is_active,
            smtp_account_id=None,
            blocked_by=None
            if user.can_send_as_self
            else ("not_confirmed" if not confirmed else "not_allowed"),
        )

    def _store(self, store_id: int, conn: Connection | None = None) -> SenderChoice | None:
        store = self._stores.get(store_id, conn=conn)
        if not store.sender_email:
            return None
        confirmed = store.sender_confirmed_at is not None
        return SenderChoice(
            kind="store",
            id=store.id,
            email=store.sender_email,
            name=store.sender_name or store.name,
            usable=confirmed,
            smtp_account_id=store.smtp_account_id,
            blocked_by=None if confirmed else "not_confirmed",
        )


def _address_choice(address: Any) -> SenderChoice:
    confirmed = address.confirmed_at is not None
    return SenderChoice(
        kind="address",
        id=address.id,
        email=address.email,
        name=address.name,
        usable=confirmed,
        smtp_account_id=address.smtp_account_id,
        blocked_by=None if confirmed else "not_confirmed",
    )
