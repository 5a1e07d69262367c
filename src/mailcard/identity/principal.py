"""The authenticated caller of one request: which user, which role, how they proved it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"


@dataclass(frozen=True)
class Principal:
    user_id: int
    login: str
    role: Role
    store_ids: frozenset[int]
    # "session" (a browser: unsafe methods need the CSRF token) or "token" (an integration).
    via: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
