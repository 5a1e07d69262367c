"""Response models shared by several routers (each router keeps its own request models)."""

from __future__ import annotations

from pydantic import BaseModel


class UserOut(BaseModel):
    id: int
    login: str
    name: str
    email: str
    role: str
    is_active: bool
    sender_confirmed: bool
    sender_confirmed_at: str | None
    sender_allowed: bool
    store_ids: list[int]
    created_at: str
