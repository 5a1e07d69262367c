"""Users (managers and admins): admins manage everyone; a user may read and edit part of themselves."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, Page, Paging, RowId, id_path
from mailcard.api.schemas import UserOut
from mailcard.errors import PermissionDeniedError
from mailcard.identity import NewUser, Role, UserPatch

router = APIRouter(prefix="/api/users", tags=["users"])

# Ids stay inside what every database holds: a larger one is refused here, not by the driver.
UserId = Annotated[int, id_path("user")]


class UserIn(BaseModel):
    login: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    role: Literal["admin", "manager"] = "manager"
    password: str | None = Field(None, min_length=8, max_length=1024)
    store_ids: list[RowId] = Field(default_factory=list, max_length=1000)


class UserPatchIn(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, min_length=3, max_length=320)
    role: Literal["admin", "manager"] | None = None
    is_active: bool | None = None
    sender_allowed: bool | None = Field(
        None, description="Allow the (confirmed) address to be used as a sender. The user or an admin."
    )
    password: str | None = Field(None, min_length=8, max_length=1024)
    store_ids: list[RowId] | None = Field(None, max_length=1000)


# What a user may change about themselves without being an admin.
SELF_EDITABLE = frozenset({"name", "sender_allowed", "password"})


@router.get("", response_model=Page[UserOut])
def list_users(principal: AdminUser, container: ContainerDep, paging: Paging) -> Page[Any]:
    users, total = container.users.list(limit=paging.limit, offset=paging.offset)
    return Page.of([u.to_dict() for u in users], total, paging)


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    user = container.users.create(
        NewUser(
            login=body.login,
            name=body.name,
            email=body.email,
            role=Role(body.role),
            password=body.password,
            store_ids=tuple(body.store_ids),
        )
    )
    return user.to_dict()


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: UserId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    if not principal.is_admin and principal.user_id != user_id:
        raise PermissionDeniedError("You may only see your own user.", code="not_your_user")
    return container.users.get(user_id).to_dict()


@router.patch("/{user_id}", response_model=UserOut)
def update_user(
    user_id: UserId, body: UserPatchIn, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if not principal.is_admin:
        if principal.user_id != user_id:
            raise PermissionDeniedError("You may only change your own user.", code="not_your_user")
        forbidden = sorted(set(changes) - SELF_EDITABLE)
        if forbidden:
            raise PermissionDeniedError(
                f"Only administrators may change: {', '.join(forbidden)}.", code="admin_only"
            )
    if body.sender_allowed and not container.users.get(user_id).sender_confirmed_at and body.email is None:
        # Allowing is meaningful only for a confirmed address; say so instead of storing a dead switch.
        from mailcard.senders.errors import sender_not_verified

        raise sender_not_verified("user", user_id)
    user = container.users.update(
        user_id,
        UserPatch(
            name=body.name,
            email=body.email,
            role=Role(body.role) if body.role else None,
            is_active=body.is_active,
            sender_allowed=body.sender_allowed,
            password=body.password,
            store_ids=tuple(body.store_ids) if body.store_ids is not None else None,
        ),
    )
    return user.to_dict()


@router.delete("/{user_id}", status_code=204)
def delete_user(user_id: UserId, principal: AdminUser, container: ContainerDep) -> None:
    if user_id == principal.user_id:
        raise PermissionDeniedError("You cannot delete yourself.", code="cannot_delete_self")
    container.users.delete(user_id)
